#include "stream/reassembler.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace rein::stream {

Reassembler::Reassembler(StreamConsumer& consumer, ReassemblerLimits limits,
                         std::optional<uint64_t> start_offset)
    : consumer_(consumer),
      limits_(limits),
      anchored_(start_offset.has_value()),
      next_(start_offset.value_or(0)) {}

Reassembler::~Reassembler() { release(pending_bytes_); }

void Reassembler::release(size_t n) {
  if (limits_.budget && n > 0) limits_.budget->give_back(n);
}

void Reassembler::push(uint64_t offset, std::span<const uint8_t> data, uint64_t ts_ns) {
  if (data.empty()) return;
  if (offset > std::numeric_limits<uint64_t>::max() - data.size()) {
    // Only a corrupt record can claim this; holding it would wedge the stream forever.
    stats_.dropped_chunks++;
    stats_.dropped_bytes += data.size();
    return;
  }
  if (!anchored_) {
    next_ = offset;
    anchored_ = true;
  }
  const uint64_t end = offset + data.size();
  if (end <= next_) {
    stats_.duplicate_bytes += data.size();
    return;
  }
  if (offset < next_) {
    const uint64_t seen = next_ - offset;
    stats_.duplicate_bytes += seen;
    data = data.subspan(seen);
    offset = next_;
  }
  if (offset == next_) {
    deliver(data, ts_ns);
    drain();  // held chunks now reachable, or covered by what was just delivered
  } else {
    hold(offset, data, ts_ns);
  }
  enforce_bounds(ts_ns);
}

void Reassembler::deliver(std::span<const uint8_t> data, uint64_t ts_ns) {
  next_ += data.size();
  stats_.bytes_delivered += data.size();
  consumer_.on_data(data, ts_ns);
}

// Stores only the parts of [offset, offset+size) not already held, so held ranges stay
// disjoint and the byte bound counts each byte once. The first copy of a byte wins: the
// kernel reports the same bytes for the same offset, so either copy would do.
void Reassembler::hold(uint64_t offset, std::span<const uint8_t> data, uint64_t ts_ns) {
  const uint64_t end = offset + data.size();
  uint64_t cur = offset;
  auto it = pending_.upper_bound(cur);
  if (it != pending_.begin()) {
    auto prev = std::prev(it);
    const uint64_t prev_end = prev->first + prev->second.bytes.size();
    if (prev_end > cur) cur = std::min(prev_end, end);
  }
  size_t stored = 0;
  while (cur < end) {
    const uint64_t piece_end = (it == pending_.end()) ? end : std::min(end, it->first);
    if (piece_end > cur) {
      auto piece = data.subspan(cur - offset, piece_end - cur);
      if (limits_.budget && !limits_.budget->take(piece.size())) {
        stats_.refused_chunks++;
        stats_.dropped_chunks++;
        stats_.dropped_bytes += end - cur;
        return;
      }
      pending_.emplace_hint(it, cur, Held{std::string(piece.begin(), piece.end()), ts_ns});
      pending_bytes_ += piece.size();
      stored += piece.size();
    }
    if (it == pending_.end()) break;
    cur = std::max(cur, it->first + it->second.bytes.size());
    ++it;
  }
  stats_.duplicate_bytes += data.size() - stored;
}

void Reassembler::drain() {
  while (!pending_.empty()) {
    auto it = pending_.begin();
    if (it->first > next_) break;
    const uint64_t off = it->first;
    Held held = std::move(it->second);
    pending_.erase(it);
    pending_bytes_ -= held.bytes.size();
    release(held.bytes.size());
    const uint64_t held_end = off + held.bytes.size();
    if (held_end <= next_) {
      stats_.duplicate_bytes += held.bytes.size();
      continue;
    }
    const uint64_t seen = next_ - off;
    stats_.duplicate_bytes += seen;
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(held.bytes.data()),
                                   held.bytes.size());
    deliver(bytes.subspan(seen), held.ts_ns);
  }
}

uint64_t Reassembler::oldest_held_ts() const {
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  for (const auto& [off, held] : pending_) oldest = std::min(oldest, held.ts_ns);
  return oldest;
}

void Reassembler::enforce_bounds(uint64_t now_ns) {
  while (!pending_.empty()) {
    bool over = pending_bytes_ > limits_.max_pending_bytes ||
                pending_.size() > limits_.max_pending_chunks;
    if (!over && limits_.max_hole_age_ns != 0) {
      const uint64_t oldest = oldest_held_ts();
      over = now_ns >= oldest && now_ns - oldest >= limits_.max_hole_age_ns;
    }
    if (!over) break;
    skip_hole(now_ns);
  }
}

bool Reassembler::skip_hole(uint64_t ts_ns) {
  if (pending_.empty()) return false;
  const uint64_t hole = pending_.begin()->first - next_;  // > 0: drain() ran after every push
  stats_.gaps++;
  stats_.gap_bytes += hole;
  consumer_.on_gap(hole, ts_ns);
  next_ += hole;
  drain();
  return true;
}

void Reassembler::expire(uint64_t now_ns) { enforce_bounds(now_ns); }

void Reassembler::flush(uint64_t ts_ns) {
  while (skip_hole(ts_ns)) {
  }
}

void Reassembler::reset() {
  stats_.dropped_bytes += pending_bytes_;
  release(pending_bytes_);
  pending_.clear();
  pending_bytes_ = 0;
}

}  // namespace rein::stream
