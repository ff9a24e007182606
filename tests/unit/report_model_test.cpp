// rein report's event model: totals from a hand-built stream, filters by agent and time,
// bounded sections, bad lines counted, the time parsers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "report/event_model.h"
#include "temp_dir.h"

namespace rein::report {
namespace {

std::string ev(const std::string& type, const std::string& time, const std::string& agent, int pid,
               const std::string& rest) {
  std::string a = agent.empty() ? "null"
                                : "{\"id\":\"" + agent + "-1\",\"name\":\"" + agent +
                                      "\",\"root_pid\":" + std::to_string(pid) + "}";
  return "{\"type\":\"" + type + "\",\"time\":\"" + time +
         "\",\"process\":{\"pid\":" + std::to_string(pid) +
         ",\"ppid\":1,\"exe\":\"/bin/x\",\"args\":[\"x\"]},\"agent\":" + a +
         (rest.empty() ? "" : "," + rest) + "}";
}

std::string call(const std::string& time, const std::string& agent, int pid, int in, int out,
                 const std::string& cost, int status = 200) {
  return ev("llm.call", time, agent, pid,
            "\"provider\":\"openai\",\"host\":\"api.openai.com\",\"request_model\":\"gpt-4o\","
            "\"response_model\":\"gpt-4o-2024-08-06\",\"status\":" +
                std::to_string(status) + ",\"usage\":{\"input_tokens\":" + std::to_string(in) +
                ",\"output_tokens\":" + std::to_string(out) +
                ",\"cache_read_input_tokens\":5},\"cost_usd\":" + cost +
                ",\"latency_ms\":12.5,\"error\":null,\"peer\":{\"address\":\"10.0.0.1\","
                "\"port\":443}");
}

// A small incident: two agents, calls (one unpriced, one failed), files, a denial, a hold.
std::vector<std::string> stream() {
  return {
      ev("sensor.health", "2026-11-30T14:00:00Z", "", 99, "\"state\":\"started\""),
      ev("process.exec", "2026-11-30T14:01:00Z", "alpha", 10, "\"new_agent\":true"),
      call("2026-11-30T14:02:00Z", "alpha", 10, 100, 20, "0.25"),
      call("2026-11-30T14:03:00Z", "alpha", 10, 50, 0, "null", 429),
      ev("file.mutation", "2026-11-30T14:04:00Z", "alpha", 10,
         "\"op\":\"write\",\"path\":\"/w/a.txt\",\"bytes\":5,\"error\":null"),
      ev("file.mutation", "2026-11-30T14:04:01Z", "alpha", 10,
         "\"op\":\"write\",\"path\":\"/w/a.txt\",\"bytes\":5,\"error\":null"),
      ev("file.mutation", "2026-11-30T14:04:02Z", "alpha", 10,
         "\"op\":\"create\",\"path\":\"/protected/x\",\"error\":\"EPERM\""),
      ev("net.connect", "2026-11-30T14:05:00Z", "alpha", 10,
         "\"family\":\"ipv4\",\"address\":\"10.0.0.1\",\"port\":443,\"error\":null"),
      ev("policy.action", "2026-11-30T14:06:00Z", "alpha", 10,
         "\"rule\":\"no-evil\",\"kind\":\"network\",\"action\":\"deny\",\"outcome\":\"prevented\","
         "\"matched\":\"10.9.9.9:80\",\"hold_id\":null"),
      ev("policy.action", "2026-11-30T14:07:00Z", "beta", 20,
         "\"rule\":\"hold\",\"kind\":\"exec\",\"action\":\"pause\",\"outcome\":\"paused\","
         "\"hold_id\":\"h1\""),
      ev("policy.action", "2026-11-30T14:07:30Z", "beta", 20,
         "\"rule\":\"hold\",\"kind\":\"exec\",\"action\":\"pause\",\"outcome\":\"denied\","
         "\"hold_id\":\"h1\""),
      call("2026-11-30T14:08:00Z", "beta", 20, 1000, 300, "1.5"),
      ev("sensor.health", "2026-11-30T14:09:00Z", "", 99,
         "\"state\":\"running\",\"kernel\":{\"records\":9,\"drop_ringbuf_full\":3,"
         "\"drop_pending_full\":1}"),
  };
}

void feed_all(EventModel& m, const std::vector<std::string>& lines) {
  for (const auto& l : lines) m.feed(l);
  m.finish();
}

TEST(ReportModel, SummaryTotalsFromAHandBuiltStream) {
  EventModel m;
  feed_all(m, stream());
  const Summary& s = m.summary();
  EXPECT_EQ(s.calls, 3u);
  EXPECT_EQ(s.call_errors, 1u);  // the 429
  EXPECT_EQ(s.unpriced_calls, 1u);
  EXPECT_EQ(s.input_tokens, 1150);
  EXPECT_EQ(s.output_tokens, 320);
  EXPECT_EQ(s.cache_read_tokens, 15);
  EXPECT_DOUBLE_EQ(s.cost_usd, 1.75);
  EXPECT_EQ(s.files_changed.size(), 1u);  // the failed create changed nothing
  EXPECT_EQ(s.file_events, 3u);
  EXPECT_EQ(s.hosts.size(), 1u);  // the call's peer and the connect are one host
  EXPECT_EQ(s.denials, 2u);       // prevented + denied hold
  EXPECT_EQ(s.holds, 1u);
  EXPECT_EQ(s.holds_denied, 1u);
  EXPECT_EQ(s.policy_actions, 3u);
  EXPECT_EQ(s.sensor_drops, 4);
  EXPECT_EQ(m.agents().size(), 2u);
  EXPECT_EQ(m.agents()[0].id, "alpha-1");
  EXPECT_EQ(m.agents()[0].calls, 2u);
  EXPECT_DOUBLE_EQ(m.agents()[0].cost_usd, 0.25);
  EXPECT_EQ(m.agents()[1].denials, 1u);
  EXPECT_EQ(m.calls().rows[0].model, "gpt-4o-2024-08-06");
  EXPECT_EQ(m.calls().rows[0].input_tokens, 100);
  EXPECT_EQ(m.stats().bad, 0u);
  // started sensor line + 11 agent events; the periodic health line is not a timeline event
  EXPECT_EQ(m.summary().events, 12u);
  EXPECT_EQ(m.summary().last_ns - m.summary().first_ns, int64_t{8} * 60 * 1000000000);
}

TEST(ReportModel, CostSumsAddEveryPricedCall) {
  EventModel m;
  for (int i = 0; i < 1000; ++i) m.feed(call("2026-11-30T14:02:00Z", "a", 1, 1, 1, "0.001"));
  m.finish();
  EXPECT_NEAR(m.summary().cost_usd, 1.0, 1e-9);
  EXPECT_EQ(m.summary().calls, 1000u);
  EXPECT_EQ(m.summary().unpriced_calls, 0u);
}

TEST(ReportModel, FilterByAgentIdOrName) {
  for (std::string who : {"beta", "beta-1"}) {
    Filter f;
    f.agent = who;
    EventModel m(f);
    feed_all(m, stream());
    EXPECT_EQ(m.agents().size(), 1u) << who;
    EXPECT_EQ(m.summary().calls, 1u) << who;
    EXPECT_DOUBLE_EQ(m.summary().cost_usd, 1.5);
    EXPECT_EQ(m.summary().holds, 1u);
    // sensor-wide health still says whether the record is complete
    EXPECT_EQ(m.summary().sensor_drops, 4);
    EXPECT_EQ(m.timeline().total, 3u);
  }
}

TEST(ReportModel, FilterByRfc3339Window) {
  Filter f;
  f.from = *parse_time_bound("2026-11-30T14:02:00Z");
  f.to = *parse_time_bound("2026-11-30T15:04:00+01:00");  // 14:04:00Z, exclusive
  EventModel m(f);
  feed_all(m, stream());
  EXPECT_EQ(m.summary().calls, 2u);
  EXPECT_EQ(m.summary().file_events, 0u);
  EXPECT_EQ(m.summary().events, 2u);
}

TEST(ReportModel, FilterByTimeOfDayUsesTheFirstEventsDate) {
  Filter f;
  f.from = *parse_time_bound("14:04");
  f.to = *parse_time_bound("14:06:30");
  EventModel m(f);
  feed_all(m, stream());
  EXPECT_EQ(m.summary().file_events, 3u);
  EXPECT_EQ(m.summary().denials, 1u);
  EXPECT_EQ(m.summary().calls, 0u);
  ASSERT_TRUE(m.from_ns());
  EXPECT_EQ(*m.from_ns(), *parse_rfc3339("2026-11-30T14:04:00Z"));
}

TEST(ReportModel, EmptyAfterFilters) {
  Filter f;
  f.agent = "nobody";
  EventModel m(f);
  feed_all(m, stream());
  EXPECT_EQ(m.summary().events, 0u);
  EXPECT_EQ(m.stats().filtered_out, 11u);
}

TEST(ReportModel, BadLinesAreCountedNotFatal) {
  EventModel m;
  m.feed("not json");
  m.feed("{\"no_type\":1}");
  m.feed("[1,2,3]");
  m.feed("{\"type\":\"llm.call\",");
  m.feed("");
  m.feed("   ");
  m.feed(call("2026-11-30T14:02:00Z", "a", 1, 1, 1, "0.5"));
  m.finish();
  EXPECT_EQ(m.stats().bad, 4u);
  EXPECT_EQ(m.stats().blank, 2u);
  EXPECT_EQ(m.summary().calls, 1u);
}

TEST(ReportModel, SectionsAreBoundedButTotalsAreNot) {
  Limits l;
  l.max_rows = 10;
  l.max_timeline = 5;
  l.max_processes = 3;
  l.max_agents = 2;
  l.max_string = 20;
  EventModel m({}, l);
  for (int i = 0; i < 100; ++i) {
    m.feed(ev("file.mutation", "2026-11-30T14:04:00Z", "ag" + std::to_string(i % 4), 100 + i,
              "\"op\":\"write\",\"path\":\"/very/long/path/that/goes/on/" + std::to_string(i) +
                  "\",\"error\":null"));
  }
  m.finish();
  EXPECT_EQ(m.files().rows.size(), 10u);
  EXPECT_EQ(m.files().total, 100u);
  EXPECT_EQ(m.files().not_shown(), 90u);
  EXPECT_EQ(m.timeline().rows.size(), 5u);
  EXPECT_EQ(m.processes().rows.size(), 3u);
  EXPECT_EQ(m.processes().total, 100u);
  EXPECT_EQ(m.agents().size(), 2u);
  EXPECT_EQ(m.agents_not_shown(), 2u);
  EXPECT_EQ(m.summary().file_events, 100u);
  for (const auto& f : m.files().rows) EXPECT_LE(f.path.size(), 20u + 3);  // + "…"
}

TEST(ReportModel, ConfigMutationBothShapes) {
  EventModel m;
  m.feed(
      ev("config.mutation", "2026-11-30T14:04:00Z", "a", 1,
         "\"path\":\"/r/CLAUDE.md\",\"class\":\"agent_config\",\"before\":{\"sha256\":\"aa\","
         "\"size\":3},\"after\":{\"sha256\":\"bb\",\"size\":9},\"diff\":\"@@ -1 +1 @@\\n-a\\n+b\","
         "\"caused_by\":{\"response_id\":\"msg_1\",\"model\":\"claude\",\"time\":\"t\","
         "\"tool_call_id\":\"toolu_1\"}"));
  m.feed(ev("config.mutation", "2026-11-30T14:05:00Z", "a", 1,
            "\"path\":\"/r/.env\",\"class\":\"credentials\",\"before_sha256\":null,"
            "\"after_sha256\":\"cc\",\"after_size\":4,\"diff\":{\"text\":\"+X=[redacted]\","
            "\"truncated\":true},\"caused_by\":null"));
  m.finish();
  ASSERT_EQ(m.config_mutations().rows.size(), 2u);
  const auto& a = m.config_mutations().rows[0];
  EXPECT_EQ(a.cls, "agent_config");
  EXPECT_EQ(a.before_sha256, "aa");
  EXPECT_EQ(a.after_size, 9);
  EXPECT_EQ(a.cause_tool_call_id, "toolu_1");
  EXPECT_EQ(a.diff, "@@ -1 +1 @@\n-a\n+b");
  const auto& b = m.config_mutations().rows[1];
  EXPECT_EQ(b.after_sha256, "cc");
  EXPECT_TRUE(b.before_sha256.empty());
  EXPECT_TRUE(b.diff_truncated);
  EXPECT_EQ(m.summary().config_mutations, 2u);
}

TEST(ReportModel, TimeParsers) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:01Z"), 1000000000);
  EXPECT_EQ(parse_rfc3339("1970-01-01T01:00:00.5+01:00"), 500000000);
  EXPECT_EQ(parse_rfc3339("2026-11-30T05:43:37.112757308Z"),
            int64_t{1796017417} * 1000000000 + 112757308);
  EXPECT_FALSE(parse_rfc3339("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-11-30T00:00:00"));
  EXPECT_FALSE(parse_rfc3339("2026-11-30T00:00:00Zjunk"));
  EXPECT_FALSE(parse_rfc3339("1969-12-31T23:59:59Z"));  // outside what int64 ns can order
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59Z"));
  EXPECT_TRUE(parse_time_bound("23:59:59"));
  EXPECT_FALSE(parse_time_bound("24:00"));
  EXPECT_FALSE(parse_time_bound("yesterday"));
  EXPECT_EQ(*parse_time_bound("00:01")->day_offset_ns, int64_t{60} * 1000000000);
}

TEST(ReportModel, ClipKeepsUtf8Whole) {
  EXPECT_EQ(clip("abc", 5), "abc");
  EXPECT_EQ(clip("abcdef", 3), "abc\xE2\x80\xA6");
  // "é" is two bytes: a cut inside it backs up to before it
  EXPECT_EQ(clip("a\xC3\xA9z", 2), "a\xE2\x80\xA6");
}

TEST(ReportModel, ReadsAFileWithOverlongAndUnterminatedLines) {
  testutil::TempDir dir;
  std::string path = dir.path() + "/events.jsonl";
  {
    std::ofstream f(path);
    f << call("2026-11-30T14:02:00Z", "a", 1, 1, 1, "0.5") << "\n";
    f << std::string(3000, 'x') << "\n";
    f << "garbage\n";
    f << call("2026-11-30T14:03:00Z", "a", 1, 1, 1, "0.5");  // no newline at the end
  }
  Limits l;
  l.max_line_bytes = 2000;
  EventModel m({}, l);
  ASSERT_TRUE(read_events_file(path, m));
  EXPECT_EQ(m.summary().calls, 2u);
  EXPECT_EQ(m.stats().oversized, 1u);
  EXPECT_EQ(m.stats().bad, 1u);
  EventModel missing;
  auto r = read_events_file(dir.path() + "/nope.jsonl", missing);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("nope.jsonl"), std::string::npos);
  EXPECT_FALSE(read_events_file(dir.path(), missing));  // a directory
}

}  // namespace
}  // namespace rein::report

