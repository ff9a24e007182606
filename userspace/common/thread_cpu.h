// CPU time of the calling thread. A system call on some VMs (about a microsecond): read it
// per batch of work, never per event.
#pragma once
#include <time.h>

#include <cstdint>

namespace rein {

inline uint64_t thread_cpu_ns() {
  struct timespec ts {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

}  // namespace rein
