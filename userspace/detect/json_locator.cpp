#include "detect/json_locator.h"

#include <cstring>

namespace rein::detect {

namespace {

constexpr size_t kMaxFrames = 64;

bool plain_key(std::string_view k) {
  if (k.empty() || k.size() > 32) return false;
  bool digit = false;
  for (char c : k) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-')) {
      return false;
    }
  }
  // No value the scanner reports fits in 12 word characters (cards and IBANs are longer,
  // keys longer still), so short keys with digits are safe to print.
  return !digit || k.size() <= 12;
}

// The closing quote of a string whose contents start at `from`, or body.size().
size_t string_end(std::string_view body, size_t from) {
  const char* base = body.data();
  size_t n = body.size();
  while (from < n) {
    const void* q = std::memchr(base + from, '"', n - from);
    if (q == nullptr) return n;
    size_t pos = static_cast<size_t>(static_cast<const char*>(q) - base);
    size_t bs = 0;
    while (pos > bs && base[pos - 1 - bs] == '\\') bs++;
    if (bs % 2 == 0) return pos;
    from = pos + 1;
  }
  return n;
}

// An escape that can split a value the scanner looks for: \u00XX below 0x80, or \/.
bool has_relevant_escape(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const void* p = std::memchr(s.data() + i, '\\', s.size() - i);
    if (p == nullptr) return false;
    size_t pos = static_cast<size_t>(static_cast<const char*>(p) - s.data());
    if (pos + 1 >= s.size()) return false;
    char e = s[pos + 1];
    if (e == '/') return true;
    if (e == 'u' && pos + 5 < s.size() && s[pos + 2] == '0' && s[pos + 3] == '0' &&
        s[pos + 4] >= '0' && s[pos + 4] <= '7')
      return true;
    i = pos + 2;  // skip the escaped character, so "\\" never pairs with what follows
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool read_hex4(std::string_view s, size_t at, uint32_t* v) {
  if (at + 4 > s.size()) return false;
  uint32_t r = 0;
  for (size_t k = 0; k < 4; k++) {
    int h = hex_value(s[at + k]);
    if (h < 0) return false;
    r = (r << 4) | uint32_t(h);
  }
  *v = r;
  return true;
}

}  // namespace

std::string JsonPath::render() const {
  std::string out;
  size_t shown = 0;
  for (const Frame& f : frames_) {
    if (shown == kMaxRenderedFrames) {
      out += "...";
      return out;
    }
    if (f.array) {
      out += '[';
      out += std::to_string(f.index);
      out += ']';
    } else {
      if (f.key.empty() && shown > 0) break;  // inside an object before its first key
      if (f.key.empty()) continue;            // the root object itself
      if (!out.empty()) out += '.';
      out += plain_key(f.key) ? std::string(f.key) : std::string("*");
    }
    shown++;
  }
  if (overflow_ > 0) out += "...";
  return out;
}

int JsonPath::conversation_index(std::span<const std::string_view> conversation_keys) const {
  if (frames_.size() < 2 || frames_[0].array || !frames_[1].array) return -1;
  for (std::string_view k : conversation_keys)
    if (frames_[0].key == k) return static_cast<int>(frames_[1].index);
  return -1;
}

void walk_json(std::string_view body, std::span<const size_t> offsets,
               const std::function<void(size_t, const JsonPath&)>& at,
               const std::function<void(size_t, size_t, const JsonPath&)>* escaped_string) {
  JsonPath path;
  path.frames_.reserve(16);
  std::vector<bool> expect_key;  // parallel to frames_: an object waiting for a key
  expect_key.reserve(16);
  size_t next = 0;
  auto resolve_before = [&](size_t pos) {
    while (next < offsets.size() && offsets[next] < pos) at(next++, path);
  };
  auto push = [&](bool array) {
    if (path.frames_.size() >= kMaxFrames) {
      path.overflow_++;
      return;
    }
    path.frames_.push_back(JsonPath::Frame{array, 0, {}});
    expect_key.push_back(!array);
  };
  auto pop = [&] {
    if (path.overflow_ > 0) {
      path.overflow_--;
    } else if (!path.frames_.empty()) {
      path.frames_.pop_back();
      expect_key.pop_back();
    }
  };

  const size_t n = body.size();
  size_t i = 0;
  while (i < n) {
    if (next == offsets.size() && escaped_string == nullptr) break;
    char c = body[i];
    switch (c) {
      case '"': {
        size_t end = string_end(body, i + 1);
        bool is_key = path.overflow_ == 0 && !path.frames_.empty() && !path.frames_.back().array &&
                      expect_key.back();
        resolve_before(end + 1);
        std::string_view contents = body.substr(i + 1, end - (i + 1));
        if (is_key) {
          path.frames_.back().key = contents;
          expect_key.back() = false;
        } else if (escaped_string != nullptr && has_relevant_escape(contents)) {
          (*escaped_string)(i + 1, end, path);
        }
        i = end + 1;
        continue;
      }
      case '{':
      case '[':
        resolve_before(i);
        push(c == '[');
        break;
      case '}':
      case ']':
        resolve_before(i + 1);
        pop();
        break;
      case ',':
        resolve_before(i);
        if (path.overflow_ == 0 && !path.frames_.empty()) {
          if (path.frames_.back().array) {
            path.frames_.back().index++;
          } else {
            expect_key.back() = true;
          }
        }
        break;
      default:
        break;
    }
    i++;
  }
  resolve_before(SIZE_MAX);
}

bool json_unescape(std::string_view raw, size_t raw_base, size_t max_out, std::string& out,
                   std::vector<uint32_t>& raw_offsets) {
  auto put = [&](char ch, size_t at) {
    out.push_back(ch);
    raw_offsets.push_back(static_cast<uint32_t>(raw_base + at));
  };
  size_t produced = 0;
  size_t i = 0;
  while (i < raw.size()) {
    if (produced + 4 > max_out) return false;
    char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      put(c, i);
      produced++;
      i++;
      continue;
    }
    char e = raw[i + 1];
    char simple = 0;
    switch (e) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '/':
        simple = '/';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      default:
        break;
    }
    if (simple != 0) {
      put(simple, i);
      produced++;
      i += 2;
      continue;
    }
    uint32_t cp = 0;
    if (e != 'u' || !read_hex4(raw, i + 2, &cp)) {
      put(c, i);  // not an escape JSON knows: keep the backslash as it is
      produced++;
      i++;
      continue;
    }
    size_t consumed = 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t lo = 0;
      if (i + 7 < raw.size() && raw[i + 6] == '\\' && raw[i + 7] == 'u' &&
          read_hex4(raw, i + 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        consumed = 12;
      } else {
        cp = 0xFFFD;
      }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    if (cp < 0x80) {
      put(char(cp), i);
      produced++;
    } else if (cp < 0x800) {
      put(char(0xC0 | (cp >> 6)), i);
      put(char(0x80 | (cp & 0x3F)), i);
      produced += 2;
    } else if (cp < 0x10000) {
      put(char(0xE0 | (cp >> 12)), i);
      put(char(0x80 | ((cp >> 6) & 0x3F)), i);
      put(char(0x80 | (cp & 0x3F)), i);
      produced += 3;
    } else {
      put(char(0xF0 | (cp >> 18)), i);
      put(char(0x80 | ((cp >> 12) & 0x3F)), i);
      put(char(0x80 | ((cp >> 6) & 0x3F)), i);
      put(char(0x80 | (cp & 0x3F)), i);
      produced += 4;
    }
    i += consumed;
  }
  return true;
}

}  // namespace rein::detect
