#include "binary/code_scan.h"

#include <algorithm>
#include <cstring>

#include "common/fast_find.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define REIN_AVX2 __attribute__((target("avx2")))
#endif

namespace rein::binary {
namespace {

constexpr uint8_t kCallOpcode = 0xe8;
constexpr uint32_t kSignBit = 0x80000000u;
constexpr uint32_t kPrologue = 0xe5894855u;  // 55 48 89 e5, read little-endian

// The range as 32-bit arithmetic sees it: both tests become (x - lo32) <= span32, unsigned.
struct Range32 {
  uint32_t lo, span;
  Range32(uint64_t lo64, uint64_t hi64)
      : lo(static_cast<uint32_t>(lo64)),
        span(hi64 - lo64 > 0xffffffffull ? 0xffffffffu : static_cast<uint32_t>(hi64 - lo64)) {}
};

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// One position, the plain way: what every vector form must agree with.
bool field_at(const uint8_t* d, uint64_t base, Range32 r, uint64_t i) {
  const uint32_t v = load32(d + i);
  const uint32_t rip = static_cast<uint32_t>(base + i + 4) + v;
  return v - r.lo <= r.span || rip - r.lo <= r.span;
}

void scan_one(const uint8_t* d, uint64_t n, uint64_t base, Range32 r, uint64_t i,
              CodeScanHits& out) {
  if (i + 4 <= n) {
    if (field_at(d, base, r, i)) out.fields.push_back(i);
    if (i % 16 == 0 && load32(d + i) == kPrologue) out.prologues.push_back(i);
  }
  if (d[i] == kCallOpcode) out.calls.push_back(i);
}

// A block where some lane passed (rare): which positions, the plain way. Kept out of line so
// the sweep keeps its per-lane masks in registers instead of on the stack.
[[gnu::noinline]] void fields_of_block(const uint8_t* d, uint64_t base, Range32 r, uint64_t i,
                                       unsigned width, std::vector<uint64_t>& fields) {
  for (uint64_t p = i; p < i + width; ++p)
    if (field_at(d, base, r, p)) fields.push_back(p);
}

// How far ahead of the sweep to ask for cache lines: the pages come straight from the page
// cache, cold in every CPU cache, and the hardware prefetcher stops at each 4 KiB page. The
// address stays inside the bytes (no pointer past the end, even for a hint).
constexpr uint64_t kPrefetchAhead = 1024;

void push_bits(uint32_t mask, uint64_t at, std::vector<uint64_t>& out) {
  while (mask) {
    out.push_back(at + static_cast<uint64_t>(__builtin_ctz(mask)));
    mask &= mask - 1;
  }
}

}  // namespace

namespace detail {

void scan_code_window_scalar(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo,
                             uint64_t hi, uint64_t from, uint64_t to, CodeScanHits& out) {
  const Range32 r(lo, hi);
  to = std::min<uint64_t>(to, bytes.size());
  for (uint64_t i = from; i < to; ++i) scan_one(bytes.data(), bytes.size(), base, r, i, out);
}

#if defined(__x86_64__)

// Unsigned x <= span as a signed compare: both shifted by the sign bit. Adding the sign bit
// is the same as flipping it, so the shift folds into the constants the loads are added to:
// abs = v + (kSignBit - lo), rip = v + (base + i + 4 + k + 4j - lo + kSignBit), and a lane
// misses when it is greater than span + kSignBit. A block that misses everywhere (nearly
// all of them) costs two adds, two compares and an and per load.
void scan_code_window_sse2(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                           uint64_t from, uint64_t to, CodeScanHits& out) {
  const Range32 r(lo, hi);
  const uint8_t* d = bytes.data();
  const uint64_t n = bytes.size();
  to = std::min(to, n);
  uint64_t i = from;
  for (; i < to && i % 16; ++i) scan_one(d, n, base, r, i, out);  // blocks start 16-aligned
  const __m128i prologue = _mm_set1_epi32(static_cast<int>(kPrologue));
  const __m128i abs_add = _mm_set1_epi32(static_cast<int>(kSignBit - r.lo));
  const __m128i limit = _mm_set1_epi32(static_cast<int>(r.span ^ kSignBit));
  const __m128i call_op = _mm_set1_epi8(static_cast<char>(kCallOpcode));
  const uint32_t rip0 = static_cast<uint32_t>(base + i + 4) - r.lo + kSignBit;
  __m128i rip_add[4];
  for (int k = 0; k < 4; ++k)
    rip_add[k] = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(rip0)),
                               _mm_setr_epi32(k, k + 4, k + 8, k + 12));
  const __m128i step = _mm_set1_epi32(16);
  // A block reads bytes i .. i + 18 (its last field's four bytes).
  for (; i + 16 <= to && i + 19 <= n; i += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(d + std::min(i + kPrefetchAhead, n - 1)),
                 _MM_HINT_T0);
    __m128i all = _mm_set1_epi32(-1);
    for (int k = 0; k < 4; ++k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i + k));
      all = _mm_and_si128(all, _mm_and_si128(_mm_cmpgt_epi32(_mm_add_epi32(v, abs_add), limit),
                                             _mm_cmpgt_epi32(_mm_add_epi32(v, rip_add[k]), limit)));
      rip_add[k] = _mm_add_epi32(rip_add[k], step);
    }
    if (_mm_movemask_epi8(all) != 0xffff) fields_of_block(d, base, r, i, 16, out.fields);
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    push_bits(static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, call_op))), i, out.calls);
    // lane 0 of the load at i is the 16-aligned position i itself
    if (_mm_cvtsi128_si32(_mm_cmpeq_epi32(b, prologue)) != 0) out.prologues.push_back(i);
  }
  for (; i < to; ++i) scan_one(d, n, base, r, i, out);
}

