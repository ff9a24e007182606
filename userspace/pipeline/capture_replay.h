// `rein replay`: the same SensorPipeline, rebuilt from a capture's Context and fed its
// entries in order, prints the lines the live sensor printed. Nothing live is asked (the
// capture's Lookup entries answer) and nothing is acted on (a no-op actuator): with another
// policy it says what that policy would have done.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "capture/capture.pb.h"
#include "common/result.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/sensor_pipeline.h"

namespace rein::pipeline {

// --from / --to: RFC 3339 ("2026-11-30T14:02:00Z", fractions and +hh:mm accepted) or a
// time of day "HH:MM[:SS]" (UTC) on the day of the capture's first event.
struct TimeSpec {
  bool time_of_day = false;
  int64_t epoch_ns = 0;  // absolute; or seconds-of-day * 1e9 when time_of_day
};
std::optional<TimeSpec> parse_time_spec(std::string_view text);
// A line's "time" (RFC 3339 as the pipeline prints it) in ns since the epoch.
std::optional<int64_t> parse_rfc3339_ns(std::string_view text);
// The absolute time of a spec, given the first event's time.
int64_t resolve_time_spec(const TimeSpec& t, int64_t first_event_ns);

struct ReplayOptions {
  std::optional<TimeSpec> from, to;
  std::string agent;  // agent id or name; empty: all
  // --policy: its text replaces the capture's; policy.action lines are marked
  // "replay": true with "would": the outcome the live enforcer would have produced.
  std::optional<std::string> policy_path, policy_text;
  std::string default_prices_path;  // when the capture's prices file is not here
  // Benchmarks: replay without the detection engine even when the live sensor ran one, so
  // the engine's share of the pipeline's CPU is measured on identical input.
  bool no_detections = false;
};

// Filters replayed lines by time and agent; marks policy.action lines under --policy.
class ReplayFilter final : public LineSink {
 public:
  ReplayFilter(LineSink& out, const ReplayOptions& o) : out_(out), o_(o) {}
  void write_line(std::string_view line) override;
  void flush() override { out_.flush(); }
  uint64_t write_errors() const override { return out_.write_errors(); }
  uint64_t written() const { return written_; }

 private:
  LineSink& out_;
  const ReplayOptions& o_;
  std::optional<int64_t> first_ns_;
  uint64_t written_ = 0;
};

struct ReplayStats {
  uint64_t entries = 0, records = 0, lookups = 0, secrets = 0, ticks = 0, health = 0;
  uint64_t unknown = 0;
};

class Replayer {
 public:
  Replayer(LineSink& out, ReplayOptions o);
  ~Replayer();
  Result<void> feed(const capture::Entry& e);
  // A ring record's bytes as CaptureReader::next_fast hands them over: the same as feed() of
  // an Entry holding that record.
  Result<void> feed_record(std::string_view data);
  // End of the capture: finishes the pipeline if the capture had no Finish entry (the live
  // sensor was killed), so open streams are still delivered.
  void end();
  const ReplayStats& stats() const { return stats_; }

 private:
  Result<void> on_context(const capture::Context& c);
  void on_record(std::string_view bytes);
  Result<void> ensure_built();
  void on_adopt(const capture::Adopt& a);
  Result<void> install_policy(const std::string& text, const std::string& path);

  ReplayOptions o_;
  ReplayFilter filter_;
  ReplayStats stats_;
  bool have_context() const {
    return context_.abi_version() != 0 || context_.selector_specs_size();
  }
  capture::Context context_;
  capture::Adopt adopt_parts_;  // an Adopt snapshot split over several entries, so far
  ReplayInputJournal journal_;
  RecordedCredentials creds_;
  struct Built;
  std::unique_ptr<Built> b_;
  bool finished_ = false;
};

}  // namespace rein::pipeline
