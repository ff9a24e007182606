#include "proto/decode_budget.h"

#include <algorithm>

namespace rein::proto {

DecodeBudget& DecodeBudget::global() {
  static DecodeBudget budget;
  return budget;
}

bool DecodeBudget::try_take(size_t n, uint32_t owner) {
  if (owner == 0) return take_global(n);
  std::lock_guard lock(owners_mu_);
  size_t& mine = owners_[owner];
  const size_t share = limit() / kOwnerShareDivisor;
  if (n > share || mine > share - n) {
    if (mine == 0) owners_.erase(owner);
    owner_refusals_.fetch_add(1, std::memory_order_relaxed);
    refusals_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!take_global(n)) {
    if (mine == 0) owners_.erase(owner);
    return false;
  }
  mine += n;
  return true;
}

size_t DecodeBudget::owner_in_use(uint32_t owner) const {
  std::lock_guard lock(owners_mu_);
  auto it = owners_.find(owner);
  return it == owners_.end() ? 0 : it->second;
}

bool DecodeBudget::take_global(size_t n) {
  size_t cur = in_use_.load(std::memory_order_relaxed);
  do {
    if (n > limit() || cur > limit() - n) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!in_use_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  size_t now = cur + n, p = peak_.load(std::memory_order_relaxed);
  while (now > p && !peak_.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
  }
  return true;
}

stream::HoldBudget& decode_hold_budget() {
  struct Global final : stream::HoldBudget {
    bool take(size_t n) override { return DecodeBudget::global().try_take(n); }
    void give_back(size_t n) override { DecodeBudget::global().give_back(n); }
  };
  static Global gate;
  return gate;
}

stream::ReassemblerLimits owned_reassembly(stream::ReassemblerLimits r, uint32_t owner,
                                           OwnedHoldBudget& hold) {
  if (owner != 0 && r.budget == &decode_hold_budget()) r.budget = &hold;
  return r;
}

void DecodeBudget::give_back(size_t n, uint32_t owner) {
  in_use_.fetch_sub(n, std::memory_order_relaxed);
  if (owner == 0) return;
  std::lock_guard lock(owners_mu_);
  auto it = owners_.find(owner);
  if (it == owners_.end()) return;
  it->second -= std::min(n, it->second);
  if (it->second == 0) owners_.erase(it);
}

BudgetLease& BudgetLease::operator=(BudgetLease&& o) noexcept {
  if (this != &o) {
    reset();
    budget_ = o.budget_;
    owner_ = o.owner_;
    held_ = o.held_;
    o.held_ = 0;
  }
  return *this;
}

bool BudgetLease::take(size_t n) {
  if (n == 0) return true;
  if (!budget_->try_take(n, owner_)) return false;
  held_ += n;
  return true;
}

void BudgetLease::reset() {
  if (held_) budget_->give_back(held_, owner_);
  held_ = 0;
}

}  // namespace rein::proto
