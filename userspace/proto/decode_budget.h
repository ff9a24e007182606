// One memory budget for everything the sensor holds while decoding captured traffic
// (message bodies, WebSocket messages), across all connections of all agents. Per-body caps
// bound one message; this bounds their sum, so a tracked agent that opens many connections
// with many pending compressed requests cannot make the daemon allocate without limit.
// A body that does not fit is cut where the budget ran out (marked truncated, counted).
// Bytes may be taken for an owner (the pipeline's: the agent whose traffic it is), and one
// owner may hold at most a share of the limit, so an agent that fills its connections with
// large or compressed bodies cannot leave no room for every other agent's calls.
// The pipeline is single-threaded; the counters are atomics only so that tests and health
// reports may read them from anywhere.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

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

  // An owner's bytes may not pass limit() / kOwnerShareDivisor.
  static constexpr size_t kOwnerShareDivisor = 2;
  // Refusals because the owner's share was full (also counted in refusals()).
  uint64_t owner_refusals() const { return owner_refusals_.load(std::memory_order_relaxed); }
  size_t owner_in_use(uint32_t owner) const;

  // All or nothing: false (and counted) when `n` more bytes would pass the limit, or the
  // owner's share (owner 0: no owner, only the limit).
  bool try_take(size_t n, uint32_t owner = 0);
  void give_back(size_t n, uint32_t owner = 0);

 private:
  bool take_global(size_t n);
  mutable std::mutex owners_mu_;
  std::unordered_map<uint32_t, size_t> owners_;  // owners holding bytes (erased at 0)
  std::atomic<uint64_t> owner_refusals_{0};
  std::atomic<size_t> limit_{kDefaultBytes};
  std::atomic<size_t> in_use_{0};
  std::atomic<size_t> peak_{0};
  std::atomic<uint64_t> refusals_{0};
};

// Bytes taken from the budget on behalf of one buffer, given back when the lease ends.
// Move it along with the buffer it accounts for.
class BudgetLease {
 public:
  explicit BudgetLease(DecodeBudget& budget = DecodeBudget::global(), uint32_t owner = 0)
      : budget_(&budget), owner_(owner) {}
  ~BudgetLease() { reset(); }
  BudgetLease(BudgetLease&& o) noexcept : budget_(o.budget_), owner_(o.owner_), held_(o.held_) {
    o.held_ = 0;
  }
  BudgetLease& operator=(BudgetLease&& o) noexcept;
  BudgetLease(const BudgetLease&) = delete;
  BudgetLease& operator=(const BudgetLease&) = delete;

  bool take(size_t n);
  void reset();
  size_t held() const { return held_; }

 private:
  DecodeBudget* budget_;
  uint32_t owner_;
  size_t held_ = 0;
};

// The global budget as the reassemblers' hold budget: bytes held behind a hole (up to 1 MiB
// per direction of every connection) count against the same limit as bodies and messages.
stream::HoldBudget& decode_hold_budget();

// The same for one owner's reassemblers (an agent's connections): keep it alive as long as
// they are.
class OwnedHoldBudget;
// `r` with its hold budget made `owner`'s (through `hold`), when it holds on the shared one.
stream::ReassemblerLimits owned_reassembly(stream::ReassemblerLimits r, uint32_t owner,
                                           OwnedHoldBudget& hold);

class OwnedHoldBudget final : public stream::HoldBudget {
 public:
  explicit OwnedHoldBudget(uint32_t owner) : owner_(owner) {}
  bool take(size_t n) override { return DecodeBudget::global().try_take(n, owner_); }
  void give_back(size_t n) override { DecodeBudget::global().give_back(n, owner_); }

 private:
  uint32_t owner_;
};

}  // namespace rein::proto
