// Resynchronisation after a gap destroyed message boundaries: scanning for a plausible
// message start, and replaying the bytes from it through the parser. See http1_parser.h.
#include <algorithm>
#include <string_view>
#include <utility>

#include "proto/http1_parser.h"

namespace rein::proto {

namespace {

constexpr std::string_view kVersionMarker = "HTTP/1.";
constexpr size_t kMaxResyncMethodLen = 20;

bool is_method_char(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

bool is_target_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

bool is_reason_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == ' ' || c == '-' || c == '\'' || c == '.' || c == ',' || c == '(' || c == ')' ||
         c == '/' || c == '&';
}

// Stricter than the start-line grammar: text inside a body (often JSON, where a quoted
// "HTTP/1.1 200 OK\r\n" keeps its escapes and runs on to the next real newline) must not
// pass for a message start. Real reason phrases are short words; real targets start with
// '/', '*' or a scheme/authority.
bool resync_start_plausible(Http1Mode mode, std::string_view line) {
  if (mode == Http1Mode::kRequest) {
    const size_t sp = line.find(' ');
    const char t = line[sp + 1];
    return t == '/' || t == '*' || (t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z');
  }
  const std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  return reason.size() <= 64 && std::all_of(reason.begin(), reason.end(), is_reason_char);
}

}  // namespace

void Http1Parser::start_mid_stream(uint64_t ts) {
  if (state_ == State::kHead && head_.empty() && stats_.messages == 0) enter_resync(ts, {});
}

void Http1Parser::enter_resync(uint64_t ts, std::string seed) {
  state_ = State::kResync;
  stats_.resyncs++;
  head_.clear();
  line_start_ = 0;
  chunk_line_.clear();
  remaining_ = 0;
  resync_buf_ = std::move(seed);
  resync_scan_ = 0;
  resync_waiting_ = false;
  sink_.on_framing_lost(ts);
  scan_resync();
}

size_t Http1Parser::step_resync(std::span<const uint8_t> in, uint64_t ts) {
  resync_buf_.append(reinterpret_cast<const char*>(in.data()), in.size());
  scan_resync();
  return in.size();
}

// For a request, `marker` is where "HTTP/1." sits in "METHOD SP target SP HTTP/1.x";
// walk back over the target and the method to where the line would start.
bool Http1Parser::candidate_start(std::string_view buf, size_t marker, size_t& start) const {
  if (mode_ == Http1Mode::kResponse) {
    start = marker;
    return true;
  }
  if (marker < 4 || buf[marker - 1] != ' ') return false;
  const size_t target_end = marker - 1;
  size_t t = target_end;
  while (t > 0 && is_target_char(buf[t - 1])) --t;
  if (t == target_end || t < 2 || buf[t - 1] != ' ') return false;
  const size_t method_end = t - 1;
  size_t m = method_end;
  while (m > 0 && method_end - m < kMaxResyncMethodLen && is_method_char(buf[m - 1])) --m;
  if (m == method_end) return false;
  start = m;
  return true;
}

void Http1Parser::discard_resync_front(size_t n) {
  stats_.resync_skipped_bytes += n;
  resync_buf_.erase(0, n);
}

void Http1Parser::scan_resync() {
  const std::string_view buf(resync_buf_);
  size_t from = resync_scan_;
  while (true) {
    size_t marker = 0;
    size_t start = 0;
    size_t lf_from = 0;
    if (resync_waiting_) {
      // The candidate found earlier sits at the front; only the new bytes can hold its LF.
      // (Rescanning from the start on every slice would be quadratic in the line length.)
      resync_waiting_ = false;
      marker = resync_scan_;
      lf_from = resync_lf_from_;
    } else {
      marker = buf.find(kVersionMarker, from);
      if (marker == std::string_view::npos) break;
      if (!candidate_start(buf, marker, start)) {
        from = marker + 1;
        continue;
      }
      lf_from = marker;
    }
    const size_t lf = buf.find('\n', lf_from);
    if (lf == std::string_view::npos) {
      if (buf.size() - start > limits_.max_resync_line) {
        from = marker + 1;
        continue;
      }
      discard_resync_front(start);  // keep the candidate until its line is complete
      resync_scan_ = marker - start;
      resync_lf_from_ = resync_buf_.size();
      resync_waiting_ = true;
      return;
    }
    if (lf - start > limits_.max_resync_line) {
      from = marker + 1;
      continue;
    }
    std::string_view line = buf.substr(start, lf - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Http1Head probe;
    const bool ok = mode_ == Http1Mode::kRequest ? parse_request_line(line, probe)
                                                 : parse_status_line(line, probe);
    if (!ok || !resync_start_plausible(mode_, line)) {
      from = marker + 1;
      continue;
    }
    stats_.resync_skipped_bytes += start;
    handoff_.assign(buf.substr(start));
    handoff_ready_ = true;
    resync_buf_.clear();
    resync_scan_ = 0;
    state_ = State::kHead;
    head_.clear();
    line_start_ = 0;
    provisional_ = true;
    return;
  }
  // No candidate: keep only a tail that could still begin one (a request line ends in the
  // marker, so its method and target may already be here). Trimming only when the buffer
  // has doubled keeps the cost per byte constant.
  const size_t keep = mode_ == Http1Mode::kRequest ? limits_.max_resync_line
                                                   : kVersionMarker.size() - 1;
  if (resync_buf_.size() > 2 * keep) discard_resync_front(resync_buf_.size() - keep);
  const size_t tail = kVersionMarker.size() - 1;
  resync_scan_ = resync_buf_.size() > tail ? resync_buf_.size() - tail : 0;
}

}  // namespace rein::proto
