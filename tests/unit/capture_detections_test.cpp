// The detection engine's inputs in a capture (pipeline/capture_detections.h): secret scans,
// the wall clock and the baselines go through the journal live and come back in replay.
#include "pipeline/capture_detections.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "pipeline/capture_inputs.h"

namespace {

using namespace rein;
using pipeline::MemoryJournal;
using pipeline::RecordingInputJournal;
using pipeline::ReplayInputJournal;

detect::SecretScanResult sample() {
  detect::SecretScanResult r;
  detect::SecretFinding f;
  f.type = detect::SecretType::kGithubToken;
  f.count = 2;
  f.fingerprint = "ghp:0123456789ab";
  f.locations = {"messages[0].content", "messages[2].content"};
  f.message_index = 0;
  f.escaped = true;
  r.findings.push_back(f);
  r.bytes_scanned = 1234;
  r.truncated = true;
  return r;
}

TEST(CaptureDetections, ScanResultRoundTrips) {
  auto d = pipeline::decode_scan(pipeline::encode_scan(sample()));
  ASSERT_TRUE(d);
  ASSERT_EQ(d->findings.size(), 1u);
  const auto& f = d->findings[0];
  EXPECT_EQ(f.type, detect::SecretType::kGithubToken);
  EXPECT_EQ(f.count, 2u);
  EXPECT_EQ(f.fingerprint, "ghp:0123456789ab");
  EXPECT_EQ(f.locations, sample().findings[0].locations);
  EXPECT_EQ(f.message_index, 0);
  EXPECT_TRUE(f.escaped);
  EXPECT_EQ(d->bytes_scanned, 1234u);
  EXPECT_TRUE(d->truncated);
  EXPECT_TRUE(pipeline::decode_scan(""));  // nothing found
  EXPECT_FALSE(pipeline::decode_scan("\xff\xff\xff garbage"));
}

// Live: the scan runs once and its result is recorded; replay answers with it without
// scanning (the capture holds no secret); the wall clock is recorded when it changes.
TEST(CaptureDetections, LiveRecordsAndReplayAnswers) {
  char tmpl[] = "/tmp/rein-capdet-XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  const std::string state = tmpl;
  {
    FILE* f = std::fopen((state + "/detect-baselines.json").c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs(R"({"version":1,"names":{"a":{"since":5,"items":{}}}})", f);
    std::fclose(f);
  }
  MemoryJournal sink;
  RecordingInputJournal live(sink);
  detect::DetectionEngine engine;
  ASSERT_TRUE(engine.set_state_dir(state));  // as `rein run` does before
  pipeline::journal_detections(engine, live, state);
  ASSERT_EQ(sink.entries.size(), std::size(pipeline::kDetectStateFiles));
  EXPECT_EQ(sink.entries[0].lookup().key(), "detect.state/detect-baselines.json");
  EXPECT_NE(sink.entries[0].lookup().value().find("\"since\":5"), std::string::npos);
  EXPECT_FALSE(sink.entries[1].lookup().found());  // no such file: recorded as absent

  ReplayInputJournal replay;
  EXPECT_FALSE(pipeline::detections_recorded(replay));
  for (const auto& e : sink.entries) replay.on_lookup(e.lookup());
  EXPECT_TRUE(pipeline::detections_recorded(replay));
  detect::DetectionEngine replayed;
  {
    pipeline::ReplayDetectionState st;
    ASSERT_TRUE(st.attach(replayed, replay));
    EXPECT_EQ(replayed.tracked(), engine.tracked());
    EXPECT_GT(replayed.tracked(), 0u);  // the baseline of "a"
  }
  pipeline::remove_tree(state);
}

}  // namespace
