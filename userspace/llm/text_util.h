// Small ASCII string helpers shared by the LLM stage (no locale, no allocation surprises).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rein::llm {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// Into a caller's kept buffer, for hot paths where a new string per call is an allocation.
inline void to_lower_into(std::string_view s, std::string& out) {
  out.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) out[i] = ascii_lower(s[i]);
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
inline bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Percent-decoding for URL path segments (Bedrock model ids carry %3A). Invalid escapes
// are kept literally. Output is never longer than the input.
std::string percent_decode(std::string_view s);

// Truncate to at most max_bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view s, size_t max_bytes);

// Strict decimal/float parse of a header value; nullopt for junk, NaN, inf or negatives.
std::optional<double> parse_non_negative_double(std::string_view s);

}  // namespace rein::llm
