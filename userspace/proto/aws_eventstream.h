// Incremental decoder for the AWS binary event stream (application/vnd.amazon.eventstream),
// used by Bedrock ConverseStream and InvokeModelWithResponseStream:
//   [total_len u32 BE][headers_len u32 BE][prelude_crc u32][headers][payload][message_crc]
// CRCs are CRC-32 (zlib polynomial). A bad prelude CRC or impossible length loses framing
// for good (there is no resync marker); a bad message CRC drops just that message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rein::proto {

struct EventStreamMessage {
  std::string message_type;    // ":message-type": event | exception | error
  std::string event_type;      // ":event-type"
  std::string exception_type;  // ":exception-type"
  std::string error_code;      // ":error-code"
  std::string error_message;   // ":error-message"
  std::string content_type;    // ":content-type"
  std::string_view payload;    // valid only during the callback
};

struct EventStreamStats {
  uint64_t messages = 0;
  uint64_t bad_crc = 0;        // messages dropped for a bad message CRC or bad headers
  uint64_t oversized = 0;      // messages above the bound (skipped by length)
};

using EventStreamCallback = std::function<void(const EventStreamMessage&)>;

class EventStreamDecoder {
 public:
  static constexpr size_t kDefaultMaxMessageBytes = size_t{16} << 20;

  explicit EventStreamDecoder(size_t max_message_bytes = kDefaultMaxMessageBytes);

  void feed(std::string_view chunk, const EventStreamCallback& on_message);

  bool failed() const { return failed_; }          // framing lost; later bytes ignored
  bool has_partial() const { return !buf_.empty() || skip_ > 0; }  // mid-message at end
  const EventStreamStats& stats() const { return stats_; }

 private:
  void deliver(std::string_view msg, const EventStreamCallback& on_message);

  size_t max_message_bytes_;
  std::string buf_;
  uint64_t skip_ = 0;  // bytes still to discard of an oversized message
  bool failed_ = false;
  EventStreamStats stats_;
};

}  // namespace rein::proto
