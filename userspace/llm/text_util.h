// Small ASCII string helpers shared by the LLM stage (no locale, no allocation surprises).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rein::llm {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// ASCII lowering 16 bytes a step (the compiler did not vectorise the byte loop); every LLM
// answer is lowered whole to look for hosts in it.
inline void lower_in_place(char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  // Signed compares: bytes from 0x80 up are negative, below 'A', and left alone.
  const __m128i before_a = _mm_set1_epi8('A' - 1), after_z = _mm_set1_epi8('Z' + 1);
  const __m128i bit5 = _mm_set1_epi8(0x20);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, before_a), _mm_cmplt_epi8(v, after_z));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), _mm_or_si128(v, _mm_and_si128(upper, bit5)));
  }
#endif
  for (; i < n; ++i) p[i] = ascii_lower(p[i]);
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  lower_in_place(out.data(), out.size());
  return out;
}

// Into a caller's kept buffer, for hot paths where a new string per call is an allocation.
inline void to_lower_into(std::string_view s, std::string& out) {
  out.assign(s);
  lower_in_place(out.data(), out.size());
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
inline bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Percent-decoding for URL path segments (Bedrock model ids carry %3A). Invalid escapes
// are kept literally. Output is never longer than the input.
std::string percent_decode(std::string_view s);

// Truncate to at most max_bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view s, size_t max_bytes);

// Strict decimal/float parse of a header value; nullopt for junk, NaN, inf or negatives.
std::optional<double> parse_non_negative_double(std::string_view s);

}  // namespace rein::llm
