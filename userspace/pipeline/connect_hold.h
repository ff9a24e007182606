// Non-blocking connects (EINPROGRESS) held until the kernel reports how they ended, so one
// net.connect carries the final result. Bounded in time and count: a connect whose outcome
// does not come in time, or that is pushed out by newer ones, is released as it was.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "decode/records.h"

namespace rein::pipeline {

struct ConnectOutcome {
  int32_t result = 0;  // 0 = established, else -errno
  uint64_t latency_ns = 0;
};

// A connect ready to be reported; outcome is empty when none came.
struct ReleasedConnect {
  decode::ConnectRec rec;
  std::optional<ConnectOutcome> outcome;
};

class ConnectHold {
 public:
  static constexpr size_t kDefaultMax = 1024;
  static constexpr uint64_t kDefaultTimeoutNs = 2'000'000'000;

  explicit ConnectHold(size_t max = kDefaultMax, uint64_t timeout_ns = kDefaultTimeoutNs)
      : max_(max ? max : 1), timeout_ns_(timeout_ns) {}

  // Holds r (an EINPROGRESS connect) from `now`. Returns what had to be released to make
  // room: an older connect on the same (process, fd), or the oldest one when full; and r
  // itself, with its outcome, when that outcome came first.
  std::vector<ReleasedConnect> hold(const decode::ConnectRec& r, uint64_t now);
  // The outcome record for (tgid, fd): the held connect with it, if one is held. Otherwise
  // the outcome is kept (bounded, until the timeout) for a connect record still to come.
  std::optional<ReleasedConnect> resolve(const decode::ConnectOutcomeRec& o);
  // Connects held longer than the timeout, oldest first, without an outcome.
  std::vector<ReleasedConnect> expire(uint64_t now);
  // The process exited: its held connects will not get an outcome any more.
  std::vector<ReleasedConnect> release_process(uint32_t tgid);
  size_t size() const { return held_.size(); }

 private:
  struct Held {
    decode::ConnectRec rec;
    uint64_t since = 0;
    uint64_t seq = 0;
  };
  using Key = std::pair<uint32_t, int32_t>;  // tgid, fd
  std::map<Key, Held> held_;
  struct Early {
    ConnectOutcome outcome;
    uint64_t since = 0;
  };
  std::map<Key, Early> early_;  // outcomes that came before their connect record
  size_t max_;
  uint64_t timeout_ns_;
  uint64_t seq_ = 0;
};

}  // namespace rein::pipeline
