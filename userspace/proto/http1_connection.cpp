#include "proto/http1_connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "proto/websocket_stream.h"

namespace rein::proto {

struct Http1Connection::Pending {
  uint64_t seq = 0;
  HttpExchange ex;
  bool request_done = false;
  bool response_bound = false;  // a response head (or the knowledge it was lost) is attached
  bool response_done = false;
  bool response_lost = false;   // resync skipped past this request's response
  bool got_body = false;        // response: ts_first_body is set
  bool request_gap = false;
  bool orphan = false;          // response seen before any request it could answer
  bool ws_request = false;      // GET asking for Upgrade: websocket
  std::unique_ptr<ContentDecoder> req_dec;
  std::unique_ptr<ContentDecoder> resp_dec;  BudgetLease req_lease;  // decoded bodies' share of the decode budget
  BudgetLease resp_lease;
};

// One direction: reassembly feeding a parser, parser events forwarded to the connection.
class Http1Connection::Side final : public stream::StreamConsumer, public Http1Sink {
 public:
  Side(Http1Connection& conn, Http1Mode mode, const Http1ConnectionLimits& limits)
      : conn_(conn),
        mode_(mode),
        parser(mode, *this, limits.parser),
        reassembler(*this, limits.reassembly,
                    limits.anchor_at_first_chunk ? std::nullopt : std::optional<uint64_t>(0)) {}

  void on_data(std::span<const uint8_t> data, uint64_t ts_ns) override {
    if (mode_ == Http1Mode::kRequest) {
      conn_.client_data(data, ts_ns);
    } else {
      conn_.server_data(data, ts_ns);
    }
  }
  void on_gap(uint64_t length, uint64_t ts_ns) override {
    if (mode_ == Http1Mode::kRequest) {
      conn_.client_gap(length, ts_ns);
    } else {
      conn_.server_gap(length, ts_ns);
    }
  }

  Http1BodyHint on_head(Http1Head& head, uint64_t ts_first_ns, uint64_t ts_ns) override {
    if (mode_ == Http1Mode::kRequest) {
      conn_.on_request_head(head, ts_first_ns, ts_ns);
      return {};
    }
    return conn_.on_response_head(head, ts_first_ns, ts_ns);
  }
  void on_body(std::span<const uint8_t> data, uint64_t ts_ns) override {
    if (mode_ == Http1Mode::kRequest) {
      conn_.on_request_body(data, ts_ns);
    } else {
      conn_.on_response_body(data, ts_ns);
    }
  }
  void on_body_gap(uint64_t, uint64_t) override {
    if (mode_ == Http1Mode::kRequest) {
      conn_.on_request_gap();
    } else {
      conn_.on_response_gap();
    }
  }
  void on_message_end(bool complete, uint64_t ts_ns) override {
    if (mode_ == Http1Mode::kRequest) {
      conn_.on_request_end(complete, ts_ns);
    } else {
      conn_.on_response_end(complete, ts_ns);
    }
  }
  void on_trailers(std::vector<HttpHeader>& trailers) override {
    conn_.on_trailers(mode_ == Http1Mode::kRequest, trailers);
  }
  void on_framing_lost(uint64_t) override {
    if (mode_ == Http1Mode::kResponse) conn_.on_response_framing_lost();
  }

 private:
  Http1Connection& conn_;
  Http1Mode mode_;

