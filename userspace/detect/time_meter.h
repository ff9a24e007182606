// How long the pipeline spends on detections, estimated from timing a random 1 in 8 of the
// calls into them. Timing every call would cost a large share of what it measures (a
// streamed LLM exchange makes a call per streamed event, each a few hundred nanoseconds);
// sampling, and the cheap clock below, keep the meter small. Rarer sampling makes the
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

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "common/one_in.h"

namespace rein::detect {

// The meter's clock: the time-stamp counter where there is one. A sampled scope reads it
// twice, and a streamed call makes a dozen scopes: through clock_gettime (the kvm-clock
// page on this class of VM) the reads were about a tenth of what the meter measured, in
// perf samples of the live sensor. Ticks become nanoseconds at one rate, taken once per
// process against the steady clock: right where the counter's rate is constant (the
// constant_tsc CPUs of this class of machine), and only an estimate's error elsewhere.
class MeterClock {
 public:
  static uint64_t ticks() {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  }
  static double ns_per_tick() {
    static const double rate = calibrate();
    return rate;
  }

 private:
  static double calibrate() {
#if defined(__x86_64__)
    // ~0.2 ms against the steady clock: the rate to about 1%, enough for an estimate
    using namespace std::chrono;
    const auto s0 = steady_clock::now();
    const uint64_t t0 = ticks();
    auto s1 = s0;
    uint64_t t1 = t0;
    while (s1 - s0 < microseconds(200)) {
      s1 = steady_clock::now();
      t1 = ticks();
    }
    const double ns = double(duration_cast<nanoseconds>(s1 - s0).count());
    return t1 > t0 ? ns / double(t1 - t0) : 1.0;
#else
    return 1.0;
#endif
  }
};

class TimeMeter {
 public:
  static constexpr uint64_t kOneIn = 8;
  static constexpr uint64_t kClipNs = 1'000'000;

  TimeMeter() : clip_ticks_(uint64_t(double(kClipNs) / MeterClock::ns_per_tick())) {
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < 64; i++) {
      const uint64_t a = MeterClock::ticks();
      const uint64_t b = MeterClock::ticks();
      least = std::min<uint64_t>(least, b - a);
    }
    clock_ticks_ = least;
  }

  class Scope {
   public:
    explicit Scope(TimeMeter* m) : m_(m) {
      if (m_) t0_ = MeterClock::ticks();
    }
    ~Scope() {
      if (!m_) return;
      const uint64_t t1 = MeterClock::ticks();
      m_->add(t1 > t0_ ? t1 - t0_ : 0);  // a migration to a CPU whose counter lags: nothing
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    TimeMeter* m_;
    uint64_t t0_ = 0;
  };

  // A nested scope must not be timed again: callers time only the outermost entry.
  Scope scope() { return Scope(enabled_ && sample() ? this : nullptr); }
  // Off: nothing is timed (replay, which reports no detection time).
  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  uint64_t estimated_ns() const { return to_ns(ticks_ * kOneIn); }
  uint64_t timed_calls() const { return timed_; }
  uint64_t clipped() const { return clipped_; }
  uint64_t clock_ns() const { return to_ns(clock_ticks_); }

 private:
  static uint64_t to_ns(uint64_t ticks) {
    return uint64_t(double(ticks) * MeterClock::ns_per_tick() + 0.5);
  }
  void add(uint64_t d) {
    timed_++;
    if (d > clip_ticks_) {
      d = clip_ticks_;
      clipped_++;
    }
    ticks_ += d > clock_ticks_ ? d - clock_ticks_ : 0;
  }
  bool sample() { return pick_.next(); }
  bool enabled_ = true;
  OneIn<kOneIn> pick_;
  uint64_t ticks_ = 0;
  uint64_t timed_ = 0;
  uint64_t clipped_ = 0;
  uint64_t clock_ticks_ = 0;
  uint64_t clip_ticks_;
};

}  // namespace rein::detect
