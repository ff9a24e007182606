// Incremental splitter for a JSON array streamed element by element (Gemini
// :streamGenerateContent without alt=sse: "[{...}\n,\r\n{...}\n]"). Hands out the text of
// each top-level object, tracking nesting depth and string/escape state only: no JSON
// validation happens here. A body that is a bare object (or a run of objects, e.g. an
// error reply) is handled the same way. Elements above the bound are dropped and counted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rein::proto {

struct JsonArrayStats {
  uint64_t objects = 0;            // objects handed to the callback
  uint64_t oversized_objects = 0;  // dropped for exceeding the bound
  uint64_t malformed_objects = 0;  // dropped: brackets did not balance as an object
  uint64_t skipped_bytes = 0;      // bytes outside any object that were not array syntax
};

using JsonObjectCallback = std::function<void(std::string_view object_text)>;

class JsonArrayStream {
 public:
  static constexpr size_t kDefaultMaxObjectBytes = size_t{4} << 20;

  explicit JsonArrayStream(size_t max_object_bytes = kDefaultMaxObjectBytes);

  void feed(std::string_view chunk, const JsonObjectCallback& on_object);
  // End of stream; an object still open is discarded (it cannot be complete).
  void finish();

  bool array_closed() const { return array_closed_; }  // saw the top-level ']'
  bool truncated() const { return truncated_; }        // finish() found an open object
  const JsonArrayStats& stats() const { return stats_; }

 private:
  size_t max_object_bytes_;
  uint64_t depth_ = 0;           // bracket nesting including the outer array
  bool in_array_ = false;        // the outer '[' was seen
  bool array_closed_ = false;
  bool in_string_ = false;
  bool escape_ = false;
  bool capturing_ = false;       // inside a top-level object
  bool capture_overflow_ = false;
  uint64_t capture_depth_ = 0;   // depth_ value just before the object's '{'
  bool truncated_ = false;
  std::string buf_;
  JsonArrayStats stats_;
};

}  // namespace rein::proto
