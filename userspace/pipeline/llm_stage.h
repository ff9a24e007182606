// LLM traffic: plaintext chunks per (process, connection) -> HTTP exchanges (HTTP/1.1, or
// HTTP/2 when the client starts with its preface; WebSocket after an HTTP/1.1 upgrade) ->
// attributed LLM calls. One decoder per stream, closed when its process exits or the
// stream goes idle; bounded in number of streams.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "decode/records.h"
#include "llm/key_fingerprint.h"
#include "llm/llm_call.h"
#include "llm/price_table.h"
#include "proto/http1_connection.h"
#include "proto/http2_connection.h"

namespace rein::llm {
class BodyObserver;
class WsResponsesSession;
}
namespace rein::proto {
class WsDecoder;
}

namespace rein::pipeline {

struct LlmStageStats {
  uint64_t streams_opened = 0;
  uint64_t streams_evicted = 0;  // over the bound: closed early
  uint64_t exchanges = 0;
  uint64_t llm_calls = 0;
  uint64_t not_llm = 0;          // HTTP exchanges that were not LLM API calls
  uint64_t unparseable_streams = 0;
  uint64_t http2_streams = 0;
  uint64_t websockets = 0;
  uint64_t rebound_streams = 0;  // rustls: key streams joined to their socket
  uint64_t reused_streams = 0;   // a TLS object's address came back for a new connection
  // ... told by the bytes alone: a new connection's first write where one was running
  uint64_t restarted_streams = 0;
  uint64_t stale_chunks = 0;     // bytes of the connection before such a restart, dropped
  uint64_t abandoned_responses = 0;  // HTTP/1.1 responses cut by the next connection's (at close)
  uint64_t unbound_aliases_dropped = 0;
  // What the decoders dropped, so sensor.health says it: LLM bodies (documents that did not
  // parse or passed the size bound, streamed events cut by a framing bound), HTTP/2 (header
  // fields over a bound, framing and per-stream protocol errors, streams delivered early)
  // and WebSocket (messages that failed or were refused inflating, protocol errors). The
  // per-connection ones are added when the connection closes.
  uint64_t body_json_invalid = 0;
  uint64_t body_json_oversized = 0;
  uint64_t body_events_dropped = 0;
  uint64_t http2_headers_dropped = 0;
  uint64_t http2_protocol_errors = 0;
  uint64_t http2_streams_evicted = 0;
  uint64_t websocket_inflate_failures = 0;
  uint64_t websocket_protocol_errors = 0;
};

struct CallContext {
  uint32_t tgid = 0;
  uint32_t agent = 0;
  int32_t fd = -1;
  uint8_t source = 0;
  uint64_t ts_ns = 0;
  std::string peer_address;  // empty when unknown
  uint16_t peer_port = 0;
  std::string protocol;      // "http/1.1", "h2", "websocket"
};

class LlmStage {
 public:
  using OnCall = std::function<void(const CallContext&, const llm::LlmCall&)>;
  // Every decoded HTTP request, LLM or not (host-name rules check its Host header).
  using OnRequest = std::function<void(const CallContext&, const proto::HttpRequest&)>;
  void set_request_hook(OnRequest hook) { on_request_ = std::move(hook); }
  // Every decoded exchange with its bodies, just before its llm.call (if it is one): the
  // detections take a few hashes and the response text from it, and 404s of any request.
  using OnExchange =
      std::function<void(const CallContext&, const proto::HttpExchange&, bool is_llm_call)>;
  void set_exchange_hook(OnExchange hook) { on_exchange_hook_ = std::move(hook); }
  // Reads the bodies during the analyzer's parse (the detections' content, read by the
  // exchange hook), so they are parsed once. Not owned; null: none.
  void set_body_observer(llm::BodyObserver* o) { body_observer_ = o; }
  LlmStage(const llm::PriceTable* prices, const llm::Fingerprinter* fingerprinter, OnCall on_call,
           size_t max_streams = 4096);
  ~LlmStage();
  void on_data(const decode::DataRec& r);
  // rustls: the stream sent under cipher key `from` is the socket stream `to`.
  void on_bind(const decode::BindRec& r);
  // The kernel saw the key (tgid, conn) come back for another connection
  // (REIN_DF_NEW_CONN): the stream under it, if any, ends here.
  void on_new_connection(uint32_t tgid, uint64_t conn, uint64_t ts_ns);
  void on_process_exit(uint32_t tgid, uint64_t ts_ns);
  void expire(uint64_t now_ns, uint64_t idle_ns = 120'000'000'000ULL);
  void close_all(uint64_t ts_ns);
  const LlmStageStats& stats() const { return stats_; }

 private:
  struct Stream;
  using Key = std::pair<uint32_t, uint64_t>;  // tgid, conn
  void close_stream(std::map<Key, std::unique_ptr<Stream>>::iterator it, uint64_t ts_ns);
  void tally_closed(const Stream& s);
  void on_exchange(const CallContext& ctx, proto::HttpExchange&& ex);
  Stream& open_stream(const Key& key, const decode::DataRec& r);
  static bool starts_connection(const Stream& s, const decode::DataRec& r);
  void start_http(Stream& s, const decode::DataRec& r, uint64_t offset);
  void on_upgrade(Stream& s, const proto::HttpExchange& handshake);

  const llm::PriceTable* prices_;
  const llm::Fingerprinter* fingerprinter_;
  OnCall on_call_;
  OnRequest on_request_;
  OnExchange on_exchange_hook_;
  llm::BodyObserver* body_observer_ = nullptr;
  size_t max_streams_;
  std::map<Key, std::unique_ptr<Stream>> streams_;
  std::map<Key, uint64_t> aliases_;  // (tgid, key) -> socket stream, after a bind
  LlmStageStats stats_;
};

}  // namespace rein::pipeline