 public:
  Http1Parser parser;
  stream::Reassembler reassembler;
};

namespace {

// Codings to undo, in the order they were applied: content codings first, then transfer
// codings other than the final chunked (RFC 9112 §6.1).
std::vector<std::string> applied_codings(const std::vector<HttpHeader>& headers) {
  std::vector<std::string> codings = header_tokens(headers, "content-encoding");
  std::vector<std::string> te = header_tokens(headers, "transfer-encoding");
  if (!te.empty() && te.back() == "chunked") te.pop_back();
  for (auto& t : te) codings.push_back(std::move(t));
  return codings;
}

// Host of an absolute-form ("http://host:port/x") or authority-form ("host:port") target.
std::string host_from_target(std::string_view target) {
  const size_t scheme = target.find("://");
  if (scheme != std::string_view::npos) target = target.substr(scheme + 3);
  else if (!target.empty() && (target.front() == '/' || target.front() == '*')) return {};
  target = target.substr(0, target.find_first_of("/?#"));
  const size_t at = target.rfind('@');
  if (at != std::string_view::npos) target = target.substr(at + 1);  // drop userinfo
  return normalize_host(target);
}

}  // namespace

Http1Connection::Http1Connection(ExchangeHandler on_exchange, Http1ConnectionLimits limits)
    : on_exchange_(std::move(on_exchange)),
      owned_hold_(limits.body.budget_owner),
      limits_(limits) {
  limits_.reassembly = owned_reassembly(limits_.reassembly, limits_.body.budget_owner, owned_hold_);
  client_ = std::make_unique<Side>(*this, Http1Mode::kRequest, limits_);
  server_ = std::make_unique<Side>(*this, Http1Mode::kResponse, limits_);
  if (limits_.anchor_at_first_chunk) {
    client_->parser.start_mid_stream(0);
    server_->parser.start_mid_stream(0);
  }
}

Http1Connection::~Http1Connection() = default;

void Http1Connection::set_response_body_handler(ResponseBodyHandler handler) {
  on_response_body_ = std::move(handler);
}

void Http1Connection::set_upgrade_handlers(UpgradeHandler on_upgrade, TunnelHandler on_tunnel) {
  on_upgrade_ = std::move(on_upgrade);
  on_tunnel_ = std::move(on_tunnel);
}

// ---- WebSocket hand-off ----

void Http1Connection::client_data(std::span<const uint8_t> data, uint64_t ts) {
  if (!on_tunnel_) {
    client_->parser.feed(data, ts);
    return;
  }
  while (!data.empty()) {
    if (client_hold_) {
      tunnel_input(kClientToServer, data, ts, false, 0);
      return;
    }
    // The parser reports a head only at its final LF, so feeding up to each LF lets the
    // bytes after an upgrade request's head be taken away before the parser sees them.
    const void* lf = std::memchr(data.data(), '\n', data.size());
    const size_t n = lf ? static_cast<size_t>(static_cast<const uint8_t*>(lf) - data.data()) + 1
                        : data.size();
    client_->parser.feed(data.first(n), ts);
    data = data.subspan(n);
  }
}

void Http1Connection::client_gap(uint64_t length, uint64_t ts) {
  if (client_hold_) {
    tunnel_input(kClientToServer, {}, ts, true, length);
  } else {
    client_->parser.gap(length, ts);
  }
}

// A response is being read when a newer request already went out and a slice begins with a
// status line: the client gave up on that response, and its stream key (an SSL object or
// socket at a reused address, which the kernel cannot always tell apart) now carries a new
// connection whose first bytes these are. Only a pipelining client, whose next response
// body slice begins with "HTTP/1.x NNN ", could be cut wrongly; LLM clients do not pipeline.
bool Http1Connection::response_abandoned(std::span<const uint8_t> data) const {
  if (!server_->parser.message_open() || data.size() < 13) return false;
  static constexpr std::string_view kStatus = "HTTP/1.";
  if (std::memcmp(data.data(), kStatus.data(), kStatus.size()) != 0) return false;
  auto digit = [&](size_t i) { return data[i] >= '0' && data[i] <= '9'; };
  if (!digit(7) || data[8] != ' ' || !digit(9) || !digit(10) || !digit(11) || data[12] != ' ')
    return false;
  return std::any_of(queue_.begin(), queue_.end(),
                     [this](const auto& p) { return !p->response_bound && p.get() != resp_cur_; });
}

void Http1Connection::server_data(std::span<const uint8_t> data, uint64_t ts) {
  if (server_tunnel_) {
    tunnel_input(kServerToClient, data, ts, false, 0);
    return;
  }
  if (response_abandoned(data) && server_->parser.cut_message(ts)) stats_.abandoned_responses++;
  const uint64_t ignored_before = server_->parser.stats().ignored_bytes;
  server_->parser.feed(data, ts);
  if (!server_tunnel_) return;
  // The parser stopped at the end of the 101 head and counted the rest of the slice as
  // ignored: those are the first tunnel bytes.
  uint64_t tail = server_->parser.stats().ignored_bytes - ignored_before;
  if (tail > data.size()) {
    // Bytes replayed by a resync preceded this slice; they cannot be placed.
    tunnel_input(kServerToClient, {}, ts, true, tail - data.size());
    tail = data.size();
  }
  if (tail > 0) tunnel_input(kServerToClient, data.last(static_cast<size_t>(tail)), ts, false, 0);
}

void Http1Connection::server_gap(uint64_t length, uint64_t ts) {
  if (server_tunnel_) {
    tunnel_input(kServerToClient, {}, ts, true, length);
  } else {
    server_->parser.gap(length, ts);
  }
}

void Http1Connection::tunnel_input(int direction, std::span<const uint8_t> bytes, uint64_t ts,
                                   bool gap, uint64_t gap_bytes) {
  if (tunnel_dead_) return;
  stats_.tunnel_bytes += bytes.size();
  if (handshake_done_) {
    on_tunnel_(direction, bytes, ts, gap);
    return;
  }
  std::deque<HeldPiece>& held = held_[direction];
  size_t& held_bytes = held_bytes_[direction];
  if (!gap && held_bytes + bytes.size() > kMaxHeldTunnelBytes) {
    stats_.tunnel_dropped_bytes += bytes.size();
    gap = true;
    gap_bytes = bytes.size();
    bytes = {};
  }
  if (gap && !held.empty() && held.back().gap) {
    held.back().gap_bytes += gap_bytes;
    return;
  }
  // Slices in a row join one piece (stamped with its first slice's time: they are held for
  // the moment the handshake takes): a sender of one-byte slices would otherwise cost a
  // piece's bookkeeping, many times the byte, for each of the 1 MiB held.
  if (!gap && !held.empty() && !held.back().gap && held.back().bytes.size() < kHeldPieceJoinBytes) {
    held.back().bytes.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    held_bytes += bytes.size();
    return;
  }
  held.push_back(HeldPiece{std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                           ts, gap_bytes, gap});
  held_bytes += bytes.size();
}

// The server refused the upgrade: what the client sent after the request is HTTP again.
void Http1Connection::release_client_hold() {
  client_release_ = false;
  if (!client_hold_) return;
  client_hold_ = false;
  std::deque<HeldPiece> held = std::move(held_[kClientToServer]);
  held_[kClientToServer].clear();
  held_bytes_[kClientToServer] = 0;
  for (HeldPiece& piece : held) {
    if (piece.gap) {
      client_gap(std::max<uint64_t>(piece.gap_bytes, 1), piece.ts_ns);
    } else {
      client_data(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(piece.bytes.data()),
                                           piece.bytes.size()),
                  piece.ts_ns);
    }
  }
}