namespace rein::report {
namespace {

TEST(ReportModel, ArgvIsQuotedUnambiguously) {
  EventModel m;
  m.feed(
      "{\"type\":\"process.exec\",\"time\":\"2026-11-30T14:00:00Z\",\"process\":{\"pid\":3,"
      "\"args\":[\"sh\",\"-c\",\"echo a\\nrm -rf /\",\"\",\"x\\\"y\"]},"
      "\"agent\":{\"id\":\"a-1\",\"name\":\"a\"}}");
  m.finish();
  ASSERT_EQ(m.processes().rows.size(), 1u);
  EXPECT_EQ(m.processes().rows[0].args, "sh -c \"echo a\\nrm -rf /\" \"\" \"x\\\"y\"");
}

}  // namespace
}  // namespace rein::report

namespace rein::report {
namespace {

TEST(ReportModel, TakeOverIsAnAlertInTheTimeline) {
  EventModel m;
  m.feed(ev("process.controlled", "2026-11-30T14:00:00Z", "a", 300,
            "\"mechanism\":\"ptrace\",\"controller_pid\":200,\"cwd\":\"/\""));
  m.finish();
  ASSERT_EQ(m.timeline().rows.size(), 1u);
  EXPECT_EQ(m.timeline().rows[0].what, "taken over by pid 200 (ptrace)");
  EXPECT_TRUE(m.timeline().rows[0].alert);
}

TEST(ReportModel, EventsWithoutAProcessBlock) {
  EventModel m;
  m.feed(
      "{\"type\":\"process.exec\",\"time\":\"2026-11-30T14:00:00Z\",\"agent\":{\"id\":\"a-1\"}}");
  m.feed(
      "{\"type\":\"process.exit\",\"time\":\"2026-11-30T14:00:01Z\",\"process\":null,"
      "\"agent\":{\"id\":\"a-1\"}}");
  m.finish();
  EXPECT_EQ(m.summary().events, 2u);
  EXPECT_EQ(m.processes().total, 0u);
  EXPECT_EQ(m.timeline().rows[0].what, "exec ");
}

}  // namespace
}  // namespace rein::report
