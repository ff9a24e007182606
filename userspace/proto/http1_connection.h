// One HTTP/1.x connection, both directions: reassembles the captured chunks, parses
// requests (direction 0, client -> server) and responses (direction 1), pairs them FIFO
// (keep-alive and pipelining), decodes bodies (de-chunked, Content-Encoding undone, bounded)
// and hands out complete HttpExchange objects.
//
// Delivery: an exchange is handed out, in request order, once its request and its response
// have both ended; close() hands out everything left (requests without a response get
// response = nullopt; a response cut short has complete = false). A response that cannot be
// paired (no request seen, or the oldest waiting request started after the response did) is
// held as an orphan: events of the two directions can arrive out of order, so a request
// parsed later that started earlier adopts it. Otherwise it is delivered with an empty
// request (method "") once a later request or close() shows nothing will adopt it.
//
// After the response direction loses framing in a gap, any number of responses may have
// vanished with it: the next response is paired with the newest request sent before it
// started, and older unanswered requests are delivered with response = nullopt. This is
// right for sequential keep-alive (what LLM clients do) and a guess for pipelining.
//
// A request body cut by a gap or by the end of the stream has body_truncated = true, as
// does any body beyond the decoded-body cap; framing is unaffected by the cap. A chunked
// body's trailer fields are appended to its message's headers (as HTTP/2 trailers are).
//
// WebSocket hand-off (only with set_upgrade_handlers): once a GET asking for
// `Upgrade: websocket` has been answered by 101 with `Upgrade: websocket`, the handshake
// exchange goes to the upgrade handler (before the exchange handler, which still gets it) and
// every later byte of each direction goes to the tunnel handler, in stream order, with gaps,
// including bytes that shared a slice with the end of either head. Client bytes after the
// upgrade request are held (bounded) until the response decides: 101 hands them over, any
// other final response feeds them back to the HTTP parser. Server bytes after the 101 are
// held until the handshake has been handed out (the request may be parsed later). Without
// the handlers nothing changes.
//
// A stream key can come back carrying a new connection the kernel could not tell apart (a
// memory-BIO TLS library frees an SSL object mid-response and the next connection gets its
// address): the new response's first slice begins with a status line while the old response
// is still open and a newer request is waiting. The old response is then cut (delivered
// incomplete) and the slice parsed as the next response.
//
// Not thread-safe; callbacks run inside feed()/expire()/close() and must not call back into
// the same connection.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "proto/content_decoder.h"
#include "proto/http1_detect.h"
#include "proto/http1_parser.h"
#include "proto/http_message.h"
#include "proto/decode_budget.h"
#include "stream/reassembler.h"

namespace rein::proto {

struct Http1ConnectionLimits {
  Http1Limits parser;
  ContentDecoderLimits body;  // body.max_output caps each decoded body (default 16 MiB)
  // A hole waits at most a second for late chunks: cross-CPU reordering is a matter of
  // micro- to milliseconds, and a live stream should not stall behind a real loss. The
  // rule is applied on each new chunk and by expire().
  stream::ReassemblerLimits reassembly{.max_hole_age_ns = 1'000'000'000, .budget = &decode_hold_budget()};
  size_t max_pending_exchanges = 64;  // requests waiting for their responses
  // The capture joined the connection late (hooks attached mid-connection, or a recording
  // that starts mid-stream): offsets do not start at 0 and either direction may begin
  // inside a message, so both parsers start by scanning for a message start.
  bool anchor_at_first_chunk = false;
};

struct Http1ConnectionStats {
  uint64_t exchanges = 0;            // handed to the callback
  uint64_t unanswered_requests = 0;  // delivered with response = nullopt
  uint64_t orphan_responses = 0;     // delivered with an empty request
  uint64_t evicted_requests = 0;     // delivered early: too many waiting
  uint64_t ignored_after_close = 0;  // bytes fed after close()
  uint64_t tunnel_bytes = 0;         // bytes taken for the WebSocket tunnel (both directions)
  uint64_t tunnel_dropped_bytes = 0; // held tunnel bytes dropped by the bound (reported as gaps)
  uint64_t abandoned_responses = 0;  // cut where a new connection's response began
};

// A slice of decoded response body, for incremental consumers (SSE). `response` has status
// and headers; its body holds everything decoded so far (bounded), ending with `data`.
struct ResponseBodyChunk {
  uint64_t exchange_seq;
  const HttpRequest& request;
  const HttpResponse& response;
  std::string_view data;
  uint64_t ts_ns;
};

class Http1Connection {
 public:
  // seq numbers exchanges per connection, in order of first sight; the same value appears
  // in ResponseBodyChunk so a streaming consumer can match its state to the final exchange.
  using ExchangeHandler = std::function<void(HttpExchange&& exchange, uint64_t seq)>;
  using ResponseBodyHandler = std::function<void(const ResponseBodyChunk& chunk)>;

  static constexpr int kClientToServer = 0;
  static constexpr int kServerToClient = 1;

  explicit Http1Connection(ExchangeHandler on_exchange, Http1ConnectionLimits limits = {});
  ~Http1Connection();
  Http1Connection(const Http1Connection&) = delete;
  Http1Connection& operator=(const Http1Connection&) = delete;

  void set_response_body_handler(ResponseBodyHandler handler);

