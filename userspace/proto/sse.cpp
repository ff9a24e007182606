#include "proto/sse.h"

#include <cstring>

#include "common/fast_find.h"

namespace rein::proto {

namespace {
constexpr std::string_view kBom = "\xEF\xBB\xBF";
}

SseParser::SseParser(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

void SseParser::feed(std::string_view chunk, const SseCallback& on_event) {
  size_t pos = 0;
  const size_t n = chunk.size();
  if (pending_cr_ && n > 0) {
    pending_cr_ = false;
    if (chunk[0] == '\n') pos = 1;  // CRLF split across two feeds
  }
  while (pos < n) {
    // Find the next CR or LF; both end a line.
    size_t eol = find_line_end(chunk, pos);
    std::string_view piece = chunk.substr(pos, eol - pos);
    if (eol == n) {
      // No line end in this chunk: carry the partial line, bounded.
      if (!line_overflow_) {
        if (line_.size() + piece.size() > max_event_bytes_) {
          line_overflow_ = true;
          line_.clear();
          line_.shrink_to_fit();
        } else {
          line_.append(piece);
        }
      }
      return;
    }
    if (line_overflow_) {
      // The overlong line is over; the event it belonged to can no longer be trusted.
      line_overflow_ = false;
      event_overflow_ = true;
    } else if (!line_.empty()) {
      if (line_.size() + piece.size() > max_event_bytes_) {
        event_overflow_ = true;
      } else {
        line_.append(piece);
        on_line(line_, on_event);
      }
      line_.clear();
    } else if (piece.size() > max_event_bytes_) {
      event_overflow_ = true;  // same rule as a line that arrived in pieces
    } else {
      on_line(piece, on_event);
    }
    if (chunk[eol] == '\r') {
      if (eol + 1 < n) {
        if (chunk[eol + 1] == '\n') ++eol;
      } else {
        pending_cr_ = true;
      }
    }
    pos = eol + 1;
  }
}

void SseParser::on_line(std::string_view line, const SseCallback& on_event) {
  if (first_line_) {
    first_line_ = false;
    if (line.substr(0, kBom.size()) == kBom) line.remove_prefix(kBom.size());
  }
  if (line.empty()) {
    dispatch(on_event);
    return;
  }
  if (line.front() == ':') {
    ++stats_.comments;
    return;
  }
  std::string_view field = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (event_overflow_) return;  // already dropping this event; only wait for its end
  if (event_bytes() + value.size() + 1 > max_event_bytes_) {
    event_overflow_ = true;
    reset_event();
    return;
  }
  if (field == "data") {
    if (has_data_) cur_.data.push_back('\n');
    cur_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    cur_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) cur_.id.assign(value);
  }
  // `retry:` and unknown fields carry nothing a usage sensor needs.
}

void SseParser::dispatch(const SseCallback& on_event) {
  if (event_overflow_) {
    ++stats_.oversized_events;
    event_overflow_ = false;
    reset_event();
    return;
  }
  if (has_data_) {
    ++stats_.events;
    on_event(cur_);
  }
  reset_event();
}

void SseParser::reset_event() {
  cur_.event.clear();
  cur_.data.clear();
  cur_.id.clear();
  has_data_ = false;
}

void SseParser::finish(const SseCallback& on_event) {
  pending_cr_ = false;
  if (line_overflow_) {
    line_overflow_ = false;
    event_overflow_ = true;
  } else if (!line_.empty()) {
    std::string last;
    last.swap(line_);
    on_line(last, on_event);
  }
  if (has_data_ && !event_overflow_) ++stats_.unterminated_events;
  if (has_data_ || event_overflow_) dispatch(on_event);
  reset_event();
  first_line_ = true;
}

}  // namespace rein::proto
