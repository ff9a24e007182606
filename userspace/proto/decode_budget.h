// One memory budget for everything the sensor holds while decoding captured traffic
// (message bodies, WebSocket messages), across all connections of all agents. Per-body caps
// bound one message; this bounds their sum, so a tracked agent that opens many connections
// with many pending compressed requests cannot make the daemon allocate without limit.
// A body that does not fit is cut where the budget ran out (marked truncated, counted).
// The pipeline is single-threaded; the counters are atomics only so that tests and health
// reports may read them from anywhere.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "stream/reassembler.h"

namespace rein::proto {

class DecodeBudget {
 public:
  static constexpr size_t kDefaultBytes = size_t{256} << 20;
  static DecodeBudget& global();

  void set_limit(size_t bytes) { limit_.store(bytes, std::memory_order_relaxed); }
  size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

  // All or nothing: false (and counted) when `n` more bytes would pass the limit.
  bool try_take(size_t n);
  void give_back(size_t n);

 private:
  std::atomic<size_t> limit_{kDefaultBytes};
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refusals_{0};
};

// Bytes taken from the budget on behalf of one buffer, given back when the lease ends.
// Move it along with the buffer it accounts for.
class BudgetLease {
 public:
  explicit BudgetLease(DecodeBudget& budget = DecodeBudget::global()) : budget_(&budget) {}
  ~BudgetLease() { reset(); }
  BudgetLease(BudgetLease&& o) noexcept : budget_(o.budget_), held_(o.held_) { o.held_ = 0; }
  BudgetLease& operator=(BudgetLease&& o) noexcept;
  BudgetLease(const BudgetLease&) = delete;
  BudgetLease& operator=(const BudgetLease&) = delete;

  bool take(size_t n);
  void reset();
  size_t held() const { return held_; }

 private:
  DecodeBudget* budget_;
  size_t held_ = 0;
};

// The global budget as the reassemblers' hold budget: bytes held behind a hole (up to 1 MiB
// per direction of every connection) count against the same limit as bodies and messages.
stream::HoldBudget& decode_hold_budget();

}  // namespace rein::proto