  // WebSocket hand-off (see the top of this file). `gap`: bytes of that direction were lost
  // at this point (`bytes` is then empty).
  using UpgradeHandler = std::function<void(const HttpExchange& handshake)>;
  using TunnelHandler =
      std::function<void(int direction, std::span<const uint8_t> bytes, uint64_t ts_ns, bool gap)>;
  void set_upgrade_handlers(UpgradeHandler on_upgrade, TunnelHandler on_tunnel);
  // Bytes held per direction while the handshake is undecided; beyond it they are dropped and
  // reported as a gap.
  static constexpr size_t kMaxHeldTunnelBytes = size_t{1} << 20;
  static constexpr size_t kHeldPieceJoinBytes = size_t{64} << 10;  // slices joined up to this
  size_t held_pieces(int direction) const { return held_[direction].size(); }

  // direction: 0 = client -> server (requests), 1 = server -> client (responses).
  void feed(int direction, uint64_t offset, std::span<const uint8_t> bytes, uint64_t ts_ns);
  // Give up on reassembly holes older than the configured age (idle connections).
  void expire(uint64_t now_ns);
  // The connection ended: flush everything and deliver what is left. Idempotent; later
  // feeds are ignored. The destructor does not deliver.
  void close(uint64_t ts_ns);

  bool closed() const { return closed_; }
  bool unparseable() const;
  std::string error() const;  // "request: ..." / "response: ...", empty when parseable
  bool tunneled() const;      // 101 Switching Protocols or CONNECT: bytes no longer HTTP/1
  bool upgraded() const { return handshake_done_; }  // WebSocket handshake handed out
  const Http1ConnectionStats& stats() const { return stats_; }
  const stream::ReassemblerStats& reassembly_stats(int direction) const;
  const Http1ParserStats& parser_stats(int direction) const;

 private:
  struct Pending;
  class Side;
  struct HeldPiece {
    std::string bytes;
    uint64_t ts_ns;
    uint64_t gap_bytes;  // > 0 or `gap`: a gap of (at least) this many bytes
    bool gap;
  };

  // WebSocket hand-off plumbing.
  void client_data(std::span<const uint8_t> data, uint64_t ts);
  void client_gap(uint64_t length, uint64_t ts);
  void server_data(std::span<const uint8_t> data, uint64_t ts);
  bool response_abandoned(std::span<const uint8_t> data) const;
  void server_gap(uint64_t length, uint64_t ts);
  void tunnel_input(int direction, std::span<const uint8_t> bytes, uint64_t ts, bool gap,
                    uint64_t gap_bytes);
  void release_client_hold();
  void handshake_delivered();

  // Request direction.
  void on_request_head(Http1Head& head, uint64_t ts_first, uint64_t ts);
  void on_request_body(std::span<const uint8_t> data, uint64_t ts);
  void on_request_gap();
  void on_request_end(bool complete, uint64_t ts);
  // Response direction.
  Http1BodyHint on_response_head(Http1Head& head, uint64_t ts_first, uint64_t ts);
  void on_response_body(std::span<const uint8_t> data, uint64_t ts);
  void on_response_gap();
  void on_response_end(bool complete, uint64_t ts);
  void on_response_framing_lost();
  void on_trailers(bool request, std::vector<HttpHeader>& trailers);

  static constexpr size_t kMaxOrphans = 8;

  Pending* pair_response(uint64_t ts_first);
  std::unique_ptr<Pending> take_orphan_for(uint64_t ts_first);
  void deliver_oldest_orphan(uint64_t ts);
  void finalize_request(Pending& p, bool complete, uint64_t ts);
  void finalize_response(Pending& p, bool complete, uint64_t ts);
  void deliver(Pending& p);
  void deliver_ready();
  void evict_oldest();

  ExchangeHandler on_exchange_;
  ResponseBodyHandler on_response_body_;
  UpgradeHandler on_upgrade_;
  TunnelHandler on_tunnel_;
  bool client_hold_ = false;       // client bytes after a WebSocket upgrade request are held
  bool client_release_ = false;    // the upgrade was refused: replay the held client bytes
  bool server_tunnel_ = false;     // server bytes after a 101 (websocket) go to the tunnel
  bool tunnel_dead_ = false;       // the 101 was not a WebSocket handshake: drop tunnel bytes
  bool handshake_done_ = false;
  std::deque<HeldPiece> held_[2];
  size_t held_bytes_[2] = {0, 0};
  OwnedHoldBudget owned_hold_;  // the owner's reassembly holds (limits.body.budget_owner)
  Http1ConnectionLimits limits_;
  std::unique_ptr<Side> client_;  // direction 0
  std::unique_ptr<Side> server_;  // direction 1
  std::deque<std::unique_ptr<Pending>> queue_;  // in request order
  std::deque<std::unique_ptr<Pending>> orphans_;  // responses awaiting a late request
  Pending* req_cur_ = nullptr;                  // open request message
  Pending* resp_cur_ = nullptr;                 // open response message
  bool resp_framing_lost_ = false;
  uint64_t evicted_unanswered_ = 0;             // responses still owed to evicted requests
  bool stop_requests_ = false;                  // a tunnel began: request bytes are opaque
  bool closed_ = false;
  uint64_t next_seq_ = 0;
  uint64_t last_ts_ = 0;
  Http1ConnectionStats stats_;
};

}  // namespace rein::proto
