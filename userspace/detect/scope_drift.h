// Scope drift: per agent name, a baseline of executables, directories written, hosts:ports
// and LLM providers/models, declared in the policy or learned during `learn_for` from the
// name's first sighting (wall clock, kept in --state-dir so it survives restarts). After
// that, the first action outside the baseline is one event; the new item then joins the
// baseline (so one new directory is one event, and writes below it are inside), entries
// unseen for `max_age` age out, and at most max_events_per_hour events per name are sent
// (the rest are counted in the next one).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "detect/detector_util.h"

namespace rein::detect {

using WallClock = std::function<int64_t()>;  // unix seconds

class ScopeDriftDetector {
 public:
  void configure(const policy::ScopeDriftConfig& c);
  void set_time_format(TimeFormat f) { time_ = std::move(f); }
  void set_wall_clock(WallClock c) {
    wall_ = std::move(c);
    wall_at_ns_ = 0;
    wall_read_ = false;
  }
  // Learned baselines are loaded from and saved to this file (empty: memory only).
  Result<void> load(const std::string& path);
  Result<void> save();
  bool dirty() const { return dirty_; }

  void on_exec(const ExecFact& f, std::vector<Detection>& out);
  void on_file(const FileFact& f, std::vector<Detection>& out);
  void on_connect(const ConnectFact& f, std::vector<Detection>& out);
  void on_llm(const LlmFact& f, std::vector<Detection>& out);
  size_t tracked() const;
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)

  // Parses a saved baseline file; exposed for the fuzzer.
  struct Baseline {
    int64_t since = 0;                     // unix seconds of the first sighting
    std::map<std::string, int64_t> items;  // "dimension\x1fvalue" -> last seen (unix s)
    int64_t hour_start = 0;
    uint32_t hour_events = 0;
    uint64_t suppressed = 0;
  };
  static Result<std::map<std::string, Baseline>> parse(std::string_view text);

 private:
  void observe(const Who& who, uint64_t ts, std::string_view dimension, const std::string& value,
               std::vector<Detection>& out);
  // Unix seconds for a fact at boot time ts_ns: the clock is read again only once the facts'
  // own times have moved on a second from the last reading (the baseline keeps whole
  // seconds), instead of for every event of a busy agent (under --capture, through the
  // input journal's lookup).
  int64_t now(uint64_t ts_ns);

  policy::ScopeDriftConfig cfg_;
  TimeFormat time_;
  WallClock wall_;
  int64_t wall_s_ = 0;
  uint64_t wall_at_ns_ = 0;
  bool wall_read_ = false;
  std::string path_;
  std::string llm_value_;  // on_llm's "provider/model", reused
  std::map<std::string, Baseline> learned_;
  bool dirty_ = false;
  // Per dimension, the last value found fresh in a learned baseline: an agent repeats its
  // model, hosts and executables call after call, and a hit skips the formatting and the map
  // walks. Cleared whenever a baseline can lose an item (configure, load, eviction).
  struct Fresh {
    std::string name, value;
    int64_t seen = 0;  // the item's last-seen time when it was found
    bool valid = false;
  };
  std::array<Fresh, 4> fresh_;
  void forget_fresh() {
    for (auto& f : fresh_) f.valid = false;
  }
};

// The directory a write lands in, with scratch trees folded (/tmp/x/y -> /tmp); empty for
// paths not judged (relative, /proc, /dev, /sys).
std::string written_directory(std::string_view path);

}  // namespace rein::detect
