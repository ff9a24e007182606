#include "pipeline/llm_stage.h"

#include "llm/llm_analyzer.h"
#include "llm/tool_calls.h"
#include "llm/ws_responses.h"
#include "proto/http1_detect.h"
#include "proto/http2_frames.h"
#include "proto/websocket_stream.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
constexpr size_t kMaxAliases = 4096;
}

struct LlmStage::Stream {
  std::unique_ptr<proto::Http1Connection> h1;
  std::unique_ptr<proto::Http2Connection> h2;
  std::unique_ptr<proto::WsDecoder> ws[2];
  std::unique_ptr<llm::WsResponsesSession> ws_session;
  CallContext ctx;
  uint64_t last_ns = 0;
  bool anchored_late = false;  // capture began mid-connection
  // Where this connection began in the key's offsets, per direction: 0 unless the key
  // carried an earlier connection the kernel did not tell apart (see starts_connection).
  // The server's base is taken from its first chunk.
  uint64_t base[2] = {0, 0};
  bool base_pending[2] = {false, false};

  bool started() const { return h1 || h2; }
  // Offsets before the base belong to the earlier connection: dropped.
  std::optional<uint64_t> rebase(int dir, uint64_t offset) {
    if (base_pending[dir]) {
      base_pending[dir] = false;
      base[dir] = offset;
    }
    if (offset < base[dir]) return std::nullopt;
    return offset - base[dir];
  }
  void feed(int dir, uint64_t offset, std::span<const uint8_t> data, uint64_t ts) {
    if (h2) h2->feed(dir, offset, data, ts);
    else if (h1) h1->feed(dir, offset, data, ts);
  }
  void expire(uint64_t now) {
    if (h2) h2->expire(now);
    else if (h1) h1->expire(now);
  }
  void close(uint64_t ts) {
    if (h2) h2->close(ts);
    else if (h1) h1->close(ts);
    for (auto& d : ws)
      if (d) d->finish(ts);
    if (ws_session) ws_session->close(ts);
  }
  bool unparseable() const { return h2 ? h2->unparseable() : h1 && h1->unparseable(); }
};

LlmStage::LlmStage(const llm::PriceTable* prices, const llm::Fingerprinter* fingerprinter,
                   OnCall on_call, size_t max_streams)
    : prices_(prices), fingerprinter_(fingerprinter), on_call_(std::move(on_call)),
      max_streams_(max_streams) {}

LlmStage::~LlmStage() = default;

void LlmStage::on_exchange(const CallContext& ctx, proto::HttpExchange&& ex) {
  stats_.exchanges++;
  if (on_request_ && !ex.request.method.empty()) on_request_(ctx, ex.request);
  if (!prices_ || !fingerprinter_) return;
  llm::ExtractStats xs;
  auto call = llm::analyze(ex, *prices_, *fingerprinter_, &xs, body_observer_);
  stats_.body_json_invalid += xs.json_invalid;
  stats_.body_json_oversized += xs.json_oversized;
  stats_.body_events_dropped += xs.stream_dropped;
  if (on_exchange_hook_) on_exchange_hook_(ctx, ex, call.has_value());
  if (!call) {
    stats_.not_llm++;
    return;
  }
  stats_.llm_calls++;
  if (ex.response) {
    const std::string* ct = proto::find_header(ex.response->headers, "content-type");
    call->tool_calls = llm::extract_tool_calls(ex.response->body, ct ? *ct : std::string_view{});
  }
  CallContext c = ctx;
  c.ts_ns = ex.response ? ex.response->ts_end_ns : ex.request.ts_end_ns;
  on_call_(c, *call);
}

void LlmStage::on_upgrade(Stream& s, const proto::HttpExchange& hs) {
  if (!hs.response || !proto::is_websocket_handshake(hs.request, *hs.response)) return;
  stats_.websockets++;
  s.ctx.protocol = "websocket";
  auto opts = proto::negotiate(hs.request, *hs.response);
  if (prices_ && fingerprinter_) {
    s.ws_session = std::make_unique<llm::WsResponsesSession>(
        hs, *prices_, *fingerprinter_, [this, &s](llm::LlmCall&& call, uint64_t ts) {
          stats_.llm_calls++;
          CallContext c = s.ctx;
          c.ts_ns = ts;
          on_call_(c, call);
        });
  }
  for (int dir = 0; dir < 2; dir++) {
    s.ws[dir] = std::make_unique<proto::WsDecoder>(dir == 0, opts, [&s](proto::WsMessage&& m) {
      if (s.ws_session) s.ws_session->on_message(m);
    });
    s.ws[dir]->set_budget_owner(s.ctx.agent);
  }
}

