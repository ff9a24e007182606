#include "proto/http1_parser.h"

#include "common/ascii.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

namespace rein::proto {

namespace {

constexpr std::string_view kVersionMarker = "HTTP/1.";
constexpr size_t kMaxMethodLen = 32;
constexpr uint64_t kMaxChunkSize = uint64_t{1} << 62;

const uint8_t* find_lf(std::span<const uint8_t> in) {
  return static_cast<const uint8_t*>(std::memchr(in.data(), '\n', in.size()));
}

// Line content between `from` and the LF that ends `buf`, without the LF or a CR before it.
std::string_view last_line(const std::string& buf, size_t from) {
  std::string_view line(buf.data() + from, buf.size() - from - 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

int hex_value(char c) { return hex_digit_value(c); }

}  // namespace

Http1Parser::Http1Parser(Http1Mode mode, Http1Sink& sink, Http1Limits limits)
    : mode_(mode), sink_(sink), limits_(limits) {}

void Http1Parser::feed(std::span<const uint8_t> data, uint64_t ts) {
  std::string replay;  // input restarted at a message start found by resync
  std::span<const uint8_t> in = data;
  while (!in.empty()) {
    const State before = state_;
    size_t used = 0;
    switch (state_) {
      case State::kStopped:
      case State::kFailed:
        stats_.ignored_bytes += in.size();
        return;
      case State::kHead:
        used = step_head(in, ts);
        break;
      case State::kBodyLength:
      case State::kChunkData:
      case State::kBodyUntilClose:
        used = step_body(in, ts);
        break;
      case State::kChunkSize:
        used = step_chunk_size(in, ts);
        break;
      case State::kChunkDataEnd:
        used = step_chunk_data_end(in, ts);
        break;
      case State::kTrailers:
        used = step_trailers(in, ts);
        break;
      case State::kResync:
        used = step_resync(in, ts);
        break;
    }
    in = in.subspan(used);
    if (handoff_ready_) {
      handoff_ready_ = false;
      std::string next = std::move(handoff_);
      handoff_.clear();
      next.append(in.begin(), in.end());  // before `replay`, which `in` may point into, is replaced
      replay = std::move(next);
      in = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(replay.data()), replay.size());
    } else if (used == 0 && state_ == before) {
      // Every step consumes input or changes state; anything else would spin forever.
      error_ = "http1: parser stalled";
      state_ = State::kFailed;
    }
  }
}

bool Http1Parser::start_line_prefix_plausible() const {
  // Only the first few bytes matter; looking further would cost O(n) per slice.
  std::string_view first = std::string_view(head_).substr(0, kMaxMethodLen + 2);
  first = first.substr(0, first.find_first_of("\r\n"));
  if (mode_ == Http1Mode::kResponse) {
    const size_t n = std::min(first.size(), kVersionMarker.size());
    return first.substr(0, n) == kVersionMarker.substr(0, n);
  }
  const size_t n = std::min(first.size(), kMaxMethodLen + 1);
  for (size_t i = 0; i < n; ++i) {
    if (first[i] == ' ') return i > 0;
    if (!is_tchar(static_cast<unsigned char>(first[i]))) return false;
  }
  return first.size() <= kMaxMethodLen;
}

size_t Http1Parser::step_head(std::span<const uint8_t> in, uint64_t ts) {
  const uint8_t* lf = find_lf(in);
  const size_t take = lf ? static_cast<size_t>(lf - in.data()) + 1 : in.size();
  if (head_.empty()) head_first_ts_ = ts;
  if (take > limits_.max_head_bytes - head_.size()) {
    fail("http1: header block too large", ts);
    return 0;  // a resync (provisional message) rescans these bytes
  }
  head_.append(reinterpret_cast<const char*>(in.data()), take);
  if (line_start_ == 0 && !start_line_prefix_plausible()) {
    fail(mode_ == Http1Mode::kRequest ? "http1: malformed request line"
                                      : "http1: malformed status line",
         ts);
    return take;
  }
  if (!lf) return take;

  const std::string_view line = last_line(head_, line_start_);
  if (line_start_ == 0) {
    if (line.empty()) {
      head_.clear();  // empty line before a start line: RFC 9112 §2.2 says ignore it
      return take;
    }
    Http1Head probe;
    const bool ok = mode_ == Http1Mode::kRequest ? parse_request_line(line, probe)
                                                 : parse_status_line(line, probe);
    if (!ok) {
      fail(line.substr(0, 5) == "PRI *" ? "http1: HTTP/2 connection preface"
           : mode_ == Http1Mode::kRequest ? "http1: malformed request line"
                                          : "http1: malformed status line",
           ts);
      return take;
    }
    field_count_ = 0;
    line_start_ = head_.size();
    return take;
  }
  if (line.empty()) {
    complete_head(ts);
    return take;
  }
  // Check each field line as it completes so garbage fails at its first line, not after
  // 64 KiB; complete_head() parses the block again in full.
  const size_t colon = line.find(':');
  if (is_ows(line.front())) {
    fail("http1: obsolete line folding", ts);
  } else if (colon == std::string_view::npos || colon == 0 ||
             !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                          [](char c) { return is_tchar(static_cast<unsigned char>(c)); })) {
    fail("http1: malformed header", ts);
  } else if (++field_count_ > limits_.max_headers) {
    fail("http1: too many headers", ts);
  } else {
    line_start_ = head_.size();
  }
  return take;
}

void Http1Parser::complete_head(uint64_t ts) {
  auto parsed = parse_http1_head(std::string_view(head_).substr(0, line_start_), mode_,
                                 limits_.max_headers);
  if (!parsed) {
    fail(parsed.error().message, ts);
    return;
  }
  Http1Head head = std::move(parsed.value());
  const uint64_t first_ts = head_first_ts_;
  head_.clear();
  line_start_ = 0;
  if (mode_ == Http1Mode::kResponse && head.status < 200 && head.status != 101) {
    stats_.interim_responses++;  // 100 Continue, 103 Early Hints: the final response follows
    return;
  }
  // Framing inputs are read before the sink may move the headers away.
  const std::vector<std::string> te = header_tokens(head.headers, "transfer-encoding");
  auto length = parse_content_length(head.headers);
  const int status = head.status;

  stats_.messages++;
  message_open_ = true;
  message_gap_ = false;
  const Http1BodyHint hint = sink_.on_head(head, first_ts, ts);

  if (mode_ == Http1Mode::kResponse) {
    if (status == 101 || (hint.tunnel && status >= 200 && status < 300)) {
      end_message(true, ts);
      tunneled_ = true;
      state_ = State::kStopped;
      return;
    }
    if (hint.no_body || status == 204 || status == 304) {
      end_message(true, ts);
      return;
    }
  }
  if (!te.empty()) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3 rule 3).
    if (te.back() == "chunked") {
      state_ = State::kChunkSize;
      chunk_line_.clear();
    } else if (mode_ == Http1Mode::kRequest) {
      fail("http1: request transfer-encoding does not end in chunked", ts);
    } else {
      state_ = State::kBodyUntilClose;
    }
    return;
  }
  if (!length) {
    fail(length.error().message, ts);
    return;
  }
  if (length->has_value()) {
    if (**length == 0) {
      end_message(true, ts);
    } else {
      state_ = State::kBodyLength;
      remaining_ = **length;
    }
    return;
  }
  if (mode_ == Http1Mode::kRequest) {
    end_message(true, ts);  // a request without framing headers has no body
  } else {
    state_ = State::kBodyUntilClose;
  }
}

