// One HTTP/2 connection (cleartext after TLS), both directions: reassembles the captured
// chunks, splits them into frames (Http2FrameReader), decodes header blocks with one HPACK
// inflater per direction (libnghttp2), follows the client-initiated streams and hands out
// one HttpExchange per stream. The public shape matches Http1Connection so the caller can
// hold either.
//
// Direction 0 (client -> server) starts with the connection preface, then frames; direction
// 1 (server -> client) starts with SETTINGS. HPACK is stateful across the whole connection,
// so anything that breaks the byte stream breaks decoding for good:
//  - a reassembly gap in either direction ("client: gap at offset N" / "server: ..."),
//  - capture that began mid-connection (limits.anchor_at_first_chunk and a first chunk at a
//    non-zero offset): the header tables built before capture are unknown, so mid-connection
//    HTTP/2 cannot be decoded at all and the connection is unparseable from the start,
//  - a framing or HPACK error (connection errors in RFC 9113 terms).
// After that the connection is unparseable(): later bytes are only counted, exchanges that
// had completed were already delivered, and open streams are delivered incomplete by close().
//
// Delivery: a stream's exchange is handed out as soon as both its request and its response
// have ended (END_STREAM), or when it is reset (RST_STREAM), refused by GOAWAY, evicted, or
// at close(). Streams that finish at the same moment are delivered in stream-id order; a
// completed stream is not held back behind an older stream that is still open, because an
// agent's long SSE stream would otherwise delay every parallel call for minutes. seq numbers
// streams in order of first sight (so, by stream id for a well-behaved client).
//
// Bounds (both processes may be hostile): open streams (the oldest is delivered incomplete
// beyond the limit; they are also the only undelivered exchanges, since completed ones are
// handed out at once), fields and decoded bytes kept per header block, compressed header
// block size, HPACK dynamic table size, decoded body size. A frame may not exceed the
// SETTINGS_MAX_FRAME_SIZE its receiver announced (default 16384); until the receiver's
// SETTINGS have been parsed the limit is the 16 MiB framing cap, because the two directions
// are fed independently and the announcement may simply not have been parsed yet. Frames are
// buffered whole, so that is also the per-direction buffer bound. The table size the other
// side announced is applied to an inflater when this side ACKs it (shrinks) or at once
// (growth, which only widens what is accepted).
//
// Request headers hold the regular fields only: :method, :path and :authority become
// method, target and host (host falls back to the "host" field). Interim 1xx responses are
// skipped. Trailers are appended to the headers of their side. PUSH_PROMISE header blocks are
// decoded (HPACK must stay in sync) and pushed streams ignored.
//
// Not thread-safe; callbacks run inside feed()/expire()/close() and must not call back into
// the same connection.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "proto/content_decoder.h"
#include "proto/http1_connection.h"  // ResponseBodyChunk, shared with HTTP/1
#include "proto/http_message.h"
#include "proto/decode_budget.h"
#include "stream/reassembler.h"

namespace rein::proto {

struct Http2Frame;  // proto/http2_frames.h

struct Http2ConnectionLimits {
  ContentDecoderLimits body;  // body.max_output caps each decoded body (default 16 MiB)
  // Same reasoning as Http1ConnectionLimits: reordering is short-lived, losses are not.
  stream::ReassemblerLimits reassembly{.max_hole_age_ns = 1'000'000'000, .budget = &decode_hold_budget()};
  size_t max_header_block = size_t{64} << 10;   // HEADERS + CONTINUATION bytes, compressed
  size_t max_header_list_bytes = size_t{256} << 10;  // decoded name + value bytes kept per block
  size_t max_headers = 128;                     // fields kept per block; the rest are dropped
  // Dynamic table size an inflater accepts, whatever the peer announced: a hostile pair of
  // processes could otherwise make us hold a 4 GiB table.
  uint32_t max_header_table_size = uint32_t{1} << 20;
  size_t max_open_streams = 256;     // beyond: the oldest open stream is delivered incomplete
  size_t max_closed_ids = 1024;      // remembered so late frames do not resurrect a stream
  bool anchor_at_first_chunk = false;  // offsets do not start at 0 (see header comment)
};

struct Http2ConnectionStats {
  uint64_t frames = 0;              // both directions
  uint64_t streams = 0;             // client-initiated streams opened
  uint64_t exchanges = 0;           // handed to the callback
  uint64_t unanswered_requests = 0; // delivered with response = nullopt
  uint64_t rst_streams = 0;
  uint64_t goaways = 0;
  uint64_t hpack_errors = 0;
  uint64_t protocol_errors = 0;     // connection-level framing errors and per-stream misuse
  uint64_t evicted_streams = 0;     // delivered early: too many open
  uint64_t dropped_headers = 0;     // fields over max_headers / max_header_list_bytes
  uint64_t pushed_streams_ignored = 0;
  uint64_t bytes_ignored_after_error = 0;
  uint64_t ignored_after_close = 0;  // bytes fed after close()
};

class Http2Connection {
 public:
  using ExchangeHandler = std::function<void(HttpExchange&& exchange, uint64_t seq)>;
  using ResponseBodyHandler = std::function<void(const ResponseBodyChunk& chunk)>;

