// Durations in policy files: a positive decimal count and one unit, "90s", "5m", "24h",
// "7d". No fractions, signs, spaces or compound forms ("1h30m" is "90m"), so every value
// reads one way only.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rein::policy {

// Longest duration accepted at all (callers apply their own, tighter ranges).
inline constexpr std::chrono::seconds kMaxDuration{3650LL * 24 * 3600};

Result<std::chrono::seconds> parse_duration(std::string_view text);

// Largest whole unit: 5400s -> "90m", 86400s -> "1d", 0 -> "0s".
std::string format_duration(std::chrono::seconds d);

}  // namespace rein::policy
