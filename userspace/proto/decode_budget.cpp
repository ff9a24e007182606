#include "proto/decode_budget.h"

namespace rein::proto {

DecodeBudget& DecodeBudget::global() {
  static DecodeBudget budget;
  return budget;
}

bool DecodeBudget::try_take(size_t n) {
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

void DecodeBudget::give_back(size_t n) { in_use_.fetch_sub(n, std::memory_order_relaxed); }

BudgetLease& BudgetLease::operator=(BudgetLease&& o) noexcept {
  if (this != &o) {
    reset();
    budget_ = o.budget_;
    held_ = o.held_;
    o.held_ = 0;
  }
  return *this;
}

bool BudgetLease::take(size_t n) {
  if (n == 0) return true;
  if (!budget_->try_take(n)) return false;
  held_ += n;
  return true;
}

void BudgetLease::reset() {
  if (held_) budget_->give_back(held_);
  held_ = 0;
}

}  // namespace rein::proto
