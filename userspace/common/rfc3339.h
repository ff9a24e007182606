// RFC 3339 times as nanoseconds since the epoch: the one parser behind `--from/--to`,
// `rein usage --since`, the report's event times and the ledger, so they agree on what a
// time is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rein {

struct Rfc3339Options {
  bool seconds_optional = false;  // also HH:MM (command-line bounds)
  bool zone_optional = false;     // no zone: UTC (command-line bounds)
};

// YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+hh:mm|-hh:mm). Days are checked against their
// month. Times outside int64 nanoseconds (before 1677, after 2262) saturate to
// INT64_MIN/INT64_MAX. Nullopt: not such a time.
std::optional<int64_t> parse_rfc3339_ns(std::string_view text, Rfc3339Options options = {});

// Days since 1970-01-01 of a proleptic Gregorian date: no time zone database, no timegm().
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
int days_in_month(int year, int month);
// The n decimal digits at text[pos..pos+n) as a number; false if any is not a digit or the
// text is too short.
bool fixed_digits(std::string_view text, size_t pos, size_t n, int* out);

}  // namespace rein
