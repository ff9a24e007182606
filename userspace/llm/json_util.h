// simdjson DOM helpers for the LLM stage: error-code API only (no exceptions on the data
// path), every accessor tolerant of missing keys and wrong types (hostile bodies).
#pragma once
#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rein::llm::json {

using Element = simdjson::dom::element;

// Documents above this size are skipped (and counted) instead of parsed.
inline constexpr size_t kMaxDocBytes = size_t{16} << 20;

// Owns a parser whose capacity is capped at kMaxDocBytes. Elements returned by parse() are
// valid until the next parse() on the same object.
// A DocParser made per exchange takes a warm parser from a small per-thread pool and gives
// it back when destroyed, so its buffers are not allocated again for every LLM call; one
// grown past kMaxPooledBytes by a large document is freed instead of kept.
class DocParser {
 public:
  DocParser();
  ~DocParser();
  DocParser(const DocParser&) = delete;
  DocParser& operator=(const DocParser&) = delete;
  enum class Status { kOk, kTooLarge, kInvalid };
  Status parse(std::string_view text, Element& out);
  // Gives back buffers grown past kMaxPooledBytes by a large document (simdjson keeps its
  // largest): a long-lived parser (a WebSocket session's) would otherwise hold several times
  // its largest message until it is destroyed. Elements of the last parse become invalid.
  void release_large();
  // Input bytes its buffers are sized for now (the largest document since the last release).
  size_t capacity() const;

  struct Buffers {
    Buffers() : parser(kMaxDocBytes) {}
    simdjson::dom::parser parser;
    // Reused padded copy of the input: simdjson reads up to SIMDJSON_PADDING bytes past
    // the end, and a stream of many small events should not allocate once per event.
    std::vector<char> padded;
  };
  static constexpr size_t kMaxPooledBytes = size_t{1} << 20;
  static constexpr size_t kMaxPooled = 8;

 private:
  std::unique_ptr<Buffers> b_;
};

// Member of an object; nullopt when `e` is not an object or lacks the key.
std::optional<Element> field(Element e, std::string_view key);
// Nested member: field(field(e, a), b)...
std::optional<Element> path(Element e, std::initializer_list<std::string_view> keys);

// A token count: a non-negative integer (an integral double such as 12.0 is accepted).
// Null, negative, fractional, out-of-range and non-numbers are nullopt.
std::optional<int64_t> as_count(Element e);
std::optional<int64_t> count(Element e, std::string_view key);
std::optional<int64_t> count_at(Element e, std::initializer_list<std::string_view> keys);

std::optional<std::string_view> str(Element e, std::string_view key);
std::optional<bool> boolean(Element e, std::string_view key);
// Finite number (int or double) under key.
std::optional<double> number(Element e, std::string_view key);

bool is_object(Element e);
bool is_array(Element e);

// The object or array `e` is, empty when it is another type. By value: a range-for over
// get_object().value_unsafe() would iterate a dead temporary.
inline simdjson::dom::object obj_of(Element e) {
  simdjson::dom::object o;
  (void)e.get_object().get(o);
  return o;
}
inline simdjson::dom::array arr_of(Element e) {
  simdjson::dom::array a;
  (void)e.get_array().get(a);
  return a;
}

}  // namespace rein::llm::json