// A client write that can only be the first bytes of a new connection, seen on a stream
// that is already past its own first bytes: the key came back without the kernel knowing
// (a memory-BIO TLS library's SSL object reused at the same address, where no socket ties
// it to a connection). An HTTP/2 preface in full, or an HTTP/1 request line where HTTP/2
// frames were flowing (no legal frame begins with a method: its length would be megabytes).
// A new HTTP/1.1 connection after an HTTP/1.1 one needs no restart here: its request parses
// as the next one, and Http1Connection cuts the response it abandoned.
bool LlmStage::starts_connection(const Stream& s, const decode::DataRec& r) {
  if (r.dir != REIN_DIR_EGRESS || !s.started() || r.offset <= s.base[0]) return false;
  if (r.data.size() >= proto::kHttp2Preface.size() && proto::Http2Connection::is_preface(r.data))
    return true;
  return s.h2 && proto::looks_like_http_request(r.data);
}

void LlmStage::start_http(Stream& s, const decode::DataRec& r, uint64_t offset) {
  // HTTP/2 is recognised by the client's connection preface, which only the first bytes of
  // the connection carry; a stream joined late is taken for HTTP/1.1 (its parser resyncs).
  // A late first write (REIN_DF_LATE) may itself be the body of a request whose head went
  // out unseen, and the response to that request may be read after it.
  bool from_start = offset == 0 && r.dir == REIN_DIR_EGRESS && !(r.flags & REIN_DF_LATE);
  if (from_start && proto::Http2Connection::is_preface(r.data)) {
    stats_.http2_streams++;
    s.ctx.protocol = "h2";
    proto::Http2ConnectionLimits limits;
    limits.body.budget_owner = s.ctx.agent;
    s.h2 = std::make_unique<proto::Http2Connection>(
        [this, &s](proto::HttpExchange&& ex, uint64_t) { on_exchange(s.ctx, std::move(ex)); }, limits);
    return;
  }
  proto::Http1ConnectionLimits limits;
  limits.anchor_at_first_chunk = !from_start;
  limits.body.budget_owner = s.ctx.agent;
  s.ctx.protocol = "http/1.1";
  s.h1 = std::make_unique<proto::Http1Connection>(
      [this, &s](proto::HttpExchange&& ex, uint64_t) { on_exchange(s.ctx, std::move(ex)); }, limits);
  s.h1->set_upgrade_handlers(
      [this, &s](const proto::HttpExchange& hs) { on_upgrade(s, hs); },
      [&s](int dir, std::span<const uint8_t> bytes, uint64_t ts, bool gap) {
        auto& d = s.ws[dir & 1];
        if (!d) return;
        if (gap) d->gap(ts);
        else d->feed(bytes, ts);
      });
}

LlmStage::Stream& LlmStage::open_stream(const Key& key, const decode::DataRec& r) {
  if (streams_.size() >= max_streams_) {  // the stalest stream makes room
    auto oldest = streams_.begin();
    for (auto s = streams_.begin(); s != streams_.end(); ++s)
      if (s->second->last_ns < oldest->second->last_ns) oldest = s;
    close_stream(oldest, r.h.ts_ns);
    stats_.streams_evicted++;
  }
  auto s = std::make_unique<Stream>();
  s->ctx = CallContext{r.h.tgid, r.h.agent, r.fd, r.source, r.h.ts_ns, {}, 0, {}};
  stats_.streams_opened++;
  return *streams_.emplace(key, std::move(s)).first->second;
}

