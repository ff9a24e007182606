#include "proto/ndjson.h"

namespace rein::proto {

namespace {
bool is_blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}
}  // namespace

NdjsonSplitter::NdjsonSplitter(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

void NdjsonSplitter::emit(std::string_view line, const LineCallback& on_line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (is_blank(line)) return;
  ++stats_.lines;
  on_line(line);
}

void NdjsonSplitter::feed(std::string_view chunk, const LineCallback& on_line) {
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    if (nl == std::string_view::npos) {
      if (!overflow_) {
        if (line_.size() + piece.size() > max_line_bytes_) {
          overflow_ = true;
          line_.clear();
          line_.shrink_to_fit();
        } else {
          line_.append(piece);
        }
      }
      return;
    }
    if (overflow_) {
      overflow_ = false;
      ++stats_.oversized_lines;
    } else if (!line_.empty()) {
      if (line_.size() + piece.size() > max_line_bytes_) {
        ++stats_.oversized_lines;
      } else {
        line_.append(piece);
        emit(line_, on_line);
      }
      line_.clear();
    } else if (piece.size() > max_line_bytes_) {
      ++stats_.oversized_lines;
    } else {
      emit(piece, on_line);
    }
    chunk.remove_prefix(nl + 1);
  }
}

void NdjsonSplitter::finish(const LineCallback& on_line) {
  if (overflow_) {
    overflow_ = false;
    ++stats_.oversized_lines;
  } else if (!line_.empty()) {
    std::string last;
    last.swap(line_);
    if (!is_blank(last)) ++stats_.unterminated_lines;
    emit(last, on_line);
  }
  line_.clear();
}

}  // namespace rein::proto
