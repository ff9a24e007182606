#include "source/ring_source.h"

#include <bpf/libbpf.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "rein/abi/events.h"

namespace rein::source {

namespace {
int on_sample(void* ctx, void* data, size_t size) {
  static_cast<RingSource::Batch*>(ctx)->add(static_cast<const uint8_t*>(data), size);
  return 0;
}

uint64_t stamp_of(const uint8_t* rec, size_t size) {
  if (size < sizeof(rein_hdr)) return 0;
  uint64_t ts = 0;
  std::memcpy(&ts, rec + offsetof(rein_hdr, ts_ns), sizeof(ts));
  return ts;
}
}  // namespace

void RingSource::Batch::add(const uint8_t* data, size_t size) {
  items.push_back({stamp_of(data, size), bytes.size(), size});
  bytes.insert(bytes.end(), data, data + size);
}

Result<RingSource> RingSource::open(std::initializer_list<int> map_fds, Callback cb) {
  RingSource s(std::make_unique<Callback>(std::move(cb)));
  for (int fd : map_fds) {
    if (!s.rb_) {
      s.rb_ = ring_buffer__new(fd, on_sample, s.batch_.get(), nullptr);
      if (!s.rb_) return make_error(fmt::format("ring buffer: {}", std::strerror(errno)));
    } else if (int err = ring_buffer__add(s.rb_, fd, on_sample, s.batch_.get()); err) {
      return make_error(fmt::format("ring buffer: {}", std::strerror(-err)));
    }
  }
  if (!s.rb_) return make_error("ring buffer: no ring given");
  return s;
}

RingSource::RingSource(RingSource&& o) noexcept
    : cb_(std::move(o.cb_)), batch_(std::move(o.batch_)), rb_(o.rb_) {
  o.rb_ = nullptr;
}

RingSource::~RingSource() {
  if (rb_) ring_buffer__free(rb_);
}

// Records of one pass come from two rings: a process's exit (control ring) must not be
// handled before the payload it sent just before exiting (payload ring), so the pass is
// delivered in kernel-time order. Within a ring the order is kept as written.
void RingSource::Batch::sort_by_time() {
  // `off` grows with each add, so it breaks ties as the order of adding would. A pass with
  // one ring's records is usually in order already.
  auto before = [](const Item& x, const Item& y) {
    return x.ts != y.ts ? x.ts < y.ts : x.off < y.off;
  };
  if (!std::is_sorted(items.begin(), items.end(), before))
    std::sort(items.begin(), items.end(), before);
}

int RingSource::deliver() {
  auto& b = *batch_;
  b.sort_by_time();
  for (const auto& it : b.items) {
    uint8_t* rec = b.bytes.data() + it.off;
    (*cb_)(std::span<const uint8_t>(rec, it.size));
    // a record's key (source/cipher_records.h) is not left in the reused buffer
    uint16_t kind = 0;
    if (it.size >= sizeof(rein_hdr)) std::memcpy(&kind, rec, sizeof(kind));
    if (kind == REIN_REC_CIPHER_KEY) OPENSSL_cleanse(rec, it.size);
  }
  int n = int(b.items.size());
  b.items.clear();
  b.bytes.clear();
  if (b.bytes.capacity() > (size_t{8} << 20)) b.bytes.shrink_to_fit();  // after a flood
  return n;
}

Result<int> RingSource::poll(int timeout_ms) {
  // ring_buffer__poll consumes only the rings that signalled: the other ring's records of
  // the same moment (the payload a process sent before the exit that woke us) must join
  // this pass, so everything is consumed before delivery.
  int n = ring_buffer__poll(rb_, timeout_ms);
  if (n >= 0 || n == -EINTR) n = ring_buffer__consume(rb_);
  if (n < 0 && n != -EINTR) {
    deliver();
    return make_error(fmt::format("ring buffer poll: {}", std::strerror(-n)));
  }
  return deliver();
}

Result<int> RingSource::drain() {
  int n = ring_buffer__consume(rb_);
  if (n < 0 && n != -EINTR) {
    deliver();
    return make_error(fmt::format("ring buffer: {}", std::strerror(-n)));
  }
  return deliver();
}

}  // namespace rein::source