void LlmStage::on_data(const decode::DataRec& r) {
  Key key{r.h.tgid, r.conn};
  if (r.flags & REIN_DF_KEYED)
    if (auto a = aliases_.find(key); a != aliases_.end()) key.second = a->second;
  if (r.flags & REIN_DF_NEW_CONN) on_new_connection(r.h.tgid, key.second, r.h.ts_ns);
  auto it = streams_.find(key);
  bool rebased = false;
  if (it != streams_.end() && starts_connection(*it->second, r)) {
    close_stream(it, r.h.ts_ns);
    stats_.restarted_streams++;
    it = streams_.end();
    rebased = true;
  }
  Stream& s = it == streams_.end() ? open_stream(key, r) : *it->second;
  if (rebased) {
    s.base[0] = r.offset;
    s.base_pending[1] = true;
  }
  int dir = r.dir == REIN_DIR_EGRESS ? proto::Http1Connection::kClientToServer
                                     : proto::Http1Connection::kServerToClient;
  auto offset = s.rebase(dir, r.offset);
  if (!offset) {
    stats_.stale_chunks++;
    return;
  }
  if (!s.started()) start_http(s, r, *offset);
  s.last_ns = r.h.ts_ns;
  if (r.fd >= 0) s.ctx.fd = r.fd;
  if (!r.peer_address.empty()) {
    s.ctx.peer_address = r.peer_address;
    s.ctx.peer_port = r.peer_port;
  }
  if (r.h.agent) s.ctx.agent = r.h.agent;
  s.feed(dir, *offset, r.data, r.h.ts_ns);
}

void LlmStage::on_new_connection(uint32_t tgid, uint64_t conn, uint64_t ts_ns) {
  auto it = streams_.find({tgid, conn});
  if (it == streams_.end()) return;
  close_stream(it, ts_ns);  // what is left of the old connection is delivered
  stats_.reused_streams++;
}

void LlmStage::on_bind(const decode::BindRec& r) {
  Key from{r.h.tgid, r.from}, to{r.h.tgid, r.to};
  if (aliases_.size() >= kMaxAliases) {
    stats_.unbound_aliases_dropped += aliases_.size();
    aliases_.clear();
  }
  aliases_[from] = r.to;
  auto it = streams_.find(from);
  if (it == streams_.end()) return;
  if (streams_.count(to)) return;  // the socket already has a stream: keep both apart
  auto s = std::move(it->second);
  streams_.erase(it);
  if (r.fd >= 0) s->ctx.fd = r.fd;
  streams_.emplace(to, std::move(s));
  stats_.rebound_streams++;
}

void LlmStage::close_stream(std::map<Key, std::unique_ptr<Stream>>::iterator it, uint64_t ts_ns) {
  it->second->close(ts_ns);  // delivers what is left while the context is alive
  tally_closed(*it->second);
  streams_.erase(it);
}

void LlmStage::on_process_exit(uint32_t tgid, uint64_t ts_ns) {
  auto it = streams_.lower_bound({tgid, 0});
  while (it != streams_.end() && it->first.first == tgid) {
    auto next = std::next(it);
    close_stream(it, ts_ns);
    it = next;
  }
  for (auto a = aliases_.lower_bound({tgid, 0}); a != aliases_.end() && a->first.first == tgid;)
    a = aliases_.erase(a);
}

void LlmStage::expire(uint64_t now_ns, uint64_t idle_ns) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (now_ns > it->second->last_ns + idle_ns) close_stream(it, now_ns);
    else it->second->expire(now_ns);
    it = next;
  }
}

void LlmStage::tally_closed(const Stream& s) {
  if (s.unparseable()) stats_.unparseable_streams++;
  if (s.h1) stats_.abandoned_responses += s.h1->stats().abandoned_responses;
  if (s.h2) {
    const auto& h = s.h2->stats();
    stats_.http2_headers_dropped += h.dropped_headers;
    stats_.http2_protocol_errors += h.protocol_errors + h.hpack_errors;
    stats_.http2_streams_evicted += h.evicted_streams;
  }
  for (const auto& d : s.ws) {
    if (!d) continue;
    const auto& w = d->stats();
    stats_.websocket_inflate_failures += w.inflate_errors + w.inflate_bombs;
    stats_.websocket_protocol_errors += w.protocol_errors;
  }
}

void LlmStage::close_all(uint64_t ts_ns) {
  for (auto& [k, s] : streams_) {
    s->close(ts_ns);
    tally_closed(*s);
  }
  streams_.clear();
}

}  // namespace rein::pipeline
