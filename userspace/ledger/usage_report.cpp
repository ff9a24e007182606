#include "ledger/usage_report.h"

#include <fmt/format.h>

#include <algorithm>

#include "ledger/sqlite_db.h"
#include "ledger/usage_ledger.h"
#include "sinks/json_writer.h"

namespace rein::ledger {

namespace {
constexpr int64_t kNsPerSec = 1'000'000'000;

const char* key_sql(GroupBy by) {
  switch (by) {
    case GroupBy::kAgent:
      return "agent_id";
    case GroupBy::kModel:
      return "model";
    case GroupBy::kProvider:
      return "provider";
    case GroupBy::kKey:
      return "key_fingerprint";
    case GroupBy::kPod:
      // namespace/pod; a pod whose name kubelet's log tree did not give: its UID
      return "CASE WHEN k8s_pod IS NOT NULL THEN coalesce(k8s_namespace, '') || '/' || k8s_pod "
             "WHEN k8s_pod_uid IS NOT NULL THEN 'uid:' || k8s_pod_uid END";
    case GroupBy::kDay:
      return "strftime('%Y-%m-%d', time_ns / 1000000000, 'unixepoch')";
  }
  return "NULL";
}

// Dollars in the table: cents hide small bills, so 4 decimals below $100.
std::string table_cost(double v) {
  return v < 100 ? fmt::format("{:.4f}", v) : fmt::format("{:.2f}", v);
}

void add_to(UsageRow& t, const UsageRow& r) {
  t.calls += r.calls;
  t.errors += r.errors;
  t.unpriced_calls += r.unpriced_calls;
  t.input_tokens += r.input_tokens;
  t.output_tokens += r.output_tokens;
  t.cache_read_tokens += r.cache_read_tokens;
  t.cache_creation_tokens += r.cache_creation_tokens;
  t.reasoning_tokens += r.reasoning_tokens;
  t.cost_usd += r.cost_usd;
}
}  // namespace

Result<GroupBy> parse_group_by(std::string_view n) {
  for (auto by : {GroupBy::kAgent, GroupBy::kModel, GroupBy::kProvider, GroupBy::kKey,
                  GroupBy::kPod, GroupBy::kDay})
    if (n == group_by_name(by)) return by;
  return make_error(fmt::format("--by {}: expected agent, model, provider, key, pod or day", n));
}

const char* group_by_name(GroupBy by) {
  switch (by) {
    case GroupBy::kAgent:
      return "agent";
    case GroupBy::kModel:
      return "model";
    case GroupBy::kProvider:
      return "provider";
    case GroupBy::kKey:
      return "key";
    case GroupBy::kPod:
      return "pod";
    case GroupBy::kDay:
      return "day";
  }
  return "?";
}

Result<int64_t> parse_time_bound(std::string_view s, int64_t now_ns) {
  auto bad = [&]() {
    return make_error(
        fmt::format("'{}': expected a duration back from now (30m, 24h, 7d, 2w), "
                    "a date (2026-11-01) or an RFC 3339 time",
                    s));
  };
  if (s.empty()) return bad();
  const char unit = s.back();
  if (s.size() >= 2 &&
      std::all_of(s.begin(), s.end() - 1, [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t per = 0;
    switch (unit) {
      case 's':
        per = 1;
        break;
      case 'm':
        per = 60;
        break;
      case 'h':
        per = 3600;
        break;
      case 'd':
        per = 86400;
        break;
      case 'w':
        per = 7 * 86400;
        break;
      default:
        return bad();
    }
    if (s.size() > 10) return bad();  // 9 digits of weeks is far past the epoch already
    int64_t n = 0;
    for (char c : s.substr(0, s.size() - 1)) n = n * 10 + (c - '0');
    const int64_t back = n * per;
    if (back > now_ns / kNsPerSec) return int64_t(0);
    return now_ns - back * kNsPerSec;
  }
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') {
    auto t = parse_rfc3339_ns(std::string(s) + "T00:00:00Z");
    if (!t) return bad();
    return *t;
  }
  auto t = parse_rfc3339_ns(s);
  if (!t) return bad();
  return *t;
}

Result<UsageReport> query_usage(const std::string& path, const UsageQuery& q) {
  auto db = open_ledger_for_reading(path);
  if (!db) return db.error();
  const std::string sql = fmt::format(
      "SELECT {} AS k, count(*), coalesce(sum(error), 0), coalesce(sum(cost_usd IS NULL), 0), "
      "coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
      "coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_creation_tokens), 0), "
      "coalesce(sum(reasoning_tokens), 0), total(cost_usd) AS cost "
      "FROM llm_calls WHERE time_ns >= ?1 AND time_ns < ?2 "
      "GROUP BY k ORDER BY cost DESC, count(*) DESC, k",
      key_sql(q.by));
  auto st = db->prepare(sql);
  if (!st) return st.error();
  st->bind(1, q.since_ns.value_or(INT64_MIN));
  st->bind(2, q.until_ns.value_or(INT64_MAX));
  UsageReport rep;
  rep.by = q.by;
  int rc;
  while ((rc = st->step()) == SQLITE_ROW) {
    UsageRow r;
    r.key = st->text(0);
    r.calls = uint64_t(st->int64(1));
    r.errors = uint64_t(st->int64(2));
    r.unpriced_calls = uint64_t(st->int64(3));
    r.input_tokens = st->int64(4);
    r.output_tokens = st->int64(5);
    r.cache_read_tokens = st->int64(6);
    r.cache_creation_tokens = st->int64(7);
    r.reasoning_tokens = st->int64(8);
    r.cost_usd = st->real(9);
    add_to(rep.total, r);
    rep.rows.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return make_error(fmt::format("{}: {}", path, db->errmsg()));
  return rep;
}

std::string format_table(const UsageReport& rep) {
  std::vector<std::vector<std::string>> cells;
  std::string head = group_by_name(rep.by);
  for (auto& c : head) c = char(c - 'a' + 'A');
  cells.push_back(
      {head, "CALLS", "INPUT", "OUTPUT", "CACHE_READ", "CACHE_WRITE", "COST_USD", "ERRORS"});
  auto row = [&](const std::string& key, const UsageRow& r) {
    cells.push_back({key, std::to_string(r.calls), std::to_string(r.input_tokens),
                     std::to_string(r.output_tokens), std::to_string(r.cache_read_tokens),
                     std::to_string(r.cache_creation_tokens), table_cost(r.cost_usd),
                     std::to_string(r.errors)});
  };
  for (const auto& r : rep.rows) row(r.key.value_or("-"), r);
  row("TOTAL", rep.total);
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& line : cells)
    for (size_t i = 0; i < line.size(); i++) width[i] = std::max(width[i], line[i].size());
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (size_t i = 0; i < line.size(); i++) {
      if (i == 0)
        text += fmt::format("{:<{}}", line[i], width[i]);  // names left, numbers right
      else
        text += fmt::format("  {:>{}}", line[i], width[i]);
    }
    out += text + "\n";
  }
  return out;
}

std::string format_json(const UsageReport& rep) {
  sinks::JsonWriter w;
  auto obj = [&](const std::optional<std::string>& key, const UsageRow& r, bool total) {
    w.begin_object();
    w.key(group_by_name(rep.by));
    if (key)
      w.string(*key);
    else
      w.null();
    w.key("calls");
    w.number(r.calls);
    w.key("input_tokens");
    w.number(r.input_tokens);
    w.key("output_tokens");
    w.number(r.output_tokens);
    w.key("cache_read_tokens");
    w.number(r.cache_read_tokens);
    w.key("cache_creation_tokens");
    w.number(r.cache_creation_tokens);
    w.key("reasoning_tokens");
    w.number(r.reasoning_tokens);
    // Full precision: the figures must add up to the llm.call events' cost_usd exactly.
    w.key("cost_usd");
    w.number(r.cost_usd);
    w.key("errors");
    w.number(r.errors);
    w.key("unpriced_calls");
    w.number(r.unpriced_calls);
    w.key("total");
    w.boolean(total);
    w.end_object();
  };
  w.begin_array();
  for (const auto& r : rep.rows) obj(r.key, r, false);
  obj(std::nullopt, rep.total, true);
  w.end_array();
  return w.str() + "\n";
}

std::string csv_field(std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string format_csv(const UsageReport& rep) {
  // CRLF line ends, as RFC 4180 writes them
  std::string out = fmt::format(
      "{},calls,input_tokens,output_tokens,cache_read_tokens,cache_creation_tokens,"
      "reasoning_tokens,cost_usd,errors,unpriced_calls\r\n",
      group_by_name(rep.by));
  auto line = [&](const std::string& key, const UsageRow& r) {
    out +=
        fmt::format("{},{},{},{},{},{},{},{:.6f},{},{}\r\n", csv_field(key), r.calls,
                    r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_creation_tokens,
                    r.reasoning_tokens, r.cost_usd, r.errors, r.unpriced_calls);
  };
  for (const auto& r : rep.rows) line(r.key.value_or(""), r);
  line("TOTAL", rep.total);
  return out;
}

}  // namespace rein::ledger
