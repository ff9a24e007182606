// LLM calls carried by an OpenAI Responses API WebSocket (what Codex uses first): the client
// sends {"type":"response.create", ...request fields...} text messages, the server answers
// each with the same events the SSE stream carries, one JSON document per message, ending
// in response.completed / response.incomplete / response.failed, or an "error" event.
//
// One LlmCall per response.create, paired FIFO with the next terminal event (the protocol
// runs one response at a time per socket). Usage comes from the terminal response object
// through the same sink as HTTP Responses streams, so the numbers mean the same.
//
// Server messages that arrive before any create (the two directions are captured
// independently and can be seen out of order) are held, bounded, and replayed once the
// create shows up if they are not older than it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "llm/key_fingerprint.h"
#include "llm/llm_call.h"
#include "llm/price_table.h"
#include "proto/http_message.h"
#include "proto/websocket_stream.h"

namespace rein::llm {

namespace json {
class DocParser;
}

struct WsResponsesStats {
  uint64_t creates = 0;            // response.create messages
  uint64_t calls = 0;              // calls emitted
  uint64_t cut_calls = 0;          // emitted without a terminal event (close or eviction)
  uint64_t evicted = 0;            // creates given up because too many were waiting
  uint64_t other_client_messages = 0;  // response.processed, binary, unknown types
  uint64_t unpaired_server_events = 0; // terminal or other events with no create to pair
  uint64_t json_invalid = 0;       // messages that were not parseable JSON (or cut)
};

class WsResponsesSession {
 public:
  using CallHandler = std::function<void(LlmCall&& call, uint64_t ts_ns)>;

  static constexpr size_t kMaxPending = 64;        // creates waiting for a terminal event
  static constexpr size_t kMaxEarlyEvents = 256;   // server messages held before any create
  static constexpr size_t kMaxEarlyBytes = size_t{4} << 20;

  // The prices and the fingerprinter must outlive the session. Nothing of the handshake's
  // credentials is kept beyond the fingerprint.
  WsResponsesSession(const proto::HttpExchange& handshake, const PriceTable& prices,
                     const Fingerprinter& fingerprinter, CallHandler on_call);
  ~WsResponsesSession();
  WsResponsesSession(const WsResponsesSession&) = delete;
  WsResponsesSession& operator=(const WsResponsesSession&) = delete;

  void on_message(const proto::WsMessage& message);
  // The connection ended: every create still waiting becomes a call with usage_missing.
  void close(uint64_t ts_ns);

  const WsResponsesStats& stats() const { return stats_; }

 private:
  struct Pending;
  struct Early {
    std::string payload;
    bool truncated;
    uint64_t ts_first_ns, ts_last_ns;
  };

  void on_client_text(const proto::WsMessage& m);
  void on_server_text(std::string_view payload, bool truncated, uint64_t ts_first,
                      uint64_t ts_last);
  void emit_front(uint64_t ts, std::string_view cut_note);
  LlmCall base_call() const;

  const PriceTable& prices_;
  CallHandler on_call_;
  // Fixed per socket: taken from the handshake.
  std::string provider_, operation_, api_, host_, method_, path_;
  std::string key_fingerprint_, key_class_;
  std::deque<std::unique_ptr<Pending>> pending_;
  std::deque<Early> early_;
  size_t early_bytes_ = 0;
  bool closed_ = false;
  std::unique_ptr<json::DocParser> parser_;
  WsResponsesStats stats_;
};

}  // namespace rein::llm
