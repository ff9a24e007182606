#include "cli/usage_command.h"

#include <fmt/format.h>

#include <cstdio>

#include "ledger/usage_ledger.h"
#include "ledger/usage_report.h"

namespace rein::cli {

int usage(const UsageOptions& o) {
  auto fail = [](const std::string& msg) {
    fmt::print(stderr, "rein usage: {}\n", msg);
    return 1;
  };
  auto by = ledger::parse_group_by(o.by);
  if (!by) return fail(by.error().message);
  ledger::UsageQuery q;
  q.by = *by;
  const int64_t now = ledger::realtime_now_ns();
  if (!o.since.empty()) {
    auto t = ledger::parse_time_bound(o.since, now);
    if (!t) return fail("--since " + t.error().message);
    q.since_ns = *t;
  }
  if (!o.until.empty()) {
    auto t = ledger::parse_time_bound(o.until, now);
    if (!t) return fail("--until " + t.error().message);
    q.until_ns = *t;
  }
  if (!o.since.empty() && !o.until.empty() && q.until_ns <= q.since_ns)
    return fail(fmt::format("--until {} is not after --since {}", o.until, o.since));
  auto rep = ledger::query_usage(o.ledger, q);
  if (!rep) return fail(rep.error().message);
  std::string out;
  if (o.format == "json")
    out = ledger::format_json(*rep);
  else if (o.format == "csv")
    out = ledger::format_csv(*rep);
  else if (o.format == "table")
    out = ledger::format_table(*rep);
  else
    return fail(fmt::format("--format {}: expected table, json or csv", o.format));
  fwrite(out.data(), 1, out.size(), stdout);
  return fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace rein::cli
