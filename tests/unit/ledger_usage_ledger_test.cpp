#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "ledger/usage_ledger.h"
#include "ledger/usage_report.h"
#include "ledger_test_util.h"

namespace rein::ledger {
namespace {
using testing::make_row;
using testing::TempDir;

constexpr int64_t kDay = 86400LL * 1'000'000'000;

std::unique_ptr<UsageLedger> open_ok(const std::string& path, unsigned retention = 90,
                                     size_t batch = 256) {
  UsageLedger::Options o;
  o.path = path;
  o.retention_days = retention;
  o.batch_rows = batch;
  auto l = UsageLedger::open(o);
  EXPECT_TRUE(l) << (l ? "" : l.error().message);
  return l ? std::move(*l) : nullptr;
}

int64_t rows_in(const std::string& path) {
  auto db = open_ledger_for_reading(path);
  EXPECT_TRUE(db) << (db ? "" : db.error().message);
  if (!db) return -1;
  auto n = db->scalar("SELECT count(*) FROM llm_calls");
  return n ? *n : -1;
}

TEST(LedgerFile, CreatedOwnerOnlyWithVersionedWalSchema) {
  TempDir d;
  const auto path = d.file("usage.db");
  auto l = open_ok(path);
  ASSERT_TRUE(l);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto db = open_ledger_for_reading(path);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(*db->scalar("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(*db->scalar("PRAGMA application_id"), kApplicationId);
  auto mode = db->prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode);
  ASSERT_EQ(mode->step(), SQLITE_ROW);
  EXPECT_EQ(mode->text(0).value_or(""), "wal");
  EXPECT_EQ(*db->scalar("SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                        "name IN ('llm_calls_time', 'llm_calls_agent')"),
            2);
}

TEST(LedgerFile, InsertsAreBatchedUntilTickOrBatchSize) {
  TempDir d;
  const auto path = d.file("usage.db");
  const int64_t now = realtime_now_ns();
  auto l = open_ok(path, 90, 3);
  ASSERT_TRUE(l);
  l->add(make_row(now, "a-1-000001", "gpt-4o", 10, 5, 0.5));
  l->add(make_row(now, "a-1-000001", "gpt-4o", 10, 5, 0.5));
  EXPECT_EQ(l->pending(), 2u);
  EXPECT_EQ(rows_in(path), 0);  // not yet committed: one transaction per tick
  l->add(make_row(now, "a-1-000001", "gpt-4o", 10, 5, 0.5));
  EXPECT_EQ(l->pending(), 0u);  // the batch bound committed it
  EXPECT_EQ(rows_in(path), 3);
  l->add(make_row(now, "b-2-000002", "gpt-4o", 1, 1, std::nullopt));
  l->tick(now);
  EXPECT_EQ(rows_in(path), 4);
  EXPECT_EQ(l->rows_written(), 4u);
  EXPECT_EQ(l->write_errors(), 0u);
}

TEST(LedgerFile, StoresEveryFieldOfTheCall) {
  TempDir d;
  const auto path = d.file("usage.db");
  llm::LlmCall call;
  call.provider = "anthropic";
  call.api = "anthropic.messages";
  call.request_model = "claude-haiku-4-5";
  call.response_model = "claude-haiku-4-5-20251001";
  call.status = 429;
  call.stream = true;
  call.usage.input_tokens = 11;
  call.usage.output_tokens = 22;
  call.usage.cache_read_input_tokens = 33;
  call.usage.cache_creation_input_tokens = 44;
  call.cost_usd = 0.0;
  call.error_type = "rate_limit_error";
  call.api_key_fingerprint = "anthropic:0123456789ab";
  call.response_id = "msg_1";
  call.latency_ms = 12.5;
  process::Agent agent{"claude-77-abcdef", "claude", 77, 1};
  pipeline::ObservedLlmCall o;
  o.time = "2026-11-30T10:00:00.000000001Z";
  o.agent = &agent;
  o.pid = 78;
  o.exe = "/usr/bin/claude";
  const std::string container(64, 'a');
  o.container_id = container;
  o.k8s_namespace = "team-a";
  o.k8s_pod = "agent-0";
  o.k8s_pod_uid = "0b5e5a0e-1111-2222-3333-444455556666";
  o.k8s_container = "main";
  o.call = &call;
  {
    auto l = open_ok(path);
    ASSERT_TRUE(l);
    l->on_llm_call(o);
  }  // closing commits
  auto db = open_ledger_for_reading(path);
  ASSERT_TRUE(db) << db.error().message;
  auto st = db->prepare(
      "SELECT time_ns, time, agent_id, agent_name, pid, exe, container_id, k8s_namespace, k8s_pod, "
      "k8s_container, provider, model, request_model, api, status, stream, input_tokens, "
      "output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd, "
      "key_fingerprint, response_id, latency_ms, error, error_type, k8s_pod_uid FROM llm_calls");
  ASSERT_TRUE(st);
  ASSERT_EQ(st->step(), SQLITE_ROW);
  EXPECT_EQ(st->int64(0), *parse_rfc3339_ns("2026-11-30T10:00:00Z") + 1);
  EXPECT_EQ(st->text(1).value_or(""), "2026-11-30T10:00:00.000000001Z");
  EXPECT_EQ(st->text(2).value_or(""), "claude-77-abcdef");
  EXPECT_EQ(st->text(3).value_or(""), "claude");
  EXPECT_EQ(st->int64(4), 78);
  EXPECT_EQ(st->text(5).value_or(""), "/usr/bin/claude");
  EXPECT_EQ(st->text(6).value_or(""), std::string(64, 'a'));
  EXPECT_EQ(st->text(7).value_or(""), "team-a");
  EXPECT_EQ(st->text(8).value_or(""), "agent-0");
  EXPECT_EQ(st->text(9).value_or(""), "main");
  EXPECT_EQ(st->text(10).value_or(""), "anthropic");
  EXPECT_EQ(st->text(11).value_or(""), "claude-haiku-4-5-20251001");  // the response's model
  EXPECT_EQ(st->text(12).value_or(""), "claude-haiku-4-5");
  EXPECT_EQ(st->text(13).value_or(""), "anthropic.messages");
  EXPECT_EQ(st->int64(14), 429);
  EXPECT_EQ(st->int64(15), 1);
  EXPECT_EQ(st->int64(16), 11);
  EXPECT_EQ(st->int64(17), 22);
  EXPECT_EQ(st->int64(18), 33);
  EXPECT_EQ(st->int64(19), 44);
  EXPECT_TRUE(st->is_null(20));  // not reported: NULL, never a guessed 0
  EXPECT_EQ(st->real(21), 0.0);
  EXPECT_EQ(st->text(22).value_or(""), "anthropic:0123456789ab");
  EXPECT_EQ(st->text(23).value_or(""), "msg_1");
  EXPECT_EQ(st->real(24), 12.5);
  EXPECT_EQ(st->int64(25), 1);
  EXPECT_EQ(st->text(26).value_or(""), "rate_limit_error");
  EXPECT_EQ(st->text(27).value_or(""), "0b5e5a0e-1111-2222-3333-444455556666");
}

TEST(LedgerFile, OutsideAnAgentOrPodTheColumnsAreNull) {
  llm::LlmCall call;
  call.request_model = "gpt-4o";
  pipeline::ObservedLlmCall o;
  o.time = "2026-11-30T10:00:00Z";
  o.call = &call;
  auto r = row_from(o);
  EXPECT_FALSE(r.agent_id);
  EXPECT_FALSE(r.k8s_pod);
  EXPECT_FALSE(r.container_id);
  EXPECT_FALSE(r.key_fingerprint);
  EXPECT_FALSE(r.status);  // no response
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_FALSE(r.error);
}

TEST(LedgerFile, RetentionDeletesOldRowsAtOpenAndHourly) {
  TempDir d;
  const auto path = d.file("usage.db");
  const int64_t now = realtime_now_ns();
  {
    auto l = open_ok(path, 0);  // keeps everything
    ASSERT_TRUE(l);
    l->add(make_row(now - 100 * kDay, "a-1-000001", "m", 1, 1, 1.0));
    l->add(make_row(now - 10 * kDay, "a-1-000001", "m", 1, 1, 1.0));
    l->add(make_row(now, "a-1-000001", "m", 1, 1, 1.0));
    l->tick(now + 2 * 3600LL * 1'000'000'000);
  }
  EXPECT_EQ(rows_in(path), 3);
  {
    auto l = open_ok(path, 90);  // the 100-day-old row goes at start
    ASSERT_TRUE(l);
    EXPECT_EQ(rows_in(path), 2);
    l->add(make_row(now - 95 * kDay, "a-1-000001", "m", 1, 1, 1.0));
    l->tick(now + 60LL * 1'000'000'000);  // within the hour: no retention pass
    EXPECT_EQ(rows_in(path), 3);
    l->tick(now + 3601LL * 1'000'000'000);
    EXPECT_EQ(rows_in(path), 2);
    auto n = l->apply_retention(now + 85 * kDay);  // the 10-day-old row is now 95 days old
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 1);
  }
  EXPECT_EQ(rows_in(path), 1);
}

TEST(LedgerFile, ReopenAppendsAndKeepsTotals) {
  TempDir d;
  const auto path = d.file("usage.db");
  const int64_t now = realtime_now_ns();
  {
    auto l = open_ok(path);
    ASSERT_TRUE(l);
    l->add(make_row(now, "a-1-000001", "gpt-4o", 100, 10, 0.25));
    l->add(make_row(now, "b-2-000002", "gpt-4o", 50, 5, 0.125));
  }
  {
    auto l = open_ok(path);
    ASSERT_TRUE(l);
    l->add(make_row(now, "a-1-000001", "gpt-4o", 1000, 100, 2.5));
    l->tick(now);
  }
  UsageQuery q;
  q.by = GroupBy::kModel;
  auto rep = query_usage(path, q);
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_EQ(rep->rows.size(), 1u);
  EXPECT_EQ(rep->total.calls, 3u);
  EXPECT_EQ(rep->total.input_tokens, 1150);
  EXPECT_EQ(rep->total.output_tokens, 115);
  EXPECT_DOUBLE_EQ(rep->total.cost_usd, 2.875);
}

TEST(LedgerFile, WriteFailureIsCountedAndTheLedgerKeepsGoing) {
  TempDir d;
  const auto path = d.file("usage.db");
  const int64_t now = realtime_now_ns();
  auto l = open_ok(path);
  ASSERT_TRUE(l);
  {
    // Another writer holds the lock past the ledger's short busy timeout.
    auto other = Db::open(path, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->exec("BEGIN IMMEDIATE"));
    l->add(make_row(now, "a-1-000001", "m", 1, 1, 1.0));
    l->add(make_row(now, "a-1-000001", "m", 1, 1, 1.0));
    EXPECT_FALSE(l->flush());
    EXPECT_EQ(l->write_errors(), 2u);
    EXPECT_EQ(l->pending(), 0u);  // lost, counted: the buffer stays bounded
    ASSERT_TRUE(other->exec("ROLLBACK"));
  }
  l->add(make_row(now, "a-1-000001", "m", 1, 1, 1.0));
  EXPECT_TRUE(l->flush());
  EXPECT_EQ(rows_in(path), 1);
  EXPECT_EQ(l->write_errors(), 2u);
}

TEST(LedgerFile, ClearErrorsForFilesThatAreNotALedger) {
  TempDir d;
  UsageLedger::Options o;
  // missing directory
  o.path = d.file("no/such/dir/usage.db");
  auto missing = UsageLedger::open(o);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("No such file or directory"), std::string::npos);
  // a corrupt file (garbage where the SQLite header belongs)
  o.path = d.file("corrupt.db");
  std::ofstream(o.path) << std::string(8192, 'x');
  auto corrupt = UsageLedger::open(o);
  ASSERT_FALSE(corrupt);
  EXPECT_NE(corrupt.error().message.find("not a Rein usage ledger"), std::string::npos)
      << corrupt.error().message;
  auto corrupt_read = open_ledger_for_reading(o.path);
  ASSERT_FALSE(corrupt_read);
  EXPECT_NE(corrupt_read.error().message.find("not a Rein usage ledger"), std::string::npos);
  // another application's database: never written to
  o.path = d.file("other.db");
  {
    auto db = Db::open(o.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t (x)"));
  }
  auto other = UsageLedger::open(o);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("another application"), std::string::npos);
  // a ledger from a newer Rein
  o.path = d.file("newer.db");
  {
    auto l = open_ok(o.path);
    ASSERT_TRUE(l);
  }
  {
    auto db = Db::open(o.path, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version=99"));
  }
  auto newer = UsageLedger::open(o);
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message.find("newer"), std::string::npos);
  // read-only even for root: a file in /proc
  o.path = "/proc/version";
  auto ro = UsageLedger::open(o);
  ASSERT_FALSE(ro);
  EXPECT_NE(ro.error().message.find("/proc/version"), std::string::npos);
  // missing, for `rein usage`
  auto none = open_ledger_for_reading(d.file("none.db"));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no usage ledger"), std::string::npos);
}

TEST(LedgerTime, ParsesRfc3339) {
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339_ns("1970-01-01T00:00:01.5Z"), 1'500'000'000);
  EXPECT_EQ(*parse_rfc3339_ns("2026-11-01T01:00:00+01:00"),
            *parse_rfc3339_ns("2026-11-01T00:00:00Z"));
  EXPECT_EQ(*parse_rfc3339_ns("2026-11-30T03:00:11.123456789Z") % 1'000'000'000, 123456789);
  EXPECT_EQ(*parse_rfc3339_ns("2999-01-01T00:00:00Z"), INT64_MAX);  // saturates, no overflow
  EXPECT_EQ(*parse_rfc3339_ns("1000-01-01T00:00:00Z"), INT64_MIN);
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-01"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-01T00:00:00"));  // no zone
  EXPECT_FALSE(parse_rfc3339_ns("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-01T00:00:00Zjunk"));
  EXPECT_FALSE(parse_rfc3339_ns("2026-11-01T00:00:00.Z"));
}

}  // namespace
}  // namespace rein::ledger
