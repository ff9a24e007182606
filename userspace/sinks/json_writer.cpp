#include "sinks/json_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rein::sinks {
namespace {

// Bytes that go out verbatim without further thought: printable ASCII minus '"' and '\\'.
constexpr std::array<bool, 256> kPlainAscii = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7F; ++c) t[c] = true;
  t['"'] = false;
  t['\\'] = false;
  return t;
}();

// How many bytes from p on, in whole blocks of 16, are plain (kPlainAscii): most of an
// event's text is, and a byte-at-a-time table loop over it was 3% of a replay.
size_t plain_prefix16(const unsigned char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7F);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i bslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // a signed compare: bytes >= 0x80 are negative, so "below a space" catches them too
    __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(a, bslash));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(a, del));
    bad = _mm_or_si128(bad, _mm_cmplt_epi8(a, space));
    if (_mm_movemask_epi8(bad)) break;
  }
#endif
  return i;
}

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence starting at p (lead byte >= 0x80), or 0 when the
// lead byte does not start one. The second-byte ranges exclude overlong forms (E0, F0),
// surrogates (ED) and code points above U+10FFFF (F4); C0, C1 and F5..FF never lead.
size_t utf8_sequence_length(const unsigned char* p, size_t avail) {
  const unsigned char c = p[0];
  size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (avail < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
  }
  return len;
}

// U+2028 / U+2029 are valid JSON but terminate lines in JavaScript; escaping them keeps the
// output safe to paste into either.
bool is_line_or_paragraph_separator(const unsigned char* p) {
  return p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9);
}

void append_control_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\t': out += "\\t"; return;
    case '\r': out += "\\r"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    default: break;
  }
  const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
  out.append(esc, sizeof esc);
}

template <typename T>
void append_integer(std::string& out, T v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

}  // namespace

void json_escape_append(std::string& out, std::string_view s) {
  // One pass; most argv/path bytes are plain, so grow once for the common case and copy
  // whole runs of bytes that need no rewriting with a single append.
  out.reserve(out.size() + s.size() + 2);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t run_end = i + plain_prefix16(p + i, n - i);
    while (run_end < n) {
      const unsigned char c = p[run_end];
      if (kPlainAscii[c]) {
        ++run_end;
        continue;
      }
      if (c < 0x80) break;
      const size_t len = utf8_sequence_length(p + run_end, n - run_end);
      if (len == 0 || (len == 3 && is_line_or_paragraph_separator(p + run_end))) break;
      run_end += len;
    }
    out.append(s.data() + i, run_end - i);
    i = run_end;
    if (i >= n) break;

    const unsigned char c = p[i];
    if (c < 0x80) {
      append_control_escape(out, c);
      ++i;
    } else if (utf8_sequence_length(p + i, n - i) == 3 && is_line_or_paragraph_separator(p + i)) {
      out += p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
      i += 3;
    } else {
      out += kReplacement;
      ++i;  // resynchronise on the very next byte: one U+FFFD per invalid byte
    }
  }
}

void JsonWriter::misuse() { misused_ = true; }

bool JsonWriter::before_value() {
  if (misused_) return false;
  if (stack_.empty()) {
    if (top_done_) {
      misuse();
      return false;
    }
    return true;
  }
  switch (stack_.back()) {
    case Frame::object_value:
      return true;
    case Frame::array_first:
      stack_.back() = Frame::array_next;
      return true;
    case Frame::array_next:
      out_ += ',';
      return true;
    case Frame::object_first:
    case Frame::object_next:
      break;
  }
  misuse();  // a value where a key is due
  return false;
}

void JsonWriter::after_value() {
  if (stack_.empty()) {
    top_done_ = true;
  } else if (stack_.back() == Frame::object_value) {
    stack_.back() = Frame::object_next;
  }
}

void JsonWriter::begin_object() {
  if (!before_value()) return;
  out_ += '{';
  stack_.push_back(Frame::object_first);
}

void JsonWriter::end_object() {
  if (misused_) return;
  if (stack_.empty() ||
      (stack_.back() != Frame::object_first && stack_.back() != Frame::object_next)) {
    misuse();
    return;
  }
  stack_.pop_back();
  out_ += '}';
  after_value();
}

void JsonWriter::begin_array() {
  if (!before_value()) return;
  out_ += '[';
  stack_.push_back(Frame::array_first);
}

void JsonWriter::end_array() {
  if (misused_) return;
  if (stack_.empty() ||
      (stack_.back() != Frame::array_first && stack_.back() != Frame::array_next)) {
    misuse();
    return;
  }
  stack_.pop_back();
  out_ += ']';
  after_value();
}

void JsonWriter::key(std::string_view k) {
  if (misused_) return;
  if (stack_.empty() ||
      (stack_.back() != Frame::object_first && stack_.back() != Frame::object_next)) {
    misuse();
    return;
  }
  const bool comma = stack_.back() == Frame::object_next;
  stack_.back() = Frame::object_value;
  // Keys are nearly always the program's own short ASCII names, about twenty per event:
  // those go out as one append of `,"key":`, without the escaper's set-up.
  constexpr size_t kShortKey = 32;
  if (k.size() <= kShortKey &&
      std::all_of(k.begin(), k.end(), [](char c) { return kPlainAscii[static_cast<unsigned char>(c)]; })) {
    char buf[kShortKey + 4];
    size_t n = 0;
    if (comma) buf[n++] = ',';
    buf[n++] = '"';
    std::memcpy(buf + n, k.data(), k.size());
    n += k.size();
    buf[n++] = '"';
    buf[n++] = ':';
    out_.append(buf, n);
    return;
  }
  if (comma) out_ += ',';
  out_ += '"';
  json_escape_append(out_, k);
  out_ += "\":";
}

void JsonWriter::string(std::string_view s) {
  if (!before_value()) return;
  out_ += '"';
  json_escape_append(out_, s);
  out_ += '"';
  after_value();
}

void JsonWriter::number(int64_t v) {
  if (!before_value()) return;
  append_integer(out_, v);
  after_value();
}

void JsonWriter::number(uint64_t v) {
  if (!before_value()) return;
  append_integer(out_, v);
  after_value();
}

void JsonWriter::number(double v) {
  if (!before_value()) return;
  if (std::isfinite(v)) {
    // to_chars without a format gives the shortest text that reads back to the same double;
    // its forms ("-0", "1e+300", "0.1") are all valid JSON numbers.
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    // Shortest form can be a long digit string ("-17371808993903353856") that integer-minded
    // readers (simdjson among them) reject or truncate past 64 bits; beyond 2^53 a double no
    // longer denotes an exact integer anyway, so say so with the scientific form.
    if (std::fabs(v) >= 9007199254740992.0 &&
        std::string_view(buf, res.ptr).find_first_of(".e") == std::string_view::npos) {
      res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    }
    out_.append(buf, res.ptr);
  } else {
    out_ += "null";  // JSON has no NaN or infinity
  }
  after_value();
}

void JsonWriter::boolean(bool v) {
  if (!before_value()) return;
  out_ += v ? "true" : "false";
  after_value();
}

void JsonWriter::null() {
  if (!before_value()) return;
  out_ += "null";
  after_value();
}

void JsonWriter::raw(std::string_view json) {
  if (!before_value()) return;
  out_ += json;
  after_value();
}

void JsonWriter::clear() {
  out_.clear();  // keeps capacity: the next event line reuses the buffer
  stack_.clear();
  top_done_ = false;
  misused_ = false;
}

}  // namespace rein::sinks
