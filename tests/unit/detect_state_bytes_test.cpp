// sensor.health's pipeline.detection_state_bytes: the detectors' memory estimate grows with
// what they hold (sessions, windows, mentions, learned scope) and levels off at their caps
// however many sessions come and go.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detect/detection_engine.h"

namespace rein::detect {
namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;

proto::HttpExchange exchange(int i) {
  proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.target = "/v1/chat/completions";
  ex.request.body =
      "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief " +
      std::to_string(i % 7) + "\"},{\"role\":\"user\",\"content\":\"task " + std::to_string(i) +
      "\"}]}";
  proto::HttpResponse r;
  r.status = 200;
  r.headers.push_back({"content-type", "application/json"});
  r.body = "{\"choices\":[{\"message\":{\"content\":\"fetch https://svc" + std::to_string(i) +
           ".example.com/v1/items and run pip install pkg" + std::to_string(i) + "\"}}]}";
  r.complete = true;
  ex.response = std::move(r);
  return ex;
}

llm::LlmCall call(int i, int model) {
  llm::LlmCall c;
  c.provider = "openai";
  c.api = "openai.chat";
  c.request_model = model ? "gpt-4o-mini" : "gpt-4o";
  c.status = 200;
  c.response_id = "chatcmpl-" + std::to_string(i);
  c.usage.input_tokens = 100 + i % 13;
  c.usage.output_tokens = 20;
  c.cost_usd = 0.001;
  return c;
}

class Feeder {
 public:
  // A call to each of two models in each of `sessions` new sessions of agent `name` (two
  // session x model keys each), plus a written file and a connection (scope drift's
  // learned baseline).
  void sessions(int sessions, const std::string& name = "coder") {
    for (int k = 0; k < sessions; k++, n_++) {
      const std::string session = "sess-" + std::to_string(n_);
      const Who who{uint32_t(1000 + n_), uint32_t(1000 + n_), session, name};
      for (int model = 0; model < 2; model++) {
        ts_ += kSec / 10;
        auto content = e.content(exchange(n_));
        auto c = call(n_, model);
        e.on_llm({ts_, who, &c, &content});
      }
      const std::string path = "/work/dir" + std::to_string(n_ % 5000) + "/f.txt";
      e.on_file({ts_, who, path, "write"});
      e.on_connect({ts_, who, "10.0.0.1", "", uint16_t(1024 + n_ % 5000), 0});
    }
  }
  DetectionEngine e;

 private:
  int n_ = 0;
  uint64_t ts_ = 1000 * kSec;
};

TEST(DetectStateBytes, GrowsWithState) {
  Feeder f;
  const size_t empty = f.e.state_bytes();
  f.sessions(10);
  const size_t ten = f.e.state_bytes();
  f.sessions(90);
  const size_t hundred = f.e.state_bytes();
  f.sessions(900);
  const size_t thousand = f.e.state_bytes();
  EXPECT_LT(empty, ten);
  EXPECT_LT(ten, hundred);
  EXPECT_LT(hundred, thousand);
  // Each session holds at least its keys and a call's window: not a count of entries.
  EXPECT_GT(thousand, f.e.tracked() * 16);
  EXPECT_GT(thousand - hundred, size_t(900) * 100);
}

TEST(DetectStateBytes, LevelsOffAtTheCaps) {
  Feeder f;
  // Just past every per-session cap (4096 sessions, 8192 session x model keys; eviction
  // at a cap walks the map, so the test stays near them), then 100 more sessions: without
  // the caps that would be 2.4% more state.
  f.sessions(4100);
  const size_t full = f.e.state_bytes();
  const size_t entries = f.e.tracked();
  f.sessions(100);
  const size_t later = f.e.state_bytes();
  EXPECT_LE(f.e.tracked(), entries + entries / 200);
  EXPECT_LE(later, full + full / 200);
  EXPECT_GE(later, full - full / 200);
  // What the caps allow for this shape of traffic: tens of MiB at most, not unbounded.
  EXPECT_LT(later, size_t(64) << 20);
}

TEST(DetectStateBytes, ScopeBaselinesStopAtTheNameCap) {
  ScopeDriftDetector scope;
  std::vector<Detection> out;
  uint64_t ts = 1000 * kSec;
  auto names = [&](int from, int to) {
    for (int i = from; i < to; i++) {
      const std::string name = "agent-" + std::to_string(i);
      const Who who{uint32_t(i + 1), uint32_t(i + 1), name, name};
      scope.on_file({ts += kSec, who, "/work/" + name + "/out.txt", "write"}, out);
    }
  };
  names(0, 200);
  const size_t some = scope.state_bytes();
  names(200, 1030);  // the cap is 1024 agent names
  const size_t full = scope.state_bytes();
  names(1030, 1230);
  EXPECT_LT(some, full);
  EXPECT_LE(scope.state_bytes(), full + full / 100);
}

}  // namespace
}  // namespace rein::detect