void Http1Connection::handshake_delivered() {
  handshake_done_ = true;
  stop_requests_ = true;
  client_hold_ = true;  // from now on every client byte is tunnel data
  for (int dir : {kClientToServer, kServerToClient}) {
    std::deque<HeldPiece> held = std::move(held_[dir]);
    held_[dir].clear();
    held_bytes_[dir] = 0;
    for (HeldPiece& piece : held) {
      on_tunnel_(dir,
                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(piece.bytes.data()),
                                          piece.bytes.size()),
                 piece.ts_ns, piece.gap);
    }
  }
}

void Http1Connection::feed(int direction, uint64_t offset, std::span<const uint8_t> bytes,
                           uint64_t ts_ns) {
  if (closed_) {
    stats_.ignored_after_close += bytes.size();
    return;
  }
  last_ts_ = std::max(last_ts_, ts_ns);
  if (direction == kClientToServer) {
    client_->reassembler.push(offset, bytes, ts_ns);
    if (client_release_) release_client_hold();
  } else if (direction == kServerToClient) {
    server_->reassembler.push(offset, bytes, ts_ns);
    if (client_release_) release_client_hold();
    if (stop_requests_) client_->parser.stop(ts_ns);
  }
}

void Http1Connection::expire(uint64_t now_ns) {
  if (closed_) return;
  client_->reassembler.expire(now_ns);
  server_->reassembler.expire(now_ns);
  if (client_release_) release_client_hold();
  if (stop_requests_) client_->parser.stop(now_ns);
}

