// The byte sweep under the BoringSSL finder (boringssl_finder.cpp): over every byte of a
// Bun executable's code (130 MB for Claude Code), which 4-byte fields may hold an address
// of a small range, where a direct call (e8 rel32) starts, and which 16-byte slots begin
// with the frame-pointer prologue (push %rbp; mov %rsp,%rbp). Taking the prologues in the
// same sweep spares a second pass over the call targets, which touched every page again
// after the sweep had released it. Done one byte at a time it
// was most of the half second a new Claude Code binary took before its hooks could go in,
// long enough for its first LLM call to leave unseen. Here 16 positions a step (SSE2, every
// x86-64) or 32 (AVX2, where the CPU has it, checked once at run time).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace rein::binary {

// What one window holds, each in increasing order. Positions are indices into the bytes.
struct CodeScanHits {
  std::vector<uint64_t> fields;     // see scan_code_window
  std::vector<uint64_t> calls;      // bytes[i] == 0xe8
  std::vector<uint64_t> prologues;  // i % 16 == 0 and bytes i..i+3 are 55 48 89 e5
  void clear() {
    fields.clear();
    calls.clear();
    prologues.clear();
  }
};

// Appends to `fields`, in order, every position i in [from, to) with i + 4 <= bytes.size()
// whose little-endian 32-bit value v may put [lo, hi] in reach: v itself (an absolute imm32)
// or base + i + 4 + (int32)v (a RIP-relative disp32 ending its instruction) lies in the
// range when both are taken modulo 2^32. That is a superset of the exact 64-bit test, which
// the caller makes on these few positions. Appends to `calls` every position in [from, to)
// holding 0xe8 (a possible direct call; the caller reads its rel32), and to `prologues` every
// 16-aligned position in [from, to) where the prologue's four bytes start.
void scan_code_window(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                      uint64_t from, uint64_t to, CodeScanHits& out);

namespace detail {
// The forms scan_code_window picks from, exposed so tests can hold each to the same answers.
void scan_code_window_scalar(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo,
                             uint64_t hi, uint64_t from, uint64_t to, CodeScanHits& out);
void scan_code_window_sse2(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                           uint64_t from, uint64_t to, CodeScanHits& out);
// Only on a CPU with AVX2 (common/fast_find.h's detail::have_avx2()).
void scan_code_window_avx2(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                           uint64_t from, uint64_t to, CodeScanHits& out);
}  // namespace detail

}  // namespace rein::binary
