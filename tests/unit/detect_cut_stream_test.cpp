// A stream that began with 200 but was cut before its end (connection closed before the
// last chunk) is a failed call for the retry spiral; a complete stream is not.
#include <gtest/gtest.h>

#include "detect/detection_engine.h"

namespace rein::detect {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;

proto::HttpExchange streamed(int i, bool complete) {
  proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.target = "/v1/chat/completions";
  // Each request differs (a growing conversation), so only the failure pattern can fire.
  ex.request.body =
      "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\","
      "\"content\":\"step " +
      std::to_string(i) + "\"}]}";
  proto::HttpResponse r;
  r.status = 200;
  r.headers.push_back({"content-type", "text/event-stream"});
  r.body =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\"Hel\"}}]}\n\n";
  if (complete)
    r.body +=
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"stop\"}]}\n\ndata: [DONE]\n\n";
  r.complete = complete;
  ex.response = std::move(r);
  return ex;
}

llm::LlmCall ok_call() {
  llm::LlmCall c;
  c.provider = "openai";
  c.api = "openai.chat";
  c.request_model = "gpt-4o";
  c.status = 200;
  c.stream = true;
  c.cost_usd = 0.002;
  return c;
}

std::vector<Detection> run(DetectionEngine& e, bool complete, int n) {
  std::vector<Detection> all;
  for (int i = 0; i < n; i++) {
    auto content = e.content(streamed(i, complete));
    auto c = ok_call();
    Who who{100, 100, "sess-cut", "coder"};
    auto ds = e.on_llm({uint64_t(i + 1) * kSec, who, &c, &content});
    all.insert(all.end(), ds.begin(), ds.end());
  }
  return all;
}

TEST(DetectCutStream, ExtractorMarksCutResponse) {
  DetectionEngine e;
  EXPECT_TRUE(e.content(streamed(0, false)).response_cut);
  EXPECT_FALSE(e.content(streamed(0, true)).response_cut);
  auto err = streamed(0, false);
  err.response->status = 429;  // an error is judged by its status, not as a cut
  EXPECT_FALSE(e.content(err).response_cut);
}

TEST(DetectCutStream, CutStreamsAreFailures) {
  DetectionEngine e;
  auto ds = run(e, false, 8);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].kind, "retry_spiral");
  EXPECT_NE(ds[0].evidence.find("\"pattern\":\"failures\""), std::string::npos) << ds[0].evidence;
  EXPECT_NE(ds[0].evidence.find("\"cut_streams\":6"), std::string::npos) << ds[0].evidence;
  // Cut calls are wasted spend.
  EXPECT_GT(ds[0].cost_usd, 0.0);
}

TEST(DetectCutStream, CompleteStreamsAreNot) {
  DetectionEngine e;
  EXPECT_TRUE(run(e, true, 12).empty());
}

TEST(DetectCutStream, ACompleteStreamEndsTheSpiral) {
  DetectionEngine e;
  std::vector<Detection> all;
  Who who{100, 100, "sess-cut", "coder"};
  for (int i = 0; i < 20; i++) {
    auto content = e.content(streamed(i, i % 3 == 2));  // two cut, then one complete
    auto c = ok_call();
    auto ds = e.on_llm({uint64_t(i + 1) * kSec, who, &c, &content});
    all.insert(all.end(), ds.begin(), ds.end());
  }
  EXPECT_TRUE(all.empty());
}

// A cut stream is judged when its stream closes, after the calls that followed it: the
// facts come out of order and no gap may wrap around.
TEST(DetectCutStream, OutOfOrderFactsGiveNoNegativeGaps) {
  Who who{100, 100, "sess-cut", "coder"};
  std::vector<Detection> all;
  policy::DetectionsConfig cfg;
  cfg.retry_spiral.failures = 3;
  DetectionEngine e3;
  e3.configure(cfg);
  for (uint64_t ts : {5 * kSec, 2 * kSec, 3 * kSec}) {
    auto content = e3.content(streamed(int(ts / kSec), false));
    auto c = ok_call();
    auto ds = e3.on_llm({ts, who, &c, &content});
    all.insert(all.end(), ds.begin(), ds.end());
  }
  ASSERT_EQ(all.size(), 1u);
  EXPECT_NE(all[0].evidence.find("\"gaps_s\":[0,1]"), std::string::npos) << all[0].evidence;
}

}  // namespace
}  // namespace rein::detect
