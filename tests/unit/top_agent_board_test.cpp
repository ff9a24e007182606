#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "top/agent_board.h"

namespace rein::top {
namespace {

std::string at(int sec) {
  return fmt::format("2026-11-30T04:{:02}:{:02}.000000000Z", sec / 60, sec % 60);
}

std::string agent(std::string_view id, std::string_view name = "bot", int pid = 7) {
  return fmt::format(R"({{"id":"{}","name":"{}","root_pid":{}}})", id, name, pid);
}

std::string call(int sec, std::string_view id, double cost, std::string_view extra = "",
                 std::string_view status = "200") {
  return fmt::format(
      R"({{"type":"llm.call","time":"{}","agent":{},"host":"api.example.com","status":{},)"
      R"("response_model":"gpt-4o","usage":{{"input_tokens":10,"output_tokens":5}},)"
      R"("cost_usd":{},"latency_ms":12.5,"error":null{}}})",
      at(sec), agent(id), status, cost, extra);
}

std::string action(int sec, std::string_view id, std::string_view outcome,
                   std::string_view hold = "") {
  return fmt::format(R"({{"type":"policy.action","time":"{}","agent":{},"outcome":"{}",)"
                     R"("hold_id":{}}})",
                     at(sec), agent(id), outcome,
                     hold.empty() ? std::string("null") : fmt::format("\"{}\"", hold));
}

TEST(TopAgentBoard, CountsCallsTokensCostAndFiles) {
  AgentBoard b;
  b.feed(call(1, "a", 0.5) + "\n");
  b.feed(call(2, "a", 0.25));
  b.feed(fmt::format(R"({{"type":"file.mutation","time":"{}","agent":{},"op":"write",)"
                     R"("path":"/tmp/f"}})",
                     at(3), agent("a")));
  b.feed(fmt::format(R"({{"type":"net.connect","time":"{}","agent":{},"address":"10.0.0.1",)"
                     R"("port":443}})",
                     at(3), agent("a")));
  // The same server seen as an llm.call peer: one host, not two.
  b.feed(call(4, "a", 0.0, R"(,"peer":{"address":"10.0.0.1","port":443})"));
  const AgentStats* a = b.find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "bot");
  EXPECT_EQ(a->root_pid, 7);
  EXPECT_EQ(a->calls, 3u);
  EXPECT_EQ(a->errors, 0u);
  EXPECT_EQ(a->input_tokens, 30);
  EXPECT_EQ(a->output_tokens, 15);
  EXPECT_DOUBLE_EQ(a->cost_usd, 0.75);
  EXPECT_EQ(a->files_changed, 1u);
  EXPECT_EQ(a->hosts.size(), 2u);  // api.example.com and 10.0.0.1:443
  ASSERT_EQ(a->recent_calls.size(), 3u);
  EXPECT_EQ(a->recent_calls.back().model, "gpt-4o");
  EXPECT_DOUBLE_EQ(*a->recent_calls.back().latency_ms, 12.5);
  ASSERT_EQ(a->recent_files.size(), 1u);
  EXPECT_EQ(a->recent_files.back().path, "/tmp/f");
  EXPECT_EQ(b.skipped(), 0u);
}

TEST(TopAgentBoard, ErrorsFromStatusErrorObjectAndMissingUsage) {
  AgentBoard b;
  b.feed(call(1, "a", 0, "", "429"));
  b.feed(call(2, "a", 0, R"(,"err2":1)", "200"));  // fine call
  std::string with_error = call(3, "a", 0);
  with_error.replace(with_error.find(R"("error":null)"), 12, R"("error":{"type":"x"})");
  b.feed(with_error);
  b.feed(call(4, "a", 0, R"(,"usage_missing":true)", "null"));
  b.feed(call(5, "a", 0, R"(,"usage_missing":false)", "null"));
  EXPECT_EQ(b.find("a")->calls, 5u);
  EXPECT_EQ(b.find("a")->errors, 3u);
}

TEST(TopAgentBoard, CostPerMinuteCoversTheLastSixtySecondsOfEventTime) {
  AgentBoard b;
  b.feed(call(0, "a", 1.0));
  b.feed(call(30, "a", 2.0));
  EXPECT_DOUBLE_EQ(b.cost_per_min(*b.find("a")), 3.0);
  // An event of another agent moves the clock: the call at 0 s leaves the window.
  b.feed(call(61, "b", 0.5));
  EXPECT_DOUBLE_EQ(b.cost_per_min(*b.find("a")), 2.0);
  EXPECT_DOUBLE_EQ(b.cost_per_min(*b.find("b")), 0.5);
  b.feed(call(200, "b", 0.0));
  EXPECT_DOUBLE_EQ(b.cost_per_min(*b.find("a")), 0.0);
  EXPECT_DOUBLE_EQ(b.find("a")->cost_usd, 3.0);  // totals are not windowed
}

TEST(TopAgentBoard, HoldsWaitUntilDecidedAndDenialsCount) {
  AgentBoard b;
  b.feed(action(1, "a", "paused", "h1"));
  b.feed(action(2, "a", "paused", "h2"));
  b.feed(action(3, "a", "paused", "h3"));
  EXPECT_EQ(b.find("a")->holds_waiting.size(), 3u);
  b.feed(action(4, "a", "approved", "h1"));
  b.feed(action(5, "a", "denied", "h2"));
  EXPECT_EQ(b.find("a")->holds_waiting.size(), 1u);
  EXPECT_EQ(b.find("a")->holds_waiting.count("h3"), 1u);
  b.feed(action(6, "a", "prevented"));
  b.feed(action(7, "a", "killed"));
  b.feed(action(8, "a", "alerted"));
  EXPECT_EQ(b.find("a")->denials, 3u);  // denied h2, prevented, killed
  b.feed(action(9, "a", "killed", "h3"));
  EXPECT_EQ(b.find("a")->holds_waiting.size(), 0u);
}

TEST(TopAgentBoard, SortsByEachKey) {
  AgentBoard b;
  b.feed(call(1, "x", 5.0));               // most cost, old
  b.feed(call(100, "y", 1.0));             // recent: highest $/min
  b.feed(call(100, "y", 1.0, "", "500"));  // y: 2 calls, 1 error
  b.feed(fmt::format(R"({{"type":"file.mutation","time":"{}","agent":{},"op":"write"}})", at(100),
                     agent("z", "alpha")));
  auto ids = [&](SortKey k) {
    std::string s;
    for (auto* a : b.sorted(k)) s += a->id;
    return s;
  };
  EXPECT_EQ(ids(SortKey::kCost), "xyz");
  EXPECT_EQ(ids(SortKey::kRate), "yzx");  // x and z at 0: name breaks the tie (alpha first)
  EXPECT_EQ(ids(SortKey::kCalls), "yxz");
  EXPECT_EQ(ids(SortKey::kErrors), "yzx");
  EXPECT_EQ(ids(SortKey::kName), "zxy");  // alpha, then bot (x before y)
  SortKey k = SortKey::kCost;
  for (int i = 0; i < 5; ++i) k = next_sort(k);
  EXPECT_EQ(k, SortKey::kCost);
}

TEST(TopAgentBoard, BadLinesAreCountedNeverFatal) {
  AgentBoard b;
  b.feed("not json");
  b.feed("{\"type\":");
  b.feed("[1,2,3]");
  b.feed(R"({"time":"x"})");  // no type
  b.feed(std::string(kMaxLineBytes + 1, ' '));
  b.feed("");  // blank: not an event, not an error
  b.feed(R"({"type":"llm.call","agent":{"id":"a"},"status":"two hundred","usage":[1],)"
         R"("cost_usd":"free","time":12})");  // wrong types: tolerated
  b.feed(R"({"type":"process.exec","agent":null})");
  EXPECT_EQ(b.skipped(), 5u);
  EXPECT_EQ(b.lines(), 8u);
  ASSERT_NE(b.find("a"), nullptr);
  EXPECT_EQ(b.find("a")->calls, 1u);
  EXPECT_DOUBLE_EQ(b.find("a")->cost_usd, 0.0);
  EXPECT_EQ(b.agents(), 1u);
}

TEST(TopAgentBoard, BoundedAgentsHostsAndRecentRows) {
  AgentBoard b(3);
  for (int i = 0; i < 5; ++i) b.feed(call(i, fmt::format("a{}", i), 0.1));
  EXPECT_EQ(b.agents(), 3u);
  EXPECT_EQ(b.evicted(), 2u);
  EXPECT_EQ(b.find("a0"), nullptr);
  EXPECT_NE(b.find("a4"), nullptr);

  AgentBoard h;
  for (size_t i = 0; i < kMaxHostsPerAgent + 10; ++i)
    h.feed(fmt::format(R"({{"type":"net.connect","time":"{}","agent":{},"address":"10.0.{}.{}",)"
                       R"("port":80}})",
                       at(1), agent("a"), i / 256, i % 256));
  EXPECT_EQ(h.find("a")->hosts.size(), kMaxHostsPerAgent);
  EXPECT_TRUE(h.find("a")->hosts_capped);
  for (int i = 0; i < 50; ++i) h.feed(call(2, "a", 0.0));
  EXPECT_EQ(h.find("a")->recent_calls.size(), kRecentRows);
}

}  // namespace
}  // namespace rein::top
