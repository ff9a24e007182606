// Showback from the usage ledger (`rein usage`): calls, tokens, dollars and errors per
// agent, model, provider, API key, pod or day, as an aligned table, JSON or CSV.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rein::ledger {

enum class GroupBy { kAgent, kModel, kProvider, kKey, kPod, kDay };

Result<GroupBy> parse_group_by(std::string_view name);
const char* group_by_name(GroupBy by);

// --since/--until: a duration back from now ("30m", "24h", "7d", "2w"), a date
// ("2026-11-01", midnight UTC) or an RFC 3339 time. Epoch nanoseconds.
Result<int64_t> parse_time_bound(std::string_view text, int64_t now_ns);

struct UsageQuery {
  GroupBy by = GroupBy::kAgent;
  std::optional<int64_t> since_ns, until_ns;  // [since, until)
};

struct UsageRow {
  std::optional<std::string> key;  // null: calls without one (no agent, no key, not in a pod)
  uint64_t calls = 0, errors = 0, unpriced_calls = 0;
  int64_t input_tokens = 0, output_tokens = 0, cache_read_tokens = 0, cache_creation_tokens = 0,
          reasoning_tokens = 0;
  double cost_usd = 0;
};

struct UsageReport {
  GroupBy by = GroupBy::kAgent;
  std::vector<UsageRow> rows;  // by cost, highest first
  UsageRow total;
};

// Reads the ledger at `path` (opened read-only; the sensor may be writing it).
Result<UsageReport> query_usage(const std::string& path, const UsageQuery& q);

std::string format_table(const UsageReport& r);
std::string format_json(const UsageReport& r);
std::string format_csv(const UsageReport& r);
// RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled.
std::string csv_field(std::string_view v);

}  // namespace rein::ledger