void Http1Connection::close(uint64_t ts_ns) {
  if (closed_) return;
  client_->reassembler.flush(ts_ns);
  server_->reassembler.flush(ts_ns);
  // An upgrade request that got no 101: the held client bytes were HTTP after all.
  if (client_release_ || (client_hold_ && !server_tunnel_ && !handshake_done_)) {
    client_release_ = true;
    release_client_hold();
  }
  client_->parser.finish(ts_ns);
  server_->parser.finish(ts_ns);
  closed_ = true;
  while (!queue_.empty()) {
    std::unique_ptr<Pending> p = std::move(queue_.front());
    queue_.pop_front();
    if (p.get() == req_cur_) req_cur_ = nullptr;
    if (p.get() == resp_cur_) resp_cur_ = nullptr;
    if (!p->request_done) finalize_request(*p, false, ts_ns);
    if (p->ex.response && !p->response_done) finalize_response(*p, false, ts_ns);
    deliver(*p);
  }
  while (!orphans_.empty()) deliver_oldest_orphan(ts_ns);
  resp_cur_ = nullptr;
}

bool Http1Connection::unparseable() const {
  return client_->parser.failed() || server_->parser.failed();
}

std::string Http1Connection::error() const {
  if (client_->parser.failed()) return "request: " + client_->parser.error();
  if (server_->parser.failed()) return "response: " + server_->parser.error();
  return {};
}

bool Http1Connection::tunneled() const { return server_->parser.tunneled(); }

const stream::ReassemblerStats& Http1Connection::reassembly_stats(int direction) const {
  return (direction == kClientToServer ? client_ : server_)->reassembler.stats();
}

const Http1ParserStats& Http1Connection::parser_stats(int direction) const {
  return (direction == kClientToServer ? client_ : server_)->parser.stats();
}

// ---- requests ----

// Events can reach us out of order across directions (per-CPU buffers), so a response may
// be parsed before the request it answers. Such an orphan is adopted by the next request if
// that request started first and nothing older is waiting for a response.
std::unique_ptr<Http1Connection::Pending> Http1Connection::take_orphan_for(uint64_t ts_first) {
  while (!orphans_.empty()) {
    Pending& o = *orphans_.front();
    const bool next_in_line = std::none_of(queue_.begin(), queue_.end(),
                                           [](const auto& q) { return !q->response_bound; });
    if (next_in_line && ts_first <= o.ex.response->ts_first_byte_ns) {
      std::unique_ptr<Pending> adopted = std::move(orphans_.front());
      orphans_.pop_front();
      adopted->orphan = false;
      adopted->request_done = false;
      return adopted;
    }
    if (!o.response_done) break;  // still streaming; decided when the next request comes
    deliver_oldest_orphan(ts_first);
  }
  return nullptr;
}

void Http1Connection::deliver_oldest_orphan(uint64_t ts) {
  std::unique_ptr<Pending> o = std::move(orphans_.front());
  orphans_.pop_front();
  if (o.get() == resp_cur_) resp_cur_ = nullptr;
  if (!o->response_done) finalize_response(*o, false, ts);
  stats_.orphan_responses++;
  deliver(*o);
}

void Http1Connection::on_request_head(Http1Head& head, uint64_t ts_first, uint64_t ts) {
  std::unique_ptr<Pending> p = take_orphan_for(ts_first);
  if (!p) {
    p = std::make_unique<Pending>();
    p->seq = next_seq_++;
  }
  HttpRequest& req = p->ex.request;
  const std::string* host = find_header(head.headers, "host");
  req.host = host ? normalize_host(*host) : host_from_target(head.target);
  req.method = std::move(head.method);
  req.target = std::move(head.target);
  p->req_dec = std::make_unique<ContentDecoder>(applied_codings(head.headers), limits_.body);
  req.headers = std::move(head.headers);
  req.ts_start_ns = ts_first;
  req.ts_end_ns = ts;
  if (on_tunnel_ && req.method == "GET" && !handshake_done_) {
    for (const auto& t : header_tokens(req.headers, "upgrade")) {
      if (t == "websocket") p->ws_request = true;
    }
    // Frames may follow the head at once, and the 101 may be parsed later (or never).
    if (p->ws_request) client_hold_ = true;
    if (p->ws_request && p->ex.response && p->ex.response->status != 101) client_release_ = true;
  }
  req_cur_ = p.get();
  queue_.push_back(std::move(p));
  while (queue_.size() > limits_.max_pending_exchanges) evict_oldest();
}

