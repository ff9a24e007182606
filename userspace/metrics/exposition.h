// Prometheus text exposition format 0.0.4: escaping and number formatting. Kept apart from
// the registry so the rules of the format are tested on their own.
#pragma once
#include <string>
#include <string_view>

namespace rein::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Longest label value kept; longer ones are cut at a UTF-8 boundary (a model or rule name
// has no business being longer, and each byte is repeated in every scrape).
inline constexpr size_t kMaxLabelValueBytes = 128;

// Label value inside double quotes: backslash, double quote and line feed are escaped.
void append_label_value(std::string& out, std::string_view v);
// # HELP text: backslash and line feed are escaped.
void append_help(std::string& out, std::string_view v);
// Sample value: shortest text that reads back to the same double; +Inf, -Inf, NaN.
void append_value(std::string& out, double v);
// Valid UTF-8 (invalid bytes become U+FFFD), at most kMaxLabelValueBytes.
std::string clean_label_value(std::string_view v);
// [a-zA-Z_:][a-zA-Z0-9_:]* (label names: no colon).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace rein::metrics
