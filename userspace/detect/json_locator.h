// A bounded, tolerant structural walk of a JSON body that names where byte offsets sit
// ("messages[3].content[0].text"). It never builds a DOM and never copies string contents:
// strings are skipped with memchr, so the walk costs little more than reading the bytes.
// Malformed or truncated JSON is walked as far as it goes; offsets past the end get the
// path that was open there.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rein::detect {

// The open containers at one point of the walk, outermost first.
class JsonPath {
 public:
  struct Frame {
    bool array = false;
    uint32_t index = 0;    // array: the element being read
    std::string_view key;  // object: the member being read ("" before the first key)
  };

  // "messages[3].content": at most kMaxRenderedFrames frames, then "...". Keys that are not
  // short plain words print as "*" so a secret used as a key never reaches a path.
  std::string render() const;
  // Index in the first top-level array named in `conversation_keys`, or -1.
  int conversation_index(std::span<const std::string_view> conversation_keys) const;

  static constexpr size_t kMaxRenderedFrames = 8;

 private:
  friend void walk_json(std::string_view, std::span<const size_t>,
                        const std::function<void(size_t, const JsonPath&)>&,
                        const std::function<void(size_t, size_t, const JsonPath&)>*);
  std::vector<Frame> frames_;
  size_t overflow_ = 0;  // containers deeper than the frames kept
};

// Calls at(i, path) once for every offsets[i] (ascending) with the path of the value that
// holds it. When escaped_string is given, also calls it with the raw [begin, end) bytes of
// every string value that holds an ASCII "\u00XX" or a "\/" escape.
void walk_json(std::string_view body, std::span<const size_t> offsets,
               const std::function<void(size_t, const JsonPath&)>& at,
               const std::function<void(size_t, size_t, const JsonPath&)>* escaped_string);

// Unescapes a JSON string's raw contents into `out` (appending), recording for every output
// byte the offset of the raw byte it came from (raw_base + index) in `raw_offsets`.
// Handles \" \\ \/ \b \f \n \r \t and \uXXXX (surrogate pairs to UTF-8, broken ones to
// U+FFFD). Stops at `max_out` output bytes; returns false when it had to stop early.
bool json_unescape(std::string_view raw, size_t raw_base, size_t max_out, std::string& out,
                   std::vector<uint32_t>& raw_offsets);

}  // namespace rein::detect
