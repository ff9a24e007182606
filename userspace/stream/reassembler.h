// Per-direction byte-stream reassembly. The kernel reports each captured slice with its
// offset in the direction's stream; slices can arrive out of order (per-CPU buffers), twice,
// overlapping, or never (ring buffer drops, payloads cut at the capture bound). This turns
// them into an ordered stream of bytes interrupted by explicit gap events, so the protocol
// parsers above never see spliced data. Memory is bounded: a hole is given up (reported as a
// gap) once the bytes waiting behind it exceed the limits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

namespace rein::stream {

// Memory that held (out-of-order) bytes are charged to, shared with the sensor's other
// decoding buffers, so many connections each holding their bound cannot add up without limit.
// A chunk (or the rest of one) it refuses is dropped and counted, as if never captured: the
// hole it leaves becomes a gap like any other.
class HoldBudget {
 public:
  virtual ~HoldBudget() = default;
  virtual bool take(size_t n) = 0;
  virtual void give_back(size_t n) = 0;
};

struct ReassemblerLimits {
  size_t max_pending_bytes = size_t{1} << 20;  // out-of-order bytes held behind a hole
  size_t max_pending_chunks = 64;
  // A hole older than this (compared with the timestamp of the newest chunk, or the time
  // given to expire()) is declared lost. 0 disables the age rule.
  uint64_t max_hole_age_ns = 0;
  HoldBudget* budget = nullptr;  // none: only the bounds above
};

struct ReassemblerStats {
  uint64_t bytes_delivered = 0;
  uint64_t gaps = 0;             // gap events emitted
  uint64_t gap_bytes = 0;        // bytes never seen, summed over gaps
  uint64_t duplicate_bytes = 0;  // already delivered or already held: trimmed away
  uint64_t dropped_chunks = 0;   // chunks rejected outright (offset range overflows)
  uint64_t dropped_bytes = 0;    // bytes of those chunks, plus held bytes discarded by reset()
  uint64_t refused_chunks = 0;   // chunks (or their rest) the budget would not hold: dropped
};

// Receives the ordered stream. Callbacks must not call back into the Reassembler.
class StreamConsumer {
 public:
  virtual ~StreamConsumer() = default;
  virtual void on_data(std::span<const uint8_t> data, uint64_t ts_ns) = 0;
  // `length` bytes of the stream are lost; the next on_data continues after them.
  virtual void on_gap(uint64_t length, uint64_t ts_ns) = 0;
};

class Reassembler {
 public:
  // start_offset: offset of the first byte expected. nullopt anchors the stream at the first
  // chunk pushed (use when capture began mid-connection and offsets do not start at 0).
  explicit Reassembler(StreamConsumer& consumer, ReassemblerLimits limits = {},
                       std::optional<uint64_t> start_offset = uint64_t{0});

  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  void push(uint64_t offset, std::span<const uint8_t> data, uint64_t ts_ns);

  // Give up on the hole in front of the held chunks: report it as a gap and deliver what
  // follows. Returns false when nothing is held.
  bool skip_hole(uint64_t ts_ns);
  // Apply the age rule with an external clock (for idle streams that get no new chunks).
  void expire(uint64_t now_ns);
  // End of stream: every held chunk is delivered, holes between them reported as gaps.
  void flush(uint64_t ts_ns);
  // Forget held chunks (counted as dropped) without delivering them.
  void reset();

  uint64_t next_offset() const { return next_; }
  size_t pending_chunks() const { return pending_.size(); }
  size_t pending_bytes() const { return pending_bytes_; }
  const ReassemblerStats& stats() const { return stats_; }

 private:
  struct Held {
    std::string bytes;
    uint64_t ts_ns;
  };

  void deliver(std::span<const uint8_t> data, uint64_t ts_ns);
  void hold(uint64_t offset, std::span<const uint8_t> data, uint64_t ts_ns);
  void drain();
  void enforce_bounds(uint64_t now_ns);
  void release(size_t n);  // held bytes that left: back to the budget
  uint64_t oldest_held_ts() const;

  StreamConsumer& consumer_;
  ReassemblerLimits limits_;
  bool anchored_;
  uint64_t next_ = 0;
  std::map<uint64_t, Held> pending_;  // keyed by offset; ranges never overlap
  size_t pending_bytes_ = 0;
  ReassemblerStats stats_;
};

}  // namespace rein::stream
