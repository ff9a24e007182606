#include "detect/pattern_literal.h"

#include "common/fast_find.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rein::detect {

namespace detail {

bool literal_at(std::string_view t, size_t i) {
  const size_t n = t.size();
  auto at = [&](std::string_view lit) { return t.substr(i, lit.size()) == lit; };
  switch (t[i]) {
    case 's':
    case 'S':  // sk-, and "secret" in any case (secret_access_key)
      if (at("sk-")) return true;
      if (i + 6 <= n) {
        bool secret = true;
        for (size_t j = 0; j < 6 && secret; j++) secret = (t[i + j] | 0x20) == "secret"[j];
        if (secret) return true;
      }
      return false;
    case 'k':  // [rs]k_live_, [rs]k_test_
      return at("k_");
    case 'A':
      return at("AIza") || at("AKIA") || at("ASIA");
    case 'g':  // gh[pousr]_, github_pat_, gsk_
      return at("gh") || at("github_pat_") || at("gsk_");
    case 'x':
      return at("xox") || at("xai-");
    case 'h':
      return at("hf_");
    case '-':
      return at("-----");
    case 'e':
      return at("eyJ");
    case ':':
      return at("://");
    case '@':
    case '\\':  // \u00.., \/
      return true;
    default:
      return false;
  }
}

bool has_pattern_literal_bytes(std::string_view t, size_t from) {
  for (size_t i = from; i < t.size(); i++)
    if (literal_at(t, i)) return true;
  return false;
}

#if defined(__x86_64__)
// A position passes when its byte and the next, both with bit 5 set (ASCII lower case; the
// screen may pass more than literal_at accepts, never less), are the first two bytes of a
// literal, or its byte is '@' or '\'.
#define REIN_AVX2 __attribute__((target("avx2"), always_inline)) inline
namespace {
REIN_AVX2 __m256i is(__m256i v, char c) {
  return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c));
}
REIN_AVX2 __m256i either(__m256i a, __m256i b) {
  return _mm256_or_si256(a, b);
}
REIN_AVX2 __m256i both(__m256i a, __m256i b) {
  return _mm256_and_si256(a, b);
}
}  // namespace
#undef REIN_AVX2

__attribute__((target("avx2"))) bool has_pattern_literal_avx2(std::string_view t) {
  const size_t n = t.size();
  const char* p = t.data();
  const __m256i bit5 = _mm256_set1_epi8(0x20);
  size_t i = 0;
  // The second bytes' load ends at i + 33 <= n.
  for (; i + 33 <= n; i += 32) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const __m256i a = _mm256_or_si256(raw, bit5);
    const __m256i b = _mm256_or_si256(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 1)), bit5);
    const __m256i b_s = is(b, 's'), b_k = is(b, 'k'), b_i = is(b, 'i');
    __m256i m = either(is(raw, '@'), is(raw, '\\'));
    m = either(m, both(is(a, 's'), either(b_k, is(b, 'e'))));        // sk-, secret
    m = either(m, both(is(a, 'k'), is(b, char('_' | 0x20))));              // k_
    m = either(m, both(is(a, 'a'), either(either(b_i, b_k), b_s)));  // AIza, AKIA, ASIA
    m = either(m, both(is(a, 'g'), either(either(is(b, 'h'), b_i), b_s)));  // gh, github_, gsk_
    m = either(m, both(is(a, 'x'), either(is(b, 'o'), is(b, 'a'))));       // xox, xai-
    m = either(m, both(is(a, 'h'), is(b, 'f')));                            // hf_
    m = either(m, both(is(a, '-'), is(b, '-')));                            // -----
    m = either(m, both(is(a, 'e'), is(b, 'y')));                            // eyJ
    m = either(m, both(is(a, ':'), is(b, '/')));                            // ://
    auto mask = unsigned(_mm256_movemask_epi8(m));
    while (mask) {
      if (literal_at(t, i + unsigned(__builtin_ctz(mask)))) return true;
      mask &= mask - 1;
    }
  }
  return has_pattern_literal_bytes(t, i);
}
#else
bool has_pattern_literal_avx2(std::string_view t) {
  return has_pattern_literal_bytes(t);
}
#endif

}  // namespace detail

bool has_pattern_literal(std::string_view t) {
  if (t.size() >= 64 && rein::detail::have_avx2()) return detail::has_pattern_literal_avx2(t);
  return detail::has_pattern_literal_bytes(t);
}

}  // namespace rein::detect
