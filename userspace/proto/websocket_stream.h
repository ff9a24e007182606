// WebSocket (RFC 6455) decoding for one direction of an upgraded connection, with the
// permessage-deflate extension (RFC 7692). Fed the ordered byte stream after the 101
// handshake; hands out complete data messages (text, binary) and close frames.
//
// Bounds: a frame longer than max_frame stops the decoder (a garbled length would
// otherwise make it skip the rest of the connection); a message longer than max_message is
// delivered cut (truncated = true) while framing continues; a compressed message is inflated
// incrementally and abandoned once it exceeds max_message and max_inflate_ratio times its
// compressed size (zip bomb).
//
// A gap (lost bytes) ends decoding for good: frame boundaries cannot be found again
// reliably, and with context takeover the compressor's window is gone too, so every later
// compressed message would be undecodable anyway. Error strings never quote the input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "proto/decode_budget.h"
#include "proto/http_message.h"

namespace rein::proto {

struct WsOptions {
  bool deflate = false;  // permessage-deflate accepted by the server
  bool client_no_context_takeover = false;
  bool server_no_context_takeover = false;
  int client_max_window_bits = 15;
  int server_max_window_bits = 15;
  size_t max_message = size_t{16} << 20;  // decoded bytes kept per message
  size_t max_frame = size_t{64} << 20;    // longer frames are taken as lost framing
  // Inflated output beyond kInflateSlack may be at most this many times the compressed input.
  size_t max_inflate_ratio = 256;
};

// What the server accepted in Sec-WebSocket-Extensions of the 101 response; the request's
// offer does not count. Unknown extensions are ignored (their frames would fail RSV checks).
WsOptions negotiate(const HttpRequest& handshake_req, const HttpResponse& handshake_resp);

// True when the exchange is a successful WebSocket handshake (GET with Upgrade: websocket,
// answered by 101 with Upgrade: websocket).
bool is_websocket_handshake(const HttpRequest& req, const HttpResponse& resp);

struct WsMessage {
  bool from_client = false;
  uint8_t opcode = 0;  // 1 text, 2 binary, 8 close
  std::string payload;  // unmasked, inflated; close: 2-byte code + reason
  bool truncated = false;  // cut by a bound, a gap, an inflate error or the end of stream
  uint64_t ts_first_ns = 0;  // first frame's first byte
  uint64_t ts_last_ns = 0;   // last frame's last byte
};

struct WsStats {
  uint64_t frames = 0;
  uint64_t messages = 0;        // data messages delivered (close frames not included)
  uint64_t bytes = 0;           // wire bytes consumed
  uint64_t payload_bytes = 0;   // decoded data-message bytes delivered
  uint64_t control_frames = 0;  // ping, pong, close
  uint64_t pings = 0;
  uint64_t pongs = 0;
  uint64_t closes = 0;
  uint64_t compressed_messages = 0;
  uint64_t inflate_errors = 0;
  uint64_t inflate_bombs = 0;   // abandoned for exceeding the ratio bound
  uint64_t truncated = 0;       // messages delivered with truncated = true
  uint64_t protocol_errors = 0;
  uint64_t ignored_bytes = 0;   // after a stop or a close frame, or past a deflate end
};

class WsDecoder {
 public:
  using MessageHandler = std::function<void(WsMessage&& message)>;

  // from_client: client frames are masked and use the client_* deflate parameters.
  WsDecoder(bool from_client, WsOptions options, MessageHandler on_message);
  ~WsDecoder();
  // Whose share of the decode budget messages are held on (set before the first byte).
  void set_budget_owner(uint32_t owner) { msg_lease_ = BudgetLease(DecodeBudget::global(), owner); }
  WsDecoder(const WsDecoder&) = delete;
  WsDecoder& operator=(const WsDecoder&) = delete;

  void feed(std::span<const uint8_t> bytes, uint64_t ts_ns);
  // Bytes were lost: an open message is delivered truncated and decoding stops for good.
  void gap(uint64_t ts_ns = 0);
  // End of stream: an open message is delivered truncated.
  void finish(uint64_t ts_ns);

  bool stopped() const { return stopped_; }
  bool closed() const { return closed_; }  // a close frame was seen
  const std::string& error() const { return error_; }  // why decoding stopped; "" if it did not
  const WsStats& stats() const { return stats_; }

  static constexpr size_t kInflateSlack = size_t{1} << 20;
  // Inflating past max_message (to keep the shared window right) costs CPU for nothing
  // kept; beyond this much the message is abandoned like a bomb.
  static constexpr size_t kMaxDiscardedInflate = size_t{64} << 20;

 private:
  class Inflater;

  enum class State { kHeader, kPayload };

  size_t step_header(std::span<const uint8_t> in, uint64_t ts);
  size_t step_payload(std::span<const uint8_t> in, uint64_t ts);
  bool begin_frame(uint64_t ts);
  void frame_done(uint64_t ts);
  // Compressed bytes of a message past its deflate stream's end (or after it failed):
  // counted in ignored_bytes, and the message is delivered as truncated.
  void ignore_after_end(size_t n);
  void data_bytes(std::span<const uint8_t> bytes);
  void deliver_message(uint64_t ts, bool truncated);
  void stop(std::string why);
  void protocol_error(std::string why);
  bool inflating_broken() const;

  bool from_client_;
  WsOptions opt_;
  MessageHandler on_message_;
  std::unique_ptr<Inflater> inflater_;

  State state_ = State::kHeader;
  bool stopped_ = false;
  bool closed_ = false;
  std::string error_;

  // Frame header being collected (at most 14 bytes).
  uint8_t hdr_[14] = {};
  size_t hdr_len_ = 0;
  uint64_t frame_ts_first_ = 0;

  // Current frame.
  bool fin_ = false;
  uint8_t opcode_ = 0;
  bool masked_ = false;
  uint8_t mask_[4] = {};
  uint64_t remaining_ = 0;
  uint64_t mask_pos_ = 0;

  // Open data message (fragments until FIN).
  bool msg_open_ = false;
  bool msg_compressed_ = false;
  bool msg_truncated_ = false;
  BudgetLease msg_lease_;  // the message's share of the global decode budget
  WsMessage msg_;
  uint64_t msg_in_bytes_ = 0;   // compressed bytes of this message
  uint64_t msg_out_bytes_ = 0;  // inflated bytes of this message (kept or not)
  bool msg_inflate_dead_ = false;

  // Control frame payload (at most 125 bytes).
  std::string ctrl_;

  WsStats stats_;
};

}  // namespace rein::proto
