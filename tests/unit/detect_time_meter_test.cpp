// The detections' time meter: about 1 in 8 scopes timed, and none once it is turned off
// (replay, which reports no detection time and so pays for no clock reads).
#include <gtest/gtest.h>

#include "detect/detection_engine.h"
#include "detect/time_meter.h"

namespace rein::detect {
namespace {

TEST(DetectTimeMeter, SamplesAboutOneInEight) {
  TimeMeter m;
  for (int i = 0; i < 8000; i++) auto t = m.scope();
  EXPECT_GT(m.timed_calls(), 700u);
  EXPECT_LT(m.timed_calls(), 1300u);
}

// The counter's ticks come out as nanoseconds: scopes of known length add up to about what
// they took (a loose bound: a sample of 1 in 8, and a busy host can stretch a scope).
TEST(DetectTimeMeter, EstimateIsInNanoseconds) {
  TimeMeter m;
  using namespace std::chrono;
  const auto spin = [](nanoseconds d) {
    const auto end = steady_clock::now() + d;
    while (steady_clock::now() < end) {
    }
  };
  for (int i = 0; i < 800; i++) {
    auto t = m.scope();
    spin(microseconds(20));
  }
  EXPECT_GT(m.estimated_ns(), 800u * 20'000u / 2);
  EXPECT_LT(m.estimated_ns(), 800u * 20'000u * 2);
  EXPECT_LT(m.clock_ns(), 1000u);
}

TEST(DetectTimeMeter, OffTimesNothing) {
  TimeMeter m;
  m.set_enabled(false);
  for (int i = 0; i < 8000; i++) auto t = m.scope();
  EXPECT_EQ(m.timed_calls(), 0u);
  EXPECT_EQ(m.estimated_ns(), 0u);
}

TEST(DetectTimeMeter, UntimedEngineHandsTheExtractorsObserver) {
  DetectionEngine timed, untimed;
  untimed.set_timing(false);
  // the timed engine wraps the extractor's observer; the untimed one hands it over directly
  EXPECT_NE(timed.body_observer(), untimed.body_observer());
  proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.body = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";
  for (auto* e : {&timed, &untimed}) {
    llm::BodyObserver* o = e->body_observer();
    for (int i = 0; i < 64; i++) o->begin(ex, llm::Api::kOpenAIChat);
  }
  EXPECT_EQ(untimed.meter().timed_calls(), 0u);
  EXPECT_GT(timed.meter().timed_calls(), 0u);
}

}  // namespace
}  // namespace rein::detect
