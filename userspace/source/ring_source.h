// The live event source: the kernel's BPF ring buffers (control records, then payload).
// Each record is handed to the callback as raw bytes; decoding happens downstream,
// identically for every source.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"

struct ring_buffer;

namespace rein::source {

class RingSource {
 public:
  using Callback = std::function<void(std::span<const uint8_t>)>;
  // Every record of a pass over all rings is delivered in kernel-time order (ts_ns).
  static Result<RingSource> open(std::initializer_list<int> map_fds, Callback cb);
  // One pass's records, copied out of the rings so they can be delivered in time order.
  struct Batch {
    struct Item {
      uint64_t ts;
      size_t off, size;
    };
    std::vector<Item> items;
    std::vector<uint8_t> bytes;
    void add(const uint8_t* data, size_t size);
    // Time order, records of equal time in the order they were added: stable_sort's result
    // without its buffer (an allocation per pass of the main loop).
    void sort_by_time();
  };
  RingSource(RingSource&& o) noexcept;
  RingSource& operator=(RingSource&&) = delete;
  ~RingSource();
  // Waits up to timeout_ms for records and delivers all that are ready. Returns how many.
  Result<int> poll(int timeout_ms);
  // Delivers whatever is already in the ring without waiting.
  Result<int> drain();

 private:
  explicit RingSource(std::unique_ptr<Callback> cb)
      : cb_(std::move(cb)), batch_(std::make_unique<Batch>()) {}
  int deliver();
  std::unique_ptr<Callback> cb_;
  std::unique_ptr<Batch> batch_;
  struct ring_buffer* rb_ = nullptr;
};

}  // namespace rein::source
