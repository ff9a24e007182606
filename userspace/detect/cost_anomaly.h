// Cost anomaly, per agent name: a single call's cost, or the spend in one bucket of time,
// far above the agent's own history (an EWMA of the mean and variance: flagged above
// mean + sigmas*sd AND above ratio*mean AND at least min_usd, once min_samples are known);
// and runaway context growth: total input tokens rising growth_calls calls in a row in one
// session (and model) to at least growth_factor times the first of the run.
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "common/string_map.h"
#include "detect/detector_util.h"

namespace rein::detect {

struct Ewma {
  uint64_t n = 0;
  double mean = 0, var = 0;
  void add(double x, double alpha);
  double sd() const;
};

class CostAnomalyDetector {
 public:
  void configure(const policy::CostAnomalyConfig& c) { cfg_ = c; }
  void set_time_format(TimeFormat f) { time_ = std::move(f); }
  void on_llm(const LlmFact& f, std::vector<Detection>& out);
  void tick(uint64_t now_ns);
  void on_session_end(std::string_view session);
  size_t tracked() const;
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)

 private:
  struct Name {
    Ewma per_call, per_bucket;
    uint64_t bucket_start = 0;
    double bucket_usd = 0;
    uint32_t bucket_calls = 0;
    bool bucket_fired = false;
    uint64_t last = 0;
  };
  struct Run {
    int64_t first = 0, last_tokens = 0;
    uint32_t length = 0;
    bool fired = false;
    uint64_t first_ts = 0, last = 0;
  };
  // A session's runs, one per model it called (a handful): found by the session's key, then
  // by model in a short list, instead of by a "session + model" key string built and hashed
  // for every call; a session's end drops them all at once.
  struct ModelRun {
    std::string model;
    Run run;
  };
  struct SessionRuns {
    std::vector<ModelRun> models;
    uint64_t last = 0;
  };
  bool anomalous(const Ewma& e, double x) const;
  void close_bucket(Name& n);

  policy::CostAnomalyConfig cfg_;
  TimeFormat time_;
  StringMap<Name> names_;
  StringMap<SessionRuns> runs_;  // by session
};

}  // namespace rein::detect
