#include "proto/json_array_stream.h"

namespace rein::proto {

JsonArrayStream::JsonArrayStream(size_t max_object_bytes) : max_object_bytes_(max_object_bytes) {}

void JsonArrayStream::feed(std::string_view chunk, const JsonObjectCallback& on_object) {
  size_t seg_start = 0;  // start of the captured range within this chunk
  auto append_segment = [&](size_t end) {
    if (!capturing_ || capture_overflow_) return;
    size_t len = end - seg_start;
    if (buf_.size() + len > max_object_bytes_) {
      capture_overflow_ = true;
      buf_.clear();
      buf_.shrink_to_fit();
    } else {
      buf_.append(chunk.substr(seg_start, len));
    }
  };

  for (size_t i = 0; i < chunk.size(); ++i) {
    const char c = chunk[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        if (!capturing_) ++stats_.skipped_bytes;  // a bare string element: not ours
        break;
      case '{':
        if (!capturing_ && depth_ == (in_array_ ? 1u : 0u)) {
          capturing_ = true;
          capture_overflow_ = false;
          capture_depth_ = depth_;
          seg_start = i;
          buf_.clear();
        }
        ++depth_;
        break;
      case '[':
        if (depth_ == 0 && !capturing_) {
          in_array_ = true;
          array_closed_ = false;
        }
        ++depth_;
        break;
      case '}':
      case ']':
        if (depth_ > 0) --depth_;
        if (capturing_ && depth_ == capture_depth_) {
          append_segment(i + 1);
          if (capture_overflow_) {
            ++stats_.oversized_objects;
          } else if (c == ']') {
            ++stats_.malformed_objects;  // '{' closed by ']': not an object
          } else {
            ++stats_.objects;
            on_object(buf_);
          }
          capturing_ = false;
          capture_overflow_ = false;
          buf_.clear();
        } else if (!capturing_ && c == ']' && depth_ == 0 && in_array_) {
          in_array_ = false;
          array_closed_ = true;
        }
        break;
      case ' ':
      case '\t':
      case '\r':
      case '\n':
      case ',':
        break;
      default:
        if (!capturing_) ++stats_.skipped_bytes;
        break;
    }
  }
  if (capturing_) append_segment(chunk.size());
}

void JsonArrayStream::finish() {
  if (capturing_) truncated_ = true;
  capturing_ = false;
  capture_overflow_ = false;
  buf_.clear();
}

}  // namespace rein::proto
