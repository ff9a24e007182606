// Incremental newline-delimited JSON splitter (Ollama native streams). Hands out each
// non-blank line without its line ending; it does not parse JSON. Lines above the bound are
// dropped and counted rather than buffered.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rein::proto {

struct NdjsonStats {
  uint64_t lines = 0;            // lines handed to the callback
  uint64_t oversized_lines = 0;  // dropped for exceeding the bound
  uint64_t unterminated_lines = 0;  // last line flushed by finish() without '\n'
};

using LineCallback = std::function<void(std::string_view line)>;

class NdjsonSplitter {
 public:
  static constexpr size_t kDefaultMaxLineBytes = size_t{4} << 20;

  explicit NdjsonSplitter(size_t max_line_bytes = kDefaultMaxLineBytes);

  void feed(std::string_view chunk, const LineCallback& on_line);
  // End of stream: delivers a final line that had no trailing newline.
  void finish(const LineCallback& on_line);

  const NdjsonStats& stats() const { return stats_; }

 private:
  void emit(std::string_view line, const LineCallback& on_line);

  size_t max_line_bytes_;
  std::string line_;
  bool overflow_ = false;
  NdjsonStats stats_;
};

}  // namespace rein::proto
