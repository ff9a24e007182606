// A first-in first-out store of variable-size byte strings in one buffer: the
// hallucinated-endpoint detector's unread answers, a few KiB each, thousands per window.
// A heap block per answer cost an allocation and a free on every LLM call; here a string
// takes the bytes at the head and gives them back when it is the oldest. Strings are
// contiguous: one that does not fit before the end of the buffer starts again at its
// beginning, and the gap it skipped is given back with it. The buffer is mapped at the
// first push, aligned to 2 MiB and offered to transparent huge pages: touched 4 KiB at a
// time it cost a page fault each, ~20 us on the development VM, 20 ms for 4 MiB spread over
// the first thousand LLM calls (0.5 ms with huge pages). Where THP is off it works the
// same with small pages.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace rein::detect {

class ByteRing {
 public:
  struct Slot {
    uint32_t off = 0;   // where the bytes are
    uint32_t len = 0;   // how many
    uint32_t span = 0;  // what giving them back frees: len, plus a gap skipped before them
  };

  explicit ByteRing(size_t capacity) : cap_(capacity) {}

  // The place for `n` bytes at the head, or none until older strings are given back (or
  // ever, when the buffer could not be mapped).
  std::optional<Slot> push(size_t n);
  // Gives back the oldest slot still held (slots go back in the order they were pushed).
  void pop(const Slot& s);
  char* data(const Slot& s) { return buf_.get() + s.off; }
  std::string_view view(const Slot& s) const { return {buf_.get() + s.off, s.len}; }
  bool huge_pages() const { return huge_; }

  size_t capacity() const { return cap_; }
  size_t used() const { return used_; }  // held, with skipped gaps
  size_t free() const { return cap_ - used_; }
  size_t touched() const { return touched_; }  // the buffer's bytes ever written

 private:
  struct Unmap {
    size_t n;
    void operator()(char* p) const;
  };
  bool map();

  size_t cap_;
  std::unique_ptr<char, Unmap> buf_{nullptr, Unmap{0}};
  bool map_failed_ = false, huge_ = false;
  size_t head_ = 0, used_ = 0, touched_ = 0;
};

}  // namespace rein::detect
