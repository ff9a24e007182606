#include "enforce/holds.h"

namespace rein::enforce {

std::optional<uint64_t> HoldRegistry::add(Hold h) {
  if (holds_.size() >= max_) return std::nullopt;
  h.id = next_id_++;
  uint64_t id = h.id;
  holds_.emplace(id, std::move(h));
  return id;
}

std::optional<Hold> HoldRegistry::take(uint64_t id) {
  auto it = holds_.find(id);
  if (it == holds_.end()) return std::nullopt;
  Hold h = std::move(it->second);
  holds_.erase(it);
  return h;
}

std::vector<Hold> HoldRegistry::expire(uint64_t now_ns) {
  std::vector<Hold> out;
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (it->second.deadline_ns && now_ns >= it->second.deadline_ns) {
      out.push_back(std::move(it->second));
      it = holds_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<Hold> HoldRegistry::forget_pid(uint32_t pid) {
  std::vector<Hold> out;
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (it->second.pid == pid) {
      out.push_back(std::move(it->second));
      it = holds_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<Hold> HoldRegistry::list() const {
  std::vector<Hold> out;
  for (const auto& [id, h] : holds_) out.push_back(h);
  return out;
}

std::optional<Hold> HoldRegistry::find_pid(uint32_t pid) const {
  for (const auto& [id, h] : holds_)
    if (h.pid == pid) return h;
  return std::nullopt;
}

std::vector<KernelHold> unclaimed_kernel_holds(const std::vector<KernelHold>& kernel,
                                               const HoldRegistry& holds, uint64_t now_ns,
                                               uint64_t grace_ns) {
  std::vector<KernelHold> out;
  for (const auto& k : kernel) {
    if (holds.find_pid(k.pid)) continue;
    if (now_ns < k.since_ns || now_ns - k.since_ns < grace_ns) continue;
    out.push_back(k);
  }
  return out;
}

}  // namespace rein::enforce
