#include "detect/byte_ring.h"

#include <sys/mman.h>

#include <cstdint>

namespace rein::detect {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}

void ByteRing::Unmap::operator()(char* p) const {
  if (p) ::munmap(p, n);
}

// Over-maps by a huge page, keeps the aligned part and gives the rest back.
bool ByteRing::map() {
  if (map_failed_) return false;
  const size_t len = (cap_ + kHugePage - 1) / kHugePage * kHugePage;
  void* raw =
      ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    map_failed_ = true;
    return false;
  }
  const uintptr_t start = uintptr_t(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  if (const uintptr_t end = start + len + kHugePage; end > aligned + len)
    ::munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
  char* p = reinterpret_cast<char*>(aligned);
  huge_ = ::madvise(p, len, MADV_HUGEPAGE) == 0;
  buf_ = std::unique_ptr<char, Unmap>(p, Unmap{len});
  return true;
}

std::optional<ByteRing::Slot> ByteRing::push(size_t n) {
  if (n > cap_ || n > UINT32_MAX) return std::nullopt;
  if (!buf_ && !map()) return std::nullopt;
  if (used_ == 0) head_ = 0;  // empty: the whole buffer is one free run
  // The held bytes run from tail = head - used (cyclically) to head.
  const bool wrapped = head_ < used_;  // the held run crosses the end of the buffer
  size_t off, span;
  if (wrapped || cap_ - head_ >= n) {
    // Free at the head: up to the tail (wrapped), or to the end of the buffer.
    if (wrapped && used_ + n > cap_) return std::nullopt;
    off = head_;
    span = n;
  } else {
    // Not enough before the end: start again at the beginning, before the tail.
    const size_t tail = head_ - used_;
    if (n > tail) return std::nullopt;
    off = 0;
    span = (cap_ - head_) + n;
  }
  head_ = off + n;
  used_ += span;
  if (head_ > touched_) touched_ = head_;
  return Slot{uint32_t(off), uint32_t(n), uint32_t(span)};
}

void ByteRing::pop(const Slot& s) {
  used_ -= s.span < used_ ? s.span : used_;
  if (used_ == 0) head_ = 0;
}

}  // namespace rein::detect