void Http1Connection::on_request_body(std::span<const uint8_t> data, uint64_t ts) {
  if (!req_cur_) return;
  req_cur_->req_dec->feed(data, req_cur_->ex.request.body);
  req_cur_->ex.request.ts_end_ns = ts;
}

void Http1Connection::on_request_gap() {
  if (!req_cur_) return;
  req_cur_->request_gap = true;
  req_cur_->req_dec->input_gap();
}

void Http1Connection::on_request_end(bool complete, uint64_t ts) {
  Pending* p = req_cur_;
  req_cur_ = nullptr;
  if (!p) return;
  finalize_request(*p, complete, ts);
  deliver_ready();
}

void Http1Connection::finalize_request(Pending& p, bool complete, uint64_t ts) {
  HttpRequest& req = p.ex.request;
  if (p.req_dec) {
    p.req_dec->finish();
    req.body_truncated = p.req_dec->truncated() || (p.req_dec->stopped() && !p.req_dec->error().empty());
    p.req_lease = p.req_dec->take_lease();  // the body stays until the exchange is out
    p.req_dec.reset();
  }
  if (!complete || p.request_gap) req.body_truncated = true;
  req.ts_end_ns = std::max(req.ts_end_ns, ts);
  p.request_done = true;
}

// ---- responses ----

Http1Connection::Pending* Http1Connection::pair_response(uint64_t ts_first) {
  if (resp_framing_lost_) {
    resp_framing_lost_ = false;
    Pending* best = nullptr;
    for (auto& p : queue_)
      if (!p->response_bound && p->ex.request.ts_start_ns <= ts_first) best = p.get();
    if (!best) return nullptr;
    for (auto& p : queue_) {
      if (p.get() == best) break;
      if (!p->response_bound) {
        p->response_bound = true;
        p->response_lost = true;
      }
    }
    return best;
  }
  if (evicted_unanswered_ > 0) {
    evicted_unanswered_--;
    return nullptr;
  }
  for (auto& p : queue_) {
    if (p->response_bound) continue;
    // A response cannot answer a request that started after it.
    return p->ex.request.ts_start_ns <= ts_first ? p.get() : nullptr;
  }
  return nullptr;
}

Http1BodyHint Http1Connection::on_response_head(Http1Head& head, uint64_t ts_first, uint64_t ts) {
  Pending* p = pair_response(ts_first);
  if (!p) {
    auto o = std::make_unique<Pending>();
    o->seq = next_seq_++;
    o->request_done = true;
    o->orphan = true;
    p = o.get();
    orphans_.push_back(std::move(o));
    while (orphans_.size() > kMaxOrphans) deliver_oldest_orphan(ts);
  }
  p->response_bound = true;
  HttpResponse& resp = p->ex.response.emplace();
  resp.status = head.status;
  p->resp_dec = std::make_unique<ContentDecoder>(applied_codings(head.headers), limits_.body);
  resp.headers = std::move(head.headers);
  resp.ts_first_byte_ns = ts_first;
  resp.ts_end_ns = ts;
  resp_cur_ = p;

  Http1BodyHint hint;
  const std::string& method = p->ex.request.method;
  hint.no_body = method == "HEAD";
  hint.tunnel = method == "CONNECT";
  if (head.status == 101 || (hint.tunnel && head.status >= 200 && head.status < 300))
    stop_requests_ = true;
  if (on_tunnel_ && !handshake_done_) {
    bool ws_upgrade = false;
    for (const auto& t : header_tokens(resp.headers, "upgrade")) {
      if (t == "websocket") ws_upgrade = true;
    }
    if (head.status == 101 && ws_upgrade && (p->orphan || p->ws_request)) {
      server_tunnel_ = true;  // an orphan's request is judged when it is delivered
      // The request may still be on its way (other CPU); the client hold, not a stopped
      // parser, keeps frames away from HTTP parsing. handshake_delivered() stops it.
      if (p->orphan) stop_requests_ = false;
    } else if (p->ws_request && head.status != 101) {
      client_release_ = true;  // replayed once the server parser has returned
    }
  }
  return hint;
}

