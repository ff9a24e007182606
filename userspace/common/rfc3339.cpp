#include "common/rfc3339.h"

#include <climits>

namespace rein {
namespace {

constexpr int64_t kNsPerSec = 1'000'000'000;

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

}  // namespace

bool fixed_digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// H. Hinnant's days_from_civil.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

std::optional<int64_t> parse_rfc3339_ns(std::string_view s, Rfc3339Options o) {
  int y, mo, d, h, mi, sec = 0;
  if (!fixed_digits(s, 0, 4, &y) || s.size() < 16 || s[4] != '-' || !fixed_digits(s, 5, 2, &mo) ||
      s[7] != '-' || !fixed_digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !fixed_digits(s, 11, 2, &h) || s[13] != ':' || !fixed_digits(s, 14, 2, &mi))
    return std::nullopt;
  size_t pos = 16;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!fixed_digits(s, pos + 1, 2, &sec)) return std::nullopt;
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int n = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (n < 9) frac = frac * 10 + (s[pos] - '0'), ++n;
        ++pos;
      }
      if (n == 0) return std::nullopt;
      for (; n < 9; ++n) frac *= 10;
    }
  } else if (!o.seconds_optional) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!fixed_digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !fixed_digits(s, pos + 4, 2, &om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else if (!o.zone_optional) {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t secs =
      days_from_civil(y, unsigned(mo), unsigned(d)) * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  if (secs >= INT64_MAX / kNsPerSec) return INT64_MAX;
  if (secs <= INT64_MIN / kNsPerSec) return INT64_MIN;
  return secs * kNsPerSec + frac;
}

}  // namespace rein
