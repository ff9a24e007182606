// The live side of a capture: every input the live loop gives the SensorPipeline becomes a
// capture::Entry (capture/capture.proto), written after the pipeline has used it, so that
// what the pipeline asked of the live system while processing it (Lookup entries) and the
// placeholders of credentials it contained (SecretFingerprint entries) come first.
// docs/capture.md lists the entries and what replay can and cannot reproduce.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "capture/capture.pb.h"
#include "capture/capture_writer.h"
#include "common/one_in.h"
#include "common/string_map.h"
#include "pipeline/capture_scrubber.h"
#include "pipeline/input_journal.h"
#include "pipeline/journal_sink.h"
#include "pipeline/journal_stage.h"
#include "pipeline/sensor_pipeline.h"

namespace rein::pipeline {

// The capture writer of `rein run --capture` (never blocks; drops are its stats()).
class CaptureWriterJournal final : public JournalSink {
 public:
  explicit CaptureWriterJournal(capture::CaptureWriter& w) : w_(w) {}
  void append(capture::Entry&& e) override { w_.append(e); }
  void append_record(std::string_view data) override { w_.append_record(data); }

 private:
  capture::CaptureWriter& w_;
};

class MemoryJournal final : public JournalSink {
 public:
  void append(capture::Entry&& e) override { entries.push_back(std::move(e)); }
  std::vector<capture::Entry> entries;
};

// Live: asks, and records an answer when it differs from the last one recorded for its key
// (a cgroup path is asked for every event, recorded once).
class RecordingInputJournal final : public InputJournal {
 public:
  explicit RecordingInputJournal(JournalSink& sink) : sink_(sink) {}
  std::optional<std::string> lookup(
      std::string_view key, const std::function<std::optional<std::string>()>& compute) override;

 private:
  JournalSink& sink_;
  StringMap<std::optional<std::string>> last_;  // found by view: asked for every event
};

// Replay: answers with the latest Lookup entry read for the key; never asks the system.
class ReplayInputJournal final : public InputJournal {
 public:
  void on_lookup(const capture::Lookup& l);
  std::optional<std::string> lookup(
      std::string_view key, const std::function<std::optional<std::string>()>& compute) override;
  // Whether the capture answered `key` at all (an answer can be "not found").
  bool recorded(std::string_view key) const { return answers_.count(std::string(key)) != 0; }

 private:
  std::unordered_map<std::string, std::optional<std::string>> answers_;
};

// The /proc files ProcessTable::seed_from_proc reads, for every process: stat, the Uid line
// of status, cmdline (key-shaped arguments replaced by `scrubber`), exe, cwd, cgroup.
std::vector<capture::ProcFile> snapshot_proc(const std::string& proc_root, SecretScrubber* scrubber,
                                             std::vector<SecretMapping>* mappings);
// rm -r of a scratch directory (make_scratch_dir).
void remove_tree(const std::string& dir);
// A new private directory (0700) for replay's scratch files, named `name`-XXXXXX: in /dev/shm
// when it is there (memory, and replay's scratch files are short-lived), else in $TMPDIR or
// /tmp.
Result<std::string> make_scratch_dir(std::string_view name);

// sensor.health's extra fields, as (key, JSON value) pairs: rendered once, so the live line
// and the Health entry (and replay) carry the same text.
using HealthFields = std::vector<std::pair<std::string, std::string>>;
HealthFields render_health_fields(const std::function<void(sinks::JsonWriter&)>& extra);
std::function<void(sinks::JsonWriter&)> write_health_fields(const HealthFields& fields);

// Encodings of the two callback answers the cli gives the pipeline.
std::string encode_coverage(const TlsCoverage& c);
TlsCoverage decode_coverage(std::string_view s);
std::string track_key(uint32_t tgid, uint32_t root, uint32_t selector, uint64_t start_ns);

class CaptureRecorder {
 public:
  // fingerprinter: the pipeline's; its observer is set to this recorder's scrubber.
  CaptureRecorder(JournalSink& sink, llm::Fingerprinter& fingerprinter);
  ~CaptureRecorder();

