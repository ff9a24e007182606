#include "source/ring_source.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace rein::source {

namespace {
int on_sample(void* ctx, void* data, size_t size) {
  auto* cb = static_cast<RingSource::Callback*>(ctx);
  (*cb)(std::span<const uint8_t>(static_cast<const uint8_t*>(data), size));
  return 0;
}
}  // namespace

Result<RingSource> RingSource::open(int map_fd, Callback cb) {
  RingSource s(std::make_unique<Callback>(std::move(cb)));
  s.rb_ = ring_buffer__new(map_fd, on_sample, s.cb_.get(), nullptr);
  if (!s.rb_) return make_error(fmt::format("ring buffer: {}", std::strerror(errno)));
  return s;
}

RingSource::RingSource(RingSource&& o) noexcept : cb_(std::move(o.cb_)), rb_(o.rb_) {
  o.rb_ = nullptr;
}

RingSource::~RingSource() {
  if (rb_) ring_buffer__free(rb_);
}

Result<int> RingSource::poll(int timeout_ms) {
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n < 0 && n != -EINTR) return make_error(fmt::format("ring buffer poll: {}", std::strerror(-n)));
  return n < 0 ? 0 : n;
}

Result<int> RingSource::drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0 && n != -EINTR) return make_error(fmt::format("ring buffer: {}", std::strerror(-n)));
  return n < 0 ? 0 : n;
}

}  // namespace rein::source
