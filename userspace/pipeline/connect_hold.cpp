#include "pipeline/connect_hold.h"

#include <algorithm>

namespace rein::pipeline {

std::vector<ReleasedConnect> ConnectHold::hold(const decode::ConnectRec& r, uint64_t now) {
  std::vector<ReleasedConnect> out;
  Key key{r.h.tgid, r.fd};
  if (auto e = early_.find(key); e != early_.end()) {
    out.push_back({r, e->second.outcome});
    early_.erase(e);
    return out;
  }
  if (auto it = held_.find(key); it != held_.end()) {  // the fd was closed and reused
    out.push_back({std::move(it->second.rec), std::nullopt});
    held_.erase(it);
  }
  if (held_.size() >= max_) {
    auto oldest = std::min_element(held_.begin(), held_.end(), [](const auto& a, const auto& b) {
      return a.second.seq < b.second.seq;
    });
    out.push_back({std::move(oldest->second.rec), std::nullopt});
    held_.erase(oldest);
  }
  held_[key] = Held{r, now, ++seq_};
  return out;
}

std::optional<ReleasedConnect> ConnectHold::resolve(const decode::ConnectOutcomeRec& o) {
  Key key{o.h.tgid, o.fd};
  auto it = held_.find(key);
  if (it == held_.end()) {
    if (early_.size() >= max_) early_.erase(early_.begin());
    early_[key] = Early{ConnectOutcome{o.result, o.latency_ns}, o.h.ts_ns};
    return std::nullopt;
  }
  ReleasedConnect rc{std::move(it->second.rec), ConnectOutcome{o.result, o.latency_ns}};
  held_.erase(it);
  return rc;
}

std::vector<ReleasedConnect> ConnectHold::expire(uint64_t now) {
  for (auto it = early_.begin(); it != early_.end();) {
    if (now >= it->second.since && now - it->second.since >= timeout_ns_)
      it = early_.erase(it);
    else
      ++it;
  }
  std::vector<std::pair<uint64_t, Key>> due;
  for (const auto& [k, h] : held_)
    if (now >= h.since && now - h.since >= timeout_ns_) due.emplace_back(h.seq, k);
  std::sort(due.begin(), due.end());
  std::vector<ReleasedConnect> out;
  for (const auto& [seq, k] : due) {
    auto it = held_.find(k);
    out.push_back({std::move(it->second.rec), std::nullopt});
    held_.erase(it);
  }
  return out;
}

std::vector<ReleasedConnect> ConnectHold::release_process(uint32_t tgid) {
  std::vector<std::pair<uint64_t, Key>> due;
  for (auto it = held_.lower_bound(Key{tgid, INT32_MIN});
       it != held_.end() && it->first.first == tgid; ++it)
    due.emplace_back(it->second.seq, it->first);
  std::sort(due.begin(), due.end());
  std::vector<ReleasedConnect> out;
  for (const auto& [seq, k] : due) {
    auto it = held_.find(k);
    out.push_back({std::move(it->second.rec), std::nullopt});
    held_.erase(it);
  }
  return out;
}

}  // namespace rein::pipeline