  InputJournal* inputs() { return &inputs_; }
  void context(capture::Context c);
  // One ring record, after the pipeline (and the enforcer, for holds) processed it. Staged
  // with every entry after it until the turn's tick() (or flush()): then scrubbed and queued.
  void record(std::span<const uint8_t> bytes);
  // The end of a turn of the live loop: a Tick entry, then everything staged goes out.
  void tick(uint64_t now_boot_ns);
  void flush();
  // This thread's CPU time in flush(): scrubbing the records and queueing every entry,
  // estimated from a random 1 in 8 flushes.
  uint64_t cpu_ns() const { return cpu_ns_; }
  // emit_health on the pipeline and the Health entry, with the same fields.
  void health(SensorPipeline& pipe, uint64_t now_boot_ns, std::string_view state,
              const std::vector<std::pair<std::string, uint64_t>>& kernel,
              const std::function<void(sinks::JsonWriter&)>& extra = {});
  // adopt_existing from a snapshot of proc_root (so live and replay read the same files);
  // the snapshot goes into Adopt entries of at most about adopt_chunk_bytes each (an entry
  // over kMaxEntryBytes would be dropped). The pipeline reads the snapshot in memory
  // (ProcSnapshotSource), as replay does.
  size_t adopt(SensorPipeline& pipe, const std::string& proc_root);
  static constexpr size_t kAdoptChunkBytes = 3u << 20;
  void set_adopt_chunk_bytes(size_t n) { adopt_chunk_bytes_ = n; }  // tests
  void policy_reload(const std::string& path, const std::string& text, bool ok);
  void finish(uint64_t now_boot_ns);
  TrackFn wrap(TrackFn live);
  TlsCoverageFn wrap(TlsCoverageFn live);

  // Records the ring record when the live loop's handling of it ends (every return path).
  class RecordScope {
   public:
    RecordScope(CaptureRecorder* r, std::span<const uint8_t> b) : r_(r), b_(b) {}
    ~RecordScope() {
      if (r_) r_->record(b_);
    }
    RecordScope(const RecordScope&) = delete;
    RecordScope& operator=(const RecordScope&) = delete;

   private:
    CaptureRecorder* r_;
    std::span<const uint8_t> b_;
  };

 private:
  // What a turn may stage before it is flushed anyway (a burst of records).
  static constexpr size_t kMaxStagedBytes = 1u << 20;
  void append_secrets(JournalSink& to, std::vector<SecretMapping>&& m);
  JournalSink& out_;
  JournalStage sink_;  // every entry goes through it (to out_), so the order stays the loop's
  llm::Fingerprinter& fingerprinter_;
  SecretScrubber scrubber_;
  RecordingInputJournal inputs_;
  std::string scratch_;
  size_t adopt_chunk_bytes_ = kAdoptChunkBytes;
  uint64_t cpu_ns_ = 0;
  OneIn<8> timed_flush_;
};

// The live loop's callbacks, journaled when a capture runs (rec non-null).
TrackFn capture_track(CaptureRecorder* rec, TrackFn live);
TlsCoverageFn capture_coverage(CaptureRecorder* rec, TlsCoverageFn live);

// What replay needs to rebuild this pipeline (merged into the writer's first Context).
capture::Context pipeline_context(const SensorPipeline& pipe,
                                  const std::vector<Selector>& selectors,
                                  const std::string& policy_path, const std::string& prices_path,
                                  const std::string& prices_override, uint64_t decode_budget_bytes);

// emit_health on the pipeline; also a Health entry when a capture runs (rec non-null).
void emit_health_maybe_captured(CaptureRecorder* rec, SensorPipeline& pipe, uint64_t now_boot_ns,
                                std::string_view state,
                                const std::vector<std::pair<std::string, uint64_t>>& kernel,
                                const std::function<void(sinks::JsonWriter&)>& extra = {});

}  // namespace rein::pipeline