REIN_AVX2 void scan_code_window_avx2(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo,
                                     uint64_t hi, uint64_t from, uint64_t to, CodeScanHits& out) {
  const Range32 r(lo, hi);
  const uint8_t* d = bytes.data();
  const uint64_t n = bytes.size();
  to = std::min(to, n);
  uint64_t i = from;
  for (; i < to && i % 16; ++i) scan_one(d, n, base, r, i, out);  // blocks start 16-aligned
  const __m256i prologue = _mm256_set1_epi32(static_cast<int>(kPrologue));
  const __m256i abs_add = _mm256_set1_epi32(static_cast<int>(kSignBit - r.lo));
  const __m256i limit = _mm256_set1_epi32(static_cast<int>(r.span ^ kSignBit));
  const __m256i call_op = _mm256_set1_epi8(static_cast<char>(kCallOpcode));
  const uint32_t rip0 = static_cast<uint32_t>(base + i + 4) - r.lo + kSignBit;
  __m256i rip_add[4];
  for (int k = 0; k < 4; ++k)
    rip_add[k] = _mm256_add_epi32(
        _mm256_set1_epi32(static_cast<int>(rip0)),
        _mm256_setr_epi32(k, k + 4, k + 8, k + 12, k + 16, k + 20, k + 24, k + 28));
  const __m256i step = _mm256_set1_epi32(32);
  // A block reads bytes i .. i + 34.
  for (; i + 32 <= to && i + 35 <= n; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(d + std::min(i + kPrefetchAhead, n - 1)),
                 _MM_HINT_T0);
    __m256i all = _mm256_set1_epi32(-1);
    for (int k = 0; k < 4; ++k) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i + k));
      all = _mm256_and_si256(
          all, _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_add_epi32(v, abs_add), limit),
                                _mm256_cmpgt_epi32(_mm256_add_epi32(v, rip_add[k]), limit)));
      rip_add[k] = _mm256_add_epi32(rip_add[k], step);
    }
    if (static_cast<uint32_t>(_mm256_movemask_epi8(all)) != 0xffffffffu)
      fields_of_block(d, base, r, i, 32, out.fields);
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + i));
    push_bits(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, call_op))), i,
              out.calls);
    // lanes 0 and 4 (bytes 0 and 16) of the load at i are the block's 16-aligned positions
    const auto pm = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(b, prologue))));
    if (pm & 0x01u) out.prologues.push_back(i);
    if (pm & 0x10u) out.prologues.push_back(i + 16);
  }
  for (; i < to; ++i) scan_one(d, n, base, r, i, out);
}

#else

void scan_code_window_sse2(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                           uint64_t from, uint64_t to, CodeScanHits& out) {
  scan_code_window_scalar(bytes, base, lo, hi, from, to, out);
}
void scan_code_window_avx2(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                           uint64_t from, uint64_t to, CodeScanHits& out) {
  scan_code_window_scalar(bytes, base, lo, hi, from, to, out);
}

#endif

}  // namespace detail

void scan_code_window(std::span<const uint8_t> bytes, uint64_t base, uint64_t lo, uint64_t hi,
                      uint64_t from, uint64_t to, CodeScanHits& out) {
#if defined(__x86_64__)
  if (rein::detail::have_avx2())
    return detail::scan_code_window_avx2(bytes, base, lo, hi, from, to, out);
#endif
  detail::scan_code_window_sse2(bytes, base, lo, hi, from, to, out);
}

}  // namespace rein::binary
