#include <gtest/gtest.h>

#include <sstream>

#include "ledger/usage_ledger.h"
#include "ledger/usage_report.h"
#include "ledger_test_util.h"

namespace rein::ledger {
namespace {
using testing::make_row;
using testing::TempDir;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kDay = 86400 * kSec;

// Five calls over two agents, three models, two providers, two keys, two pods and two days.
class UsageReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("usage.db");
    day1_ = *parse_rfc3339_ns("2026-11-01T12:00:00Z");
    day2_ = day1_ + kDay;
    UsageLedger::Options o;
    o.path = path_;
    o.retention_days = 0;
    auto l = UsageLedger::open(o);
    ASSERT_TRUE(l) << l.error().message;
    auto r1 = make_row(day1_, "claude-1-aaaaaa", "claude-haiku-4-5", 100, 10, 1.0);
    r1.provider = "anthropic";
    r1.key_fingerprint = "anthropic:111111111111";
    r1.k8s_namespace = "ns";
    r1.k8s_pod = "pod-a";
    auto r2 = r1;
    r2.input_tokens = 200;
    r2.output_tokens = 20;
    r2.cost_usd = 2.0;
    r2.cache_read_tokens = 7;
    auto r3 = make_row(day2_, "codex-2-bbbbbb", "gpt-4o", 1000, 100, 10.0);
    r3.key_fingerprint = "openai:222222222222";
    r3.k8s_namespace = "ns";
    r3.k8s_pod = "pod-b";
    auto r4 = make_row(day2_, "codex-2-bbbbbb", "gpt-4o", 0, 0, 0.0);
    r4.status = 429;
    r4.error = true;
    r4.key_fingerprint = "openai:222222222222";
    auto r5 = make_row(day2_, "codex-2-bbbbbb", "unknown-model", 5, 5, std::nullopt);
    r5.agent_id.reset();       // a call outside any agent
    r5.k8s_pod_uid = "uid-5";  // in a pod whose name kubelet's logs did not give
    for (auto* r : {&r1, &r2, &r3, &r4, &r5}) (*l)->add(*r);
    (*l)->tick(day2_);
  }

  UsageReport query(GroupBy by, std::optional<int64_t> since = {},
                    std::optional<int64_t> until = {}) {
    UsageQuery q;
    q.by = by;
    q.since_ns = since;
    q.until_ns = until;
    auto r = query_usage(path_, q);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : UsageReport{};
  }

  TempDir dir_;
  std::string path_;
  int64_t day1_ = 0, day2_ = 0;
};

TEST_F(UsageReportTest, ByAgentSortedByCostWithNullGroupAndTotal) {
  auto r = query(GroupBy::kAgent);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0].key.value_or(""), "codex-2-bbbbbb");
  EXPECT_EQ(r.rows[0].calls, 2u);
  EXPECT_EQ(r.rows[0].errors, 1u);
  EXPECT_DOUBLE_EQ(r.rows[0].cost_usd, 10.0);
  EXPECT_EQ(r.rows[1].key.value_or(""), "claude-1-aaaaaa");
  EXPECT_EQ(r.rows[1].input_tokens, 300);
  EXPECT_EQ(r.rows[1].output_tokens, 30);
  EXPECT_EQ(r.rows[1].cache_read_tokens, 7);
  EXPECT_DOUBLE_EQ(r.rows[1].cost_usd, 3.0);
  EXPECT_FALSE(r.rows[2].key);
  EXPECT_EQ(r.rows[2].unpriced_calls, 1u);
  EXPECT_EQ(r.total.calls, 5u);
  EXPECT_EQ(r.total.input_tokens, 1305);
  EXPECT_EQ(r.total.output_tokens, 135);
  EXPECT_EQ(r.total.errors, 1u);
  EXPECT_DOUBLE_EQ(r.total.cost_usd, 13.0);
}

TEST_F(UsageReportTest, ByEveryKey) {
  auto model = query(GroupBy::kModel);
  ASSERT_EQ(model.rows.size(), 3u);
  EXPECT_EQ(model.rows[0].key.value_or(""), "gpt-4o");
  EXPECT_EQ(model.rows[1].key.value_or(""), "claude-haiku-4-5");
  EXPECT_EQ(model.rows[2].key.value_or(""), "unknown-model");
  auto provider = query(GroupBy::kProvider);
  ASSERT_EQ(provider.rows.size(), 2u);
  EXPECT_EQ(provider.rows[0].key.value_or(""), "openai");
  EXPECT_EQ(provider.rows[0].calls, 3u);
  EXPECT_EQ(provider.rows[1].key.value_or(""), "anthropic");
  auto key = query(GroupBy::kKey);
  ASSERT_EQ(key.rows.size(), 3u);
  EXPECT_EQ(key.rows[0].key.value_or(""), "openai:222222222222");
  EXPECT_EQ(key.rows[0].calls, 2u);
  EXPECT_EQ(key.rows[1].key.value_or(""), "anthropic:111111111111");
  EXPECT_FALSE(key.rows[2].key);
  auto pod = query(GroupBy::kPod);
  ASSERT_EQ(pod.rows.size(), 4u);
  EXPECT_EQ(pod.rows[0].key.value_or(""), "ns/pod-b");
  EXPECT_EQ(pod.rows[1].key.value_or(""), "ns/pod-a");
  EXPECT_EQ(pod.rows[1].calls, 2u);
  EXPECT_FALSE(pod.rows[2].key);  // not in a pod (r4); equal cost and calls: by name, null first
  EXPECT_EQ(pod.rows[2].calls, 1u);
  EXPECT_EQ(pod.rows[3].key.value_or(""), "uid:uid-5");
  auto day = query(GroupBy::kDay);
  ASSERT_EQ(day.rows.size(), 2u);
  EXPECT_EQ(day.rows[0].key.value_or(""), "2026-11-02");
  EXPECT_EQ(day.rows[0].calls, 3u);
  EXPECT_EQ(day.rows[1].key.value_or(""), "2026-11-01");
  for (const auto& r : {model, provider, key, pod, day}) {
    EXPECT_EQ(r.total.calls, 5u);
    EXPECT_DOUBLE_EQ(r.total.cost_usd, 13.0);
  }
}

