// The AVX2 forms of fast_find.h's scans: 32 candidate starts a step instead of 16. Only the
// functions marked for AVX2 use its instructions, and fast_find.h calls them only after the
// CPU said it has AVX2, so the binary still runs on any x86-64.
#include "common/fast_find.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define REIN_AVX2 __attribute__((target("avx2")))
#endif

namespace rein::detail {

#if defined(__x86_64__)

bool have_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}

REIN_AVX2 size_t fast_find_avx2(std::string_view hay, std::string_view needle, size_t from) {
  const size_t n = hay.size(), m = needle.size();
  if (from > n || n - from < m) return std::string_view::npos;
  if (m < 2) return hay.find(needle, from);
  const __m256i first = _mm256_set1_epi8(needle[0]);
  const __m256i last = _mm256_set1_epi8(needle[m - 1]);
  const char* h = hay.data();
  size_t i = from;
  // A block covers starts i..i+31; its last-byte load ends at i+m-1+32 <= n.
  for (; i + m - 1 + 32 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + m - 1));
    auto mask = unsigned(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last))));
    while (mask) {
      const unsigned bit = unsigned(__builtin_ctz(mask));
      if (h[i + bit + 1] == needle[1] &&
          std::memcmp(h + i + bit + 1, needle.data() + 1, m - 2) == 0)
        return i + bit;
      mask &= mask - 1;
    }
  }
  return fast_find_sse2(hay, needle, i);  // fewer than 32 starts left
}

REIN_AVX2 bool fast_contains_any_avx2(std::string_view hay, const std::string_view* needles,
                                      size_t k) {
  size_t longest = 0;
  __m256i first[kMaxAnyNeedles], last[kMaxAnyNeedles];
  for (size_t j = 0; j < k; j++) {
    longest = std::max(longest, needles[j].size());
    first[j] = _mm256_set1_epi8(needles[j][0]);
    last[j] = _mm256_set1_epi8(needles[j][needles[j].size() - 1]);
  }
  const size_t n = hay.size();
  const char* h = hay.data();
  size_t i = 0;
  for (; i + longest - 1 + 32 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i));
    for (size_t j = 0; j < k; j++) {
      const size_t m = needles[j].size();
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + m - 1));
      auto mask = unsigned(_mm256_movemask_epi8(
          _mm256_and_si256(_mm256_cmpeq_epi8(a, first[j]), _mm256_cmpeq_epi8(b, last[j]))));
      while (mask) {
        const unsigned bit = unsigned(__builtin_ctz(mask));
        if (h[i + bit + 1] == needles[j][1] &&  // most false starts end here, no call
            std::memcmp(h + i + bit + 1, needles[j].data() + 1, m - 2) == 0)
          return true;
        mask &= mask - 1;
      }
    }
  }
  for (size_t j = 0; j < k; j++)  // the starts from i on
    if (fast_find_sse2(hay, needles[j], i) != std::string_view::npos) return true;
  return false;
}

#else

bool have_avx2() {
  return false;
}
size_t fast_find_avx2(std::string_view hay, std::string_view needle, size_t from) {
  return fast_find_sse2(hay, needle, from);
}
bool fast_contains_any_avx2(std::string_view hay, const std::string_view* needles, size_t k) {
  for (size_t j = 0; j < k; j++)
    if (fast_find_sse2(hay, needles[j], 0) != std::string_view::npos) return true;
  return false;
}

#endif

}  // namespace rein::detail
