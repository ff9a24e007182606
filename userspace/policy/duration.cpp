#include "policy/duration.h"

#include <fmt/format.h>

namespace rein::policy {

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.empty()) return make_error("empty duration");
  if (text.size() > 16) return make_error("duration too long");
  const char unit = text.back();
  int64_t scale = 0;
  switch (unit) {
    case 's': scale = 1; break;
    case 'm': scale = 60; break;
    case 'h': scale = 3600; break;
    case 'd': scale = 86400; break;
    default:
      return make_error(fmt::format("'{}' needs a unit: s, m, h or d (e.g. 90s, 5m, 24h, 7d)", text));
  }
  std::string_view digits = text.substr(0, text.size() - 1);
  if (digits.empty()) return make_error(fmt::format("'{}' has no number before the unit", text));
  int64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return make_error(fmt::format("'{}' is not a whole number followed by s, m, h or d", text));
    n = n * 10 + (c - '0');
    if (n * scale > kMaxDuration.count())
      return make_error(fmt::format("'{}' is longer than {} days", text, kMaxDuration.count() / 86400));
  }
  return std::chrono::seconds(n * scale);
}

std::string format_duration(std::chrono::seconds d) {
  const int64_t s = d.count();
  if (s != 0 && s % 86400 == 0) return fmt::format("{}d", s / 86400);
  if (s != 0 && s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s != 0 && s % 60 == 0) return fmt::format("{}m", s / 60);
  return fmt::format("{}s", s);
}

}  // namespace rein::policy
