// Streaming builder for one compact JSON value (events leave the sensor as JSON lines).
// Strings come from hostile processes (argv, paths, comm), so every string is escaped to
// always-valid UTF-8 JSON: invalid bytes become U+FFFD instead of failing the event.
#pragma once
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace rein::sinks {

// Appends `s` as JSON string *content* (no surrounding quotes). Valid UTF-8 passes through;
// each byte that is not part of a well-formed UTF-8 sequence (bad lead, truncated sequence,
// overlong form, surrogate, above U+10FFFF) becomes U+FFFD on its own, so the output length
// is predictable from the input. Control characters and U+007F are escaped, as are U+2028 and
// U+2029 so the line can also be embedded in JavaScript.
void json_escape_append(std::string& out, std::string_view s);

// Separators are inserted automatically: call key() before each value inside an object and
// just the values inside an array. Calling out of order (a value where a key is due, key()
// in an array, unbalanced end_*, a second top-level value) is a programming error; it is
// never a crash: the writer stops appending and well_formed() reports false.
class JsonWriter {
 public:
  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view k);

  void string(std::string_view s);
  void number(int64_t v);
  void number(uint64_t v);
  void number(double v);  // finite: shortest round-trip form; NaN and infinities: null
  // Other integer widths (int, unsigned, long long, ...) would be ambiguous between the
  // overloads above; route them by signedness.
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, int64_t> && !std::same_as<T, uint64_t>)
  void number(T v) {
    if constexpr (std::is_signed_v<T>) {
      number(static_cast<int64_t>(v));
    } else {
      number(static_cast<uint64_t>(v));
    }
  }
  void boolean(bool v);
  void null();
  // Caller guarantees `json` is one complete, valid JSON value (e.g. a pre-rendered object).
  void raw(std::string_view json);

  const std::string& str() const { return out_; }
  // True when exactly one complete top-level value has been written and nothing misused.
  bool well_formed() const { return !misused_ && stack_.empty() && top_done_; }
  void clear();
  void reserve(size_t n) { out_.reserve(n); }

 private:
  enum class Frame : uint8_t { object_first, object_next, object_value, array_first, array_next };
  bool before_value();  // emits the separator a value needs; false on misuse
  void after_value();
  void misuse();

  std::string out_;
  std::vector<Frame> stack_;
  bool top_done_ = false;
  bool misused_ = false;
};

}  // namespace rein::sinks
