// Detections in a capture and in its replay. The detection engine reads three things the
// ring records do not carry: the baselines it learned earlier, in --state-dir (read once, at
// start), the wall clock (learning windows and ageing) and the secret scanner's findings in
// request bodies (the capture holds placeholders where the secrets were, so replay cannot
// scan again). Live, with --capture, each goes through the input journal as a Lookup
// ("detect.state/<file>", "detect.wall", "detect.scan"); replay answers from those and
// keeps the engine's files in a temporary directory, never in --state-dir.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "detect/detection_engine.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/input_journal.h"

namespace rein::pipeline {

// The files DetectionEngine::set_state_dir reads (each is the Lookup "detect.state/<file>").
inline constexpr std::string_view kDetectStateFiles[] = {"detect-baselines.json",
                                                         "detect-prompt-baselines.json"};
inline constexpr std::string_view kDetectWallKey = "detect.wall";
inline constexpr std::string_view kDetectScanKey = "detect.scan";

// Live: records the baseline files the engine loaded from state_dir (set_state_dir) and
// routes the engine's wall clock and secret scans through `journal`. Call once, before the
// first record; `journal` must outlive the engine's use.
void journal_detections(detect::DetectionEngine& d, InputJournal& journal,
                        const std::string& state_dir);

// Whether the live sensor ran the detection engine (journal_detections recorded its state
// files, found or not): replay runs it only then.
bool detections_recorded(const ReplayInputJournal& journal);

// Replay: the engine's inputs from the capture. attach() loads the recorded baselines (from
// a temporary directory this object owns and removes) and answers the wall clock and the
// scans from `journal`.
class ReplayDetectionState {
 public:
  ReplayDetectionState() = default;
  ~ReplayDetectionState();
  ReplayDetectionState(const ReplayDetectionState&) = delete;
  ReplayDetectionState& operator=(const ReplayDetectionState&) = delete;
  Result<void> attach(detect::DetectionEngine& d, InputJournal& journal);

 private:
  std::string dir_;
};

// The Lookup value of a scan (capture::SecretScan, serialized) and back; nullopt for bytes
// that are not one (a damaged capture).
std::string encode_scan(const detect::SecretScanResult& r);
std::optional<detect::SecretScanResult> decode_scan(std::string_view bytes);

}  // namespace rein::pipeline