size_t Http1Parser::step_body(std::span<const uint8_t> in, uint64_t ts) {
  size_t n = in.size();
  if (state_ != State::kBodyUntilClose) n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
  if (n > 0) sink_.on_body(in.first(n), ts);
  if (state_ == State::kBodyUntilClose) return n;
  remaining_ -= n;
  if (remaining_ == 0) {
    if (state_ == State::kBodyLength) {
      end_message(true, ts);
    } else {
      state_ = State::kChunkDataEnd;
      chunk_line_cr_ = false;
    }
  }
  return n;
}

size_t Http1Parser::step_chunk_size(std::span<const uint8_t> in, uint64_t ts) {
  const uint8_t* lf = find_lf(in);
  const size_t take = lf ? static_cast<size_t>(lf - in.data()) + 1 : in.size();
  if (take > limits_.max_chunk_line - chunk_line_.size()) {
    fail("http1: chunk size line too long", ts);
    return take;
  }
  chunk_line_.append(reinterpret_cast<const char*>(in.data()), take);
  if (!lf) return take;
  const std::string_view line = last_line(chunk_line_, 0);
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size(); ++i) {
    const int v = hex_value(line[i]);
    if (v < 0) break;
    if (size > (kMaxChunkSize >> 4)) {
      fail("http1: chunk size too large", ts);
      return take;
    }
    size = (size << 4) | static_cast<uint64_t>(v);
  }
  if (i == 0) {
    fail("http1: malformed chunk size", ts);
    return take;
  }
  while (i < line.size() && is_ows(line[i])) ++i;
  // Chunk extensions (";name=value") carry nothing we use; only their presence is checked.
  if (i < line.size() && (line[i] != ';' || line.find('\0') != std::string_view::npos)) {
    fail("http1: malformed chunk size", ts);
    return take;
  }
  chunk_line_.clear();
  if (size == 0) {
    state_ = State::kTrailers;
    head_.clear();
    line_start_ = 0;
    field_count_ = 0;
  } else {
    state_ = State::kChunkData;
    remaining_ = size;
  }
  return take;
}

