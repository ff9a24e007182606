// Incremental Server-Sent Events parser (WHATWG "event stream" interpretation). Fed
// arbitrary slices of a decoded response body; hands out complete events. Every buffer is
// bounded: an event (or a single line) larger than the limit is dropped and counted, and
// parsing resumes at the next event.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rein::proto {

struct SseEvent {
  std::string event;  // value of the last `event:` field; empty when absent
  std::string data;   // all `data:` lines joined with '\n'
  std::string id;     // value of the last `id:` field; empty when absent
};

struct SseStats {
  uint64_t events = 0;            // events handed to the callback
  uint64_t comments = 0;          // lines starting with ':' (keep-alives)
  uint64_t oversized_events = 0;  // events dropped because they exceeded the bound
  uint64_t unterminated_events = 0;  // flushed by finish() without a closing blank line
};

using SseCallback = std::function<void(const SseEvent&)>;

class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = size_t{4} << 20;

  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes);

  // Parse `chunk`; calls `on_event` for every event completed by a blank line.
  void feed(std::string_view chunk, const SseCallback& on_event);

  // End of stream. A server that closes right after its last `data:` line never sends the
  // blank line; that final event is still delivered (a truncated JSON payload simply fails
  // to parse downstream), and counted in unterminated_events.
  void finish(const SseCallback& on_event);

  const SseStats& stats() const { return stats_; }

 private:
  void on_line(std::string_view line, const SseCallback& on_event);
  void dispatch(const SseCallback& on_event);
  void reset_event();
  size_t event_bytes() const { return cur_.event.size() + cur_.data.size() + cur_.id.size(); }

  size_t max_event_bytes_;
  std::string line_;           // partial line carried between feeds
  bool line_overflow_ = false; // current line exceeded the bound; discard to end of line
  bool pending_cr_ = false;    // previous byte was CR: a following LF belongs to it
  bool first_line_ = true;     // strip a UTF-8 BOM from the very first line
  SseEvent cur_;
  bool has_data_ = false;
  bool event_overflow_ = false;
  SseStats stats_;
};

}  // namespace rein::proto
