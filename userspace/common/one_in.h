// A random 1 in N choice, for measuring a hot path by sampling it: reading a clock on every
// call would cost a good part of what it measures. xorshift64, not a counter: a counter
// aliases with work that repeats a fixed number of times per unit (calls per exchange,
// flushes per turn) and would always pick the same member of it.
#pragma once
#include <cstdint>

namespace rein {

template <uint64_t N>
class OneIn {
 public:
  static constexpr uint64_t kN = N;
  bool next() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_ % N == 0;
  }

 private:
  uint64_t x_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace rein