size_t Http1Parser::step_chunk_data_end(std::span<const uint8_t> in, uint64_t ts) {
  const uint8_t c = in[0];
  if (c == '\r' && !chunk_line_cr_) {
    chunk_line_cr_ = true;
  } else if (c == '\n') {
    state_ = State::kChunkSize;
    chunk_line_.clear();
  } else {
    fail("http1: missing CRLF after chunk data", ts);
  }
  return 1;
}

size_t Http1Parser::step_trailers(std::span<const uint8_t> in, uint64_t ts) {
  const uint8_t* lf = find_lf(in);
  const size_t take = lf ? static_cast<size_t>(lf - in.data()) + 1 : in.size();
  if (take > limits_.max_head_bytes - head_.size()) {
    fail("http1: trailer block too large", ts);
    return take;
  }
  head_.append(reinterpret_cast<const char*>(in.data()), take);
  if (!lf) return take;
  const std::string_view line = last_line(head_, line_start_);
  if (!line.empty()) {
    if (++field_count_ > limits_.max_headers) {
      fail("http1: too many trailers", ts);
    } else {
      line_start_ = head_.size();
    }
    return take;
  }
  std::vector<HttpHeader> trailers;
  auto ok = parse_http1_fields(std::string_view(head_).substr(0, line_start_),
                               limits_.max_headers, trailers);
  if (!ok) {
    fail(ok.error().message, ts);
    return take;
  }
  if (!trailers.empty()) sink_.on_trailers(trailers);
  end_message(true, ts);
  return take;
}

void Http1Parser::end_message(bool complete, uint64_t ts) {
  if (message_open_) {
    message_open_ = false;
    const bool clean = complete && !message_gap_;
    if (clean) provisional_ = false;
    sink_.on_message_end(clean, ts);
  }
  state_ = State::kHead;
  head_.clear();
  line_start_ = 0;
  remaining_ = 0;
}

bool Http1Parser::cut_message(uint64_t ts) {
  switch (state_) {
    case State::kBodyLength:
    case State::kChunkSize:
    case State::kChunkData:
    case State::kChunkDataEnd:
    case State::kTrailers:
    case State::kBodyUntilClose:
      break;
    default:
      return false;
  }
  if (!message_open_) return false;
  chunk_line_.clear();
  end_message(false, ts);
  return true;
}

void Http1Parser::fail(std::string why, uint64_t ts) {
  if (provisional_) {
    // The message came from resync and may have been a false match: scan on from the
    // byte after the supposed start instead of giving up on the connection.
    std::string seed;
    if (state_ == State::kHead && head_.size() > 1) seed = head_.substr(1);
    if (message_open_) {
      message_open_ = false;
      sink_.on_message_end(false, ts);
    }
    enter_resync(ts, std::move(seed));
    return;
  }
  if (message_open_) {
    message_open_ = false;
    sink_.on_message_end(false, ts);
  }
  error_ = std::move(why);
  state_ = State::kFailed;
}

void Http1Parser::gap(uint64_t length, uint64_t ts) {
  if (length == 0) return;
  stats_.gap_bytes += length;
  switch (state_) {
    case State::kStopped:
    case State::kFailed:
      return;
    case State::kBodyUntilClose:
      message_gap_ = true;
      sink_.on_body_gap(length, ts);
      return;
    case State::kBodyLength:
    case State::kChunkData: {
      message_gap_ = true;
      if (length < remaining_) {
        remaining_ -= length;
        sink_.on_body_gap(length, ts);
        return;
      }
      sink_.on_body_gap(remaining_, ts);
      if (length == remaining_) {  // the gap ends exactly where the body (or chunk) does
        remaining_ = 0;
        if (state_ == State::kBodyLength) {
          end_message(false, ts);
        } else {
          state_ = State::kChunkDataEnd;
          chunk_line_cr_ = false;
        }
        return;
      }
      end_message(false, ts);
      enter_resync(ts, {});
      return;
    }
    case State::kResync:
      // Bytes before the gap cannot continue into bytes after it.
      stats_.resync_skipped_bytes += resync_buf_.size();
      resync_buf_.clear();
      resync_scan_ = 0;
      resync_waiting_ = false;
      return;
    case State::kHead:
    case State::kChunkSize:
    case State::kChunkDataEnd:
    case State::kTrailers:
      stats_.resync_skipped_bytes += head_.size() + chunk_line_.size();
      if (message_open_) {
        message_gap_ = true;
        end_message(false, ts);
      }
      enter_resync(ts, {});
      return;
  }
}

void Http1Parser::finish(uint64_t ts) {
  switch (state_) {
    case State::kStopped:
    case State::kFailed:
      return;
    case State::kBodyUntilClose:
      end_message(true, ts);  // closing the connection is how this body ends
      break;
    default:
      if (message_open_) end_message(false, ts);
      break;
  }
  state_ = State::kStopped;
}

void Http1Parser::stop(uint64_t ts) {
  if (state_ == State::kFailed) return;
  if (message_open_) end_message(false, ts);
  state_ = State::kStopped;
}

}  // namespace rein::proto