void Http1Connection::on_response_body(std::span<const uint8_t> data, uint64_t ts) {
  Pending* p = resp_cur_;
  if (!p) return;
  HttpResponse& resp = *p->ex.response;
  if (!p->got_body) {
    p->got_body = true;
    resp.ts_first_body_ns = ts;
  }
  resp.ts_end_ns = ts;
  const size_t before = resp.body.size();
  p->resp_dec->feed(data, resp.body);
  if (on_response_body_ && resp.body.size() > before) {
    const ResponseBodyChunk chunk{p->seq, p->ex.request, resp,
                                  std::string_view(resp.body).substr(before), ts};
    on_response_body_(chunk);
  }
}

void Http1Connection::on_response_gap() {
  if (resp_cur_) resp_cur_->resp_dec->input_gap();
}

// Trailers join the headers of their message, as HTTP/2's do (the parser bounds their count).
void Http1Connection::on_trailers(bool request, std::vector<HttpHeader>& trailers) {
  Pending* p = request ? req_cur_ : resp_cur_;
  if (!p) return;
  auto& headers = request ? p->ex.request.headers : p->ex.response->headers;
  for (auto& t : trailers) headers.push_back(std::move(t));
}

void Http1Connection::on_response_framing_lost() { resp_framing_lost_ = true; }

void Http1Connection::on_response_end(bool complete, uint64_t ts) {
  Pending* p = resp_cur_;
  resp_cur_ = nullptr;
  if (!p) return;
  finalize_response(*p, complete, ts);
  if (!p->orphan) deliver_ready();
}

void Http1Connection::finalize_response(Pending& p, bool complete, uint64_t ts) {
  if (!p.ex.response) return;
  HttpResponse& resp = *p.ex.response;
  if (p.resp_dec) {
    p.resp_dec->finish();
    resp.body_truncated = p.resp_dec->truncated();
    resp.decode_error = p.resp_dec->error();
    p.resp_lease = p.resp_dec->take_lease();
    p.resp_dec.reset();
  }
  resp.complete = complete;
  resp.ts_end_ns = std::max(resp.ts_end_ns, ts);
  p.response_done = true;
}

// ---- delivery ----

void Http1Connection::deliver_ready() {
  while (!queue_.empty()) {
    Pending& front = *queue_.front();
    if (!front.request_done || !(front.response_done || front.response_lost)) break;
    std::unique_ptr<Pending> p = std::move(queue_.front());
    queue_.pop_front();
    deliver(*p);
  }
}

void Http1Connection::evict_oldest() {
  std::unique_ptr<Pending> p = std::move(queue_.front());
  queue_.pop_front();
  stats_.evicted_requests++;
  const uint64_t ts = last_ts_;
  if (p.get() == req_cur_) req_cur_ = nullptr;
  if (p.get() == resp_cur_) resp_cur_ = nullptr;
  if (!p->request_done) finalize_request(*p, false, ts);
  if (p->ex.response && !p->response_done) finalize_response(*p, false, ts);
  // Its response, should it still come, must not pair with a later request.
  if (!p->response_bound) evicted_unanswered_++;
  deliver(*p);
}

void Http1Connection::deliver(Pending& p) {
  if (on_tunnel_ && server_tunnel_ && !handshake_done_ && !tunnel_dead_ && p.ex.response &&
      p.ex.response->status == 101) {
    if (p.ws_request && is_websocket_handshake(p.ex.request, *p.ex.response)) {
      if (on_upgrade_) on_upgrade_(p.ex);
      handshake_delivered();
    } else {
      // The 101 answered something else (or its request never came): opaque bytes.
      tunnel_dead_ = true;
      stop_requests_ = true;
      for (int dir : {kClientToServer, kServerToClient}) {
        held_[dir].clear();
        held_bytes_[dir] = 0;
      }
    }
  }
  if (!p.ex.response) stats_.unanswered_requests++;
  stats_.exchanges++;
  if (on_exchange_) on_exchange_(std::move(p.ex), p.seq);
}

}  // namespace rein::proto
