// The live event source: the kernel's BPF ring buffer. Each record is handed to the
// callback as raw bytes; decoding happens downstream, identically for every source.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "common/result.h"

struct ring_buffer;

namespace rein::source {

class RingSource {
 public:
  using Callback = std::function<void(std::span<const uint8_t>)>;
  static Result<RingSource> open(int map_fd, Callback cb);
  RingSource(RingSource&& o) noexcept;
  RingSource& operator=(RingSource&&) = delete;
  ~RingSource();
  // Waits up to timeout_ms for records and delivers all that are ready. Returns how many.
  Result<int> poll(int timeout_ms);
  // Delivers whatever is already in the ring without waiting.
  Result<int> drain();

 private:
  explicit RingSource(std::unique_ptr<Callback> cb) : cb_(std::move(cb)) {}
  std::unique_ptr<Callback> cb_;
  struct ring_buffer* rb_ = nullptr;
};

}  // namespace rein::source