TEST_F(UsageReportTest, SinceAndUntilBoundTheRows) {
  auto second = query(GroupBy::kModel, day2_);
  EXPECT_EQ(second.total.calls, 3u);
  auto first = query(GroupBy::kModel, std::nullopt, day2_);  // until is exclusive
  EXPECT_EQ(first.total.calls, 2u);
  auto none = query(GroupBy::kModel, day2_ + 1);
  EXPECT_EQ(none.total.calls, 0u);
  EXPECT_TRUE(none.rows.empty());
}

TEST(UsageTimeBound, RelativeDatesAndRfc3339) {
  const int64_t now = *parse_rfc3339_ns("2026-11-30T12:00:00Z");
  EXPECT_EQ(*parse_time_bound("7d", now), now - 7 * kDay);
  EXPECT_EQ(*parse_time_bound("24h", now), now - kDay);
  EXPECT_EQ(*parse_time_bound("30m", now), now - 1800 * kSec);
  EXPECT_EQ(*parse_time_bound("90s", now), now - 90 * kSec);
  EXPECT_EQ(*parse_time_bound("2w", now), now - 14 * kDay);
  EXPECT_EQ(*parse_time_bound("2026-11-01", now), *parse_rfc3339_ns("2026-11-01T00:00:00Z"));
  EXPECT_EQ(*parse_time_bound("2026-11-01T10:00:00+02:00", now),
            *parse_rfc3339_ns("2026-11-01T08:00:00Z"));
  EXPECT_EQ(*parse_time_bound("999999999w", now), 0);  // before the epoch: everything
  for (const char* bad :
       {"", "7", "d", "7x", "-7d", "7.5d", "2026-13-01", "2026-11-01T", "yesterday"}) {
    auto r = parse_time_bound(bad, now);
    EXPECT_FALSE(r) << bad;
    if (!r) EXPECT_NE(r.error().message.find("expected a duration"), std::string::npos);
  }
}

TEST(UsageGroupBy, NamesRoundTrip) {
  for (const char* n : {"agent", "model", "provider", "key", "pod", "day"})
    EXPECT_STREQ(group_by_name(*parse_group_by(n)), n);
  EXPECT_FALSE(parse_group_by("user"));
}

TEST(UsageCsv, Rfc4180Quoting) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(csv_field(""), "");
}

TEST(UsageFormats, CsvJsonAndTable) {
  UsageReport rep;
  rep.by = GroupBy::kModel;
  UsageRow a;
  a.key = "model,\"x\"";
  a.calls = 2;
  a.input_tokens = 1234567;
  a.output_tokens = 89;
  a.cost_usd = 0.1234567891;
  UsageRow b;
  b.calls = 1;
  b.errors = 1;
  rep.rows = {a, b};
  rep.total = a;
  rep.total.key.reset();
  rep.total.calls = 3;
  rep.total.errors = 1;

  const auto csv = format_csv(rep);
  EXPECT_EQ(csv,
            "model,calls,input_tokens,output_tokens,cache_read_tokens,cache_creation_tokens,"
            "reasoning_tokens,cost_usd,errors,unpriced_calls\r\n"
            "\"model,\"\"x\"\"\",2,1234567,89,0,0,0,0.123457,0,0\r\n"
            ",1,0,0,0,0,0,0.000000,1,0\r\n"
            "TOTAL,3,1234567,89,0,0,0,0.123457,1,0\r\n");

  const auto json = format_json(rep);
  EXPECT_EQ(json.front(), '[');
  EXPECT_NE(json.find(R"({"model":"model,\"x\"","calls":2,"input_tokens":1234567,)"),
            std::string::npos);
  EXPECT_NE(json.find(R"("cost_usd":0.1234567891,)"), std::string::npos);  // exact, not rounded
  EXPECT_NE(json.find(R"({"model":null,"calls":1,)"), std::string::npos);
  EXPECT_NE(json.find(R"("total":true})"), std::string::npos);
  EXPECT_EQ(json.substr(json.size() - 2), "]\n");

  const auto table = format_table(rep);
  std::istringstream in(table);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("MODEL", 0), 0u);
  EXPECT_EQ(lines[3].rfind("TOTAL", 0), 0u);
  EXPECT_EQ(lines[2].rfind("-", 0), 0u);
  for (const auto& l : lines) EXPECT_EQ(l.size(), lines[0].size()) << l;  // aligned
  EXPECT_NE(lines[1].find("0.1235"), std::string::npos);
}

}  // namespace
}  // namespace rein::ledger
