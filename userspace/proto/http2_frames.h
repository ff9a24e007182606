// HTTP/2 framing (RFC 9113 §4, §6) for a passive observer: splits one direction's ordered
// byte stream into frames, checks the client connection preface, and takes apart the
// payloads Http2Connection cares about. No HPACK here and no connection state beyond what
// framing needs (the frame size limit, which the connection updates from SETTINGS).
//
// Frames are buffered whole before they are handed out, so memory per direction is bounded
// by the frame size limit in force (at most kHttp2MaxFrameSizeCap). Error strings describe
// what was wrong in our words and never quote input bytes: the traffic may carry secrets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/decode_budget.h"

namespace rein::proto {

inline constexpr size_t kHttp2FrameHeaderSize = 9;
inline constexpr uint32_t kHttp2DefaultMaxFrameSize = 16384;         // RFC 9113 §6.5.2
inline constexpr uint32_t kHttp2MaxFrameSizeCap = (uint32_t{1} << 24) - 1;  // 24-bit length
inline constexpr uint32_t kHttp2DefaultHeaderTableSize = 4096;       // RFC 7541 §4.2
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum class Http2FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};

namespace h2flag {
inline constexpr uint8_t kEndStream = 0x1;
inline constexpr uint8_t kAck = 0x1;  // SETTINGS, PING
inline constexpr uint8_t kEndHeaders = 0x4;
inline constexpr uint8_t kPadded = 0x8;
inline constexpr uint8_t kPriority = 0x20;
}  // namespace h2flag

namespace h2setting {
inline constexpr uint16_t kHeaderTableSize = 0x1;
inline constexpr uint16_t kMaxFrameSize = 0x5;
}  // namespace h2setting

struct Http2FrameHeader {
  uint32_t length = 0;  // payload bytes, header excluded
  uint8_t type = 0;     // raw: unknown types must be skippable
  uint8_t flags = 0;
  uint32_t stream_id = 0;  // reserved bit cleared
};

// One complete frame. `payload` points into the reader's buffer and is valid only during
// the callback. ts_first_ns: chunk holding the frame's first byte; ts_ns: its last byte.
struct Http2Frame {
  Http2FrameHeader header;
  std::span<const uint8_t> payload;
  uint64_t ts_first_ns = 0;
  uint64_t ts_ns = 0;
};

Http2FrameHeader parse_http2_frame_header(std::span<const uint8_t, kHttp2FrameHeaderSize> b);

// Bytes of one direction in, frames out. Once an error is returned the reader is dead and
// every later feed returns the same error without looking at the bytes.
class Http2FrameReader {
 public:
  // Returning an error from the handler stops the reader (the error is passed through).
  using FrameHandler = std::function<Result<void>(const Http2Frame& frame)>;

  Http2FrameReader(bool expect_preface, FrameHandler on_frame);

  Result<void> feed(std::span<const uint8_t> bytes, uint64_t ts_ns);

  // Payload size above which a frame is a connection error. Clamped to the protocol range.
  void set_max_frame_size(uint32_t n);
  uint32_t max_frame_size() const { return max_frame_size_; }
  // Whose share of the decode budget a large frame's buffer is drawn from.
  void set_budget_owner(uint32_t owner) { lease_ = BudgetLease(DecodeBudget::global(), owner); }
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  uint64_t frames() const { return frames_; }
  // Bytes consumed so far (preface included); the next byte's index in the stream.
  uint64_t position() const { return position_; }

 private:
  Result<void> fail(std::string msg);

  FrameHandler on_frame_;
  size_t preface_left_;                // preface bytes still to check
  uint32_t max_frame_size_ = kHttp2DefaultMaxFrameSize;
  std::vector<uint8_t> buf_;           // header + payload of the frame being collected
  BudgetLease lease_;                  // a large frame's buffer, from the decode budget
  std::optional<Http2FrameHeader> cur_;
  uint64_t ts_first_ns_ = 0;
  uint64_t frames_ = 0;
  uint64_t position_ = 0;
  bool failed_ = false;
  std::string error_;
};

// Payload with the PADDED layout removed (pad length byte in front, padding behind).
// Error when the padding does not fit inside the frame (RFC 9113 §6.1).
Result<std::span<const uint8_t>> http2_strip_padding(const Http2Frame& frame);

// The header block fragment of a HEADERS frame: padding and the priority fields removed.
Result<std::span<const uint8_t>> http2_headers_fragment(const Http2Frame& frame);

struct Http2PushPromise {
  uint32_t promised_stream_id = 0;
  std::span<const uint8_t> fragment;
};
Result<Http2PushPromise> http2_push_promise(const Http2Frame& frame);

struct Http2Setting {
  uint16_t id = 0;
  uint32_t value = 0;
};
// Settings of a non-ACK SETTINGS frame, in order (later duplicates win when applied).
Result<std::vector<Http2Setting>> http2_settings(const Http2Frame& frame);

struct Http2Goaway {
  uint32_t last_stream_id = 0;
  uint32_t error_code = 0;
};
Result<Http2Goaway> http2_goaway(const Http2Frame& frame);

// RST_STREAM error code.
Result<uint32_t> http2_rst_stream(const Http2Frame& frame);

}  // namespace rein::proto
