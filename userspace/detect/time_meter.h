// How long the pipeline spends on detections, estimated from timing a random 1 in 8 of the
// calls into them. Timing every call would cost about a fifth of what it measures (a clock
// read is ~30 ns on this class of VM, and a streamed LLM exchange makes ~100 such calls, one
// per streamed event); sampling keeps the meter near 1% of it. Rarer sampling makes the
// estimate unstable: with 1 in 32, one sampled rare long call weighs 32 times, and a CI run
// read ~40% where runs at 1 in 8 read ~13-20%. Two corrections keep the estimate honest: the
// clock's own cost (the least of back-to-back reads, measured at start) is taken off every
// sample, since most calls are not much longer than that; and a sample over kClipNs counts
// as kClipNs, since on a busy host that is the pipeline's thread losing the CPU, not
// detector work (clipped() says how often; a detector call that long on its own would need
// a request body of about a megabyte). Benchmarks divide the estimate by the sensor's CPU
// time for the detections' share, a figure the A/B of two whole runs cannot give on a noisy
// host.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>

#include "common/one_in.h"

namespace rein::detect {

class TimeMeter {
 public:
  static constexpr uint64_t kOneIn = 8;
  static constexpr uint64_t kClipNs = 1'000'000;

  TimeMeter() {
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < 64; i++) {
      auto a = std::chrono::steady_clock::now();
      auto b = std::chrono::steady_clock::now();
      least = std::min<uint64_t>(least, uint64_t((b - a).count()));
    }
    clock_ns_ = least;
  }

  class Scope {
   public:
    explicit Scope(TimeMeter* m) : m_(m) {
      if (m_) t0_ = std::chrono::steady_clock::now();
    }
    ~Scope() {
      if (!m_) return;
      const auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::steady_clock::now() - t0_);
      m_->add(uint64_t(std::max<int64_t>(d.count(), 0)));
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    TimeMeter* m_;
    std::chrono::steady_clock::time_point t0_{};
  };

  // A nested scope must not be timed again: callers time only the outermost entry.
  Scope scope() { return Scope(enabled_ && sample() ? this : nullptr); }
  // Off: nothing is timed (replay, which reports no detection time).
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  uint64_t estimated_ns() const { return ns_ * kOneIn; }
  uint64_t timed_calls() const { return timed_; }
  uint64_t clipped() const { return clipped_; }
  uint64_t clock_ns() const { return clock_ns_; }

 private:
  void add(uint64_t d) {
    timed_++;
    if (d > kClipNs) {
      d = kClipNs;
      clipped_++;
    }
    ns_ += d > clock_ns_ ? d - clock_ns_ : 0;
  }
  bool sample() { return pick_.next(); }
  bool enabled_ = true;
  OneIn<kOneIn> pick_;
  uint64_t ns_ = 0;
  uint64_t timed_ = 0;
  uint64_t clipped_ = 0;
  uint64_t clock_ns_ = 0;
};

}  // namespace rein::detect