  static constexpr int kClientToServer = 0;
  static constexpr int kServerToClient = 1;

  explicit Http2Connection(ExchangeHandler on_exchange, Http2ConnectionLimits limits = {});
  ~Http2Connection();
  Http2Connection(const Http2Connection&) = delete;
  Http2Connection& operator=(const Http2Connection&) = delete;

  // True when the first bytes a client sent are (a prefix of at least 4 bytes of) the
  // HTTP/2 connection preface "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".
  static bool is_preface(std::span<const uint8_t> first_client_bytes);

  void set_response_body_handler(ResponseBodyHandler handler);

  // direction: 0 = client -> server, 1 = server -> client; offset within that direction.
  void feed(int direction, uint64_t offset, std::span<const uint8_t> bytes, uint64_t ts_ns);
  // Give up on reassembly holes older than the configured age (idle connections).
  void expire(uint64_t now_ns);
  // The connection ended: flush and deliver every open stream (requests without a response
  // get response = nullopt; responses cut short have complete = false). Idempotent; later
  // feeds are ignored. The destructor does not deliver.
  void close(uint64_t ts_ns);

  bool closed() const { return closed_; }
  bool unparseable() const { return !error_.empty(); }
  std::string error() const { return error_; }  // "client: ..." / "server: ...", empty when fine
  // Parity with Http1Connection. Extended CONNECT (RFC 8441 WebSocket over h2) is not
  // followed: such a stream is delivered like any other once it ends.
  bool tunneled() const { return false; }
  bool upgraded() const { return false; }
  const Http2ConnectionStats& stats() const { return stats_; }
  const stream::ReassemblerStats& reassembly_stats(int direction) const;

 private:
  struct Stream;
  class Side;

  // Frame handling for one direction; an error makes the connection unparseable.
  Result<void> on_frame(int dir, const Http2Frame& frame);
  Result<void> on_headers_frame(int dir, const Http2Frame& frame);
  Result<void> on_continuation(int dir, const Http2Frame& frame);
  Result<void> on_header_block(int dir, std::span<const uint8_t> block, uint32_t stream_id,
                               bool end_stream, bool push, uint64_t ts_first, uint64_t ts);
  void on_request_headers(Stream& s, std::vector<HttpHeader>& fields, bool end_stream,
                          uint64_t ts_first, uint64_t ts);
  void on_response_headers(Stream& s, std::vector<HttpHeader>& fields, bool end_stream,
                           uint64_t ts_first, uint64_t ts);
  Result<void> set_table_size(int dir, uint32_t size);
  Result<void> on_settings(int dir, const Http2Frame& frame);
  Result<void> on_data_frame(int dir, const Http2Frame& frame);
  Result<void> on_rst_stream(const Http2Frame& frame);
  Result<void> on_goaway(int dir, const Http2Frame& frame);
  Result<void> protocol_error(std::string msg);
  void fail(int dir, const std::string& msg);

  Stream* open_stream(uint32_t id, uint64_t ts);
  void end_request(Stream& s, bool complete, uint64_t ts);
  void end_response(Stream& s, bool complete, uint64_t ts);
  void maybe_deliver(uint32_t id);
  void deliver_stream(uint32_t id, uint64_t ts);
  void remember_closed(uint32_t id);

  ExchangeHandler on_exchange_;
  ResponseBodyHandler on_response_body_;
  OwnedHoldBudget owned_hold_;  // the owner's reassembly holds (limits.body.budget_owner)
  Http2ConnectionLimits limits_;
  std::unique_ptr<Side> sides_[2];
  std::map<uint32_t, std::unique_ptr<Stream>> streams_;  // open, by stream id
  std::set<uint32_t> closed_ids_;                        // recently delivered
  std::string error_;
  bool closed_ = false;
  uint32_t max_client_stream_id_ = 0;  // highest id of a request HEADERS seen
  uint64_t next_seq_ = 0;
  uint64_t last_ts_ = 0;
  Http2ConnectionStats stats_;
};

}  // namespace rein::proto
