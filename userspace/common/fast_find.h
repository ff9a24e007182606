// Substring search for needles of 2+ bytes over whole records and bodies, 16 positions per
// step: compare the needle's first and last bytes against 16 candidate starts at once (SSE2,
// part of every x86-64), and compare the rest only where both match. A Horspool loop over a
// 12-byte API key moved at most 12 bytes a step; glibc's memmem and string_view::find were
// slower still on JSON text, where the first letter of a needle is everywhere. Where the CPU
// has AVX2 (checked once at run time: the binary must run on any x86-64), the scans of whole
// bodies take 32 positions a step (fast_find.cpp).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rein {

namespace detail {

// Whether this CPU runs the AVX2 variants (once per process).
bool have_avx2();
// The AVX2 variants (fast_find.cpp): the same answers as the SSE2 ones below.
size_t fast_find_avx2(std::string_view hay, std::string_view needle, size_t from);
bool fast_contains_any_avx2(std::string_view hay, const std::string_view* needles, size_t k);

inline size_t fast_find_sse2(std::string_view hay, std::string_view needle, size_t from) {
  const size_t n = hay.size(), m = needle.size();
  if (from > n || n - from < m) return std::string_view::npos;
  if (m < 2) return hay.find(needle, from);
  size_t i = from;
#if defined(__SSE2__)
  const __m128i first = _mm_set1_epi8(needle[0]);
  const __m128i last = _mm_set1_epi8(needle[m - 1]);
  const char* h = hay.data();
  // A block covers starts i..i+15; its last-byte load ends at i+m-1+16 <= n.
  for (; i + m - 1 + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + m - 1));
    unsigned mask = unsigned(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
    while (mask) {
      const unsigned bit = unsigned(__builtin_ctz(mask));
      if (h[i + bit + 1] == needle[1] &&
          std::memcmp(h + i + bit + 1, needle.data() + 1, m - 2) == 0)
        return i + bit;
      mask &= mask - 1;
    }
  }
#endif
  return hay.find(needle, i);  // the tail (or everything without SSE2)
}

}  // namespace detail

// The first position >= from where `needle` starts in `hay`, or npos.
inline size_t fast_find(std::string_view hay, std::string_view needle, size_t from = 0) {
  // A short haystack is done before the AVX2 loop would start.
  if (hay.size() >= 64 && needle.size() >= 2 && detail::have_avx2())
    return detail::fast_find_avx2(hay, needle, from);
  return detail::fast_find_sse2(hay, needle, from);
}

// The first position >= from of a CR or LF in `s`, or s.size(): where a line of an event
// stream ends. SSE data lines are JSON documents of hundreds of bytes, and a byte loop over
// them was the event-stream parser's whole cost.
inline size_t find_line_end(std::string_view s, size_t from = 0) {
  const size_t n = s.size();
  size_t i = from;
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const char* h = s.data();
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    const unsigned mask =
        unsigned(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(a, lf), _mm_cmpeq_epi8(a, cr))));
    if (mask) return i + unsigned(__builtin_ctz(mask));
  }
#endif
  while (i < n && s[i] != '\n' && s[i] != '\r') ++i;
  return i;
}

inline bool fast_contains(std::string_view hay, std::string_view needle) {
  return fast_find(hay, needle) != std::string_view::npos;
}

// Whether any of up to four needles of 2+ bytes occurs in `hay`, in one pass: each block of
// `hay` is loaded once for all of them (a pass per needle read a whole response body again
// for each).
namespace detail {
constexpr size_t kMaxAnyNeedles = 4;

inline bool fast_contains_any_sse2(std::string_view hay,
                                   std::span<const std::string_view> needles) {
  constexpr size_t kMax = kMaxAnyNeedles;
  size_t longest = 0, shortest = SIZE_MAX;
  for (auto nd : needles) {
    longest = std::max(longest, nd.size());
    shortest = std::min(shortest, nd.size());
  }
  if (needles.size() > kMax || shortest < 2) {
    for (auto nd : needles)
      if (fast_contains(hay, nd)) return true;
    return false;
  }
  const size_t n = hay.size();
  size_t i = 0;
#if defined(__SSE2__)
  const std::string_view* nds = needles.data();
  const size_t k = needles.size();
  __m128i first[kMax], last[kMax];
  for (size_t j = 0; j < k; j++) {
    first[j] = _mm_set1_epi8(nds[j][0]);
    last[j] = _mm_set1_epi8(nds[j][nds[j].size() - 1]);
  }
  const char* h = hay.data();
  for (; i + longest - 1 + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i));
    for (size_t j = 0; j < k; j++) {
      const size_t m = nds[j].size();
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i + m - 1));
      unsigned mask = unsigned(_mm_movemask_epi8(
          _mm_and_si128(_mm_cmpeq_epi8(a, first[j]), _mm_cmpeq_epi8(b, last[j]))));
      while (mask) {
        const unsigned bit = unsigned(__builtin_ctz(mask));
        if (h[i + bit + 1] == nds[j][1] &&  // most false starts end here, no call
            std::memcmp(h + i + bit + 1, nds[j].data() + 1, m - 2) == 0)
          return true;
        mask &= mask - 1;
      }
    }
  }
#endif
  for (auto nd : needles)  // starts from i on (or everything without SSE2)
    if (fast_find_sse2(hay, nd, i) != std::string_view::npos) return true;
  return false;
}

inline bool fast_contains_any_sse2(std::string_view hay,
                                   std::initializer_list<std::string_view> needles) {
  return fast_contains_any_sse2(hay,
                                std::span<const std::string_view>(needles.begin(), needles.size()));
}
}  // namespace detail

inline bool fast_contains_any(std::string_view hay, std::span<const std::string_view> needles) {
  // Under 64 bytes (a streamed answer's few words) the vector loop covers a block or two
  // and leaves the rest to a search per needle anyway: search per needle from the start.
  if (hay.size() < 64) {
    for (auto nd : needles)
      if (hay.find(nd) != std::string_view::npos) return true;
    return false;
  }
  if (hay.size() >= 64 && needles.size() <= detail::kMaxAnyNeedles && detail::have_avx2()) {
    bool short_needle = false;
    for (auto nd : needles) short_needle = short_needle || nd.size() < 2;
    if (!short_needle) return detail::fast_contains_any_avx2(hay, needles.data(), needles.size());
  }
  return detail::fast_contains_any_sse2(hay, needles);
}

inline bool fast_contains_any(std::string_view hay,
                              std::initializer_list<std::string_view> needles) {
  return fast_contains_any(hay, std::span<const std::string_view>(needles.begin(), needles.size()));
}

}  // namespace rein
