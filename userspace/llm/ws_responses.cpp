#include "llm/ws_responses.h"

#include <algorithm>
#include <utility>

#include "llm/cost.h"
#include "llm/json_util.h"
#include "llm/provider_detect.h"
#include "llm/usage_sink.h"

namespace rein::llm {

namespace {

constexpr uint8_t kOpText = 1;
constexpr uint8_t kOpClose = 8;
// A create cut by the message bound cannot be parsed; its type is still recognisable in
// the first bytes (serialisers put "type" first).
constexpr size_t kTypeSniffBytes = 256;

std::optional<double> span_ms(uint64_t from_ns, uint64_t to_ns) {
  if (from_ns == 0 || to_ns == 0 || to_ns < from_ns) return std::nullopt;
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_terminal(std::string_view type) {
  return type == "response.completed" || type == "response.incomplete" ||
         type == "response.failed" || type == "response.done" || type == "error";
}

}  // namespace

struct WsResponsesSession::Pending {
  LlmCall call;
  std::unique_ptr<UsageSink> sink;
  uint64_t ts_create = 0;
  uint64_t ts_first_output = 0;
};

WsResponsesSession::WsResponsesSession(const proto::HttpExchange& handshake,
                                       const PriceTable& prices,
                                       const Fingerprinter& fingerprinter, CallHandler on_call)
    : prices_(prices), on_call_(std::move(on_call)), parser_(std::make_unique<json::DocParser>()) {
  const proto::HttpRequest& req = handshake.request;
  // The handshake is a GET; provider detection describes inference calls, which are POSTs
  // of the same path, so it is asked about the POST this socket stands in for.
  auto det = detect_provider(req.host, "POST", req.target, req.headers, "");
  if (det && det->api == Api::kOpenAIResponses) {
    provider_ = det->provider;
    operation_ = det->operation;
  } else {
    // Codex signed in with ChatGPT talks to chatgpt.com/backend-api/codex/responses.
    provider_ = (req.host == "chatgpt.com" || req.host.empty()) ? "openai" : "openai_compatible";
    operation_ = "chat";
  }
  api_ = std::string(api_name(Api::kOpenAIResponses));
  host_ = req.host;
  method_ = req.method;
  path_ = scrub_query(req.target);
  KeyFingerprint fp = fingerprinter.fingerprint_request(req);
  key_fingerprint_ = std::move(fp.fingerprint);
  key_class_ = std::move(fp.key_class);
}

WsResponsesSession::~WsResponsesSession() = default;

LlmCall WsResponsesSession::base_call() const {
  LlmCall call;
  call.provider = provider_;
  call.operation = operation_;
  call.api = api_;
  call.host = host_;
  call.method = method_;
  call.path = path_;
  call.status = 101;  // the only HTTP status this socket had; errors may override it
  call.stream = true;
  call.api_key_fingerprint = key_fingerprint_;
  call.api_key_class = key_class_;
  return call;
}

void WsResponsesSession::on_message(const proto::WsMessage& m) {
  if (closed_) return;
  if (m.opcode != kOpText) {
    if (m.from_client && m.opcode != kOpClose) stats_.other_client_messages++;
    return;
  }
  if (m.from_client) {
    on_client_text(m);
    return;
  }
  if (pending_.empty()) {
    // Possibly seen before its create: hold it (bounded) for replay.
    if (early_.size() >= kMaxEarlyEvents || early_bytes_ + m.payload.size() > kMaxEarlyBytes) {
      stats_.unpaired_server_events++;
      return;
    }
    early_bytes_ += m.payload.size();
    early_.push_back(Early{m.payload, m.truncated, m.ts_first_ns, m.ts_last_ns});
    return;
  }
  on_server_text(m.payload, m.truncated, m.ts_first_ns, m.ts_last_ns);
}

namespace {
// The session's parser lives as long as the connection: a large message's buffers go when
// the message is handled.
struct ReleaseLarge {
  json::DocParser& p;
  ~ReleaseLarge() { p.release_large(); }
};
}  // namespace

void WsResponsesSession::on_client_text(const proto::WsMessage& m) {
  ReleaseLarge release{*parser_};
  json::Element doc;
  const json::DocParser::Status st = parser_->parse(m.payload, doc);
  std::string model;
  if (st == json::DocParser::Status::kOk) {
    if (json::str(doc, "type").value_or("") != "response.create") {
      stats_.other_client_messages++;  // response.processed acknowledgements and the like
      return;
    }
    // Request fields sit at the top level (Codex) or under "response" (Realtime style).
    if (auto v = json::str(doc, "model"); v && !v->empty()) {
      model = std::string(*v);
    } else if (auto r = json::field(doc, "response")) {
      if (auto v2 = json::str(*r, "model")) model = std::string(*v2);
    }
  } else {
    stats_.json_invalid++;
    std::string_view head = std::string_view(m.payload).substr(0, kTypeSniffBytes);
    if (head.find("\"response.create\"") == std::string_view::npos) return;
  }
  stats_.creates++;
  if (pending_.size() >= kMaxPending) {
    stats_.evicted++;
    emit_front(m.ts_first_ns, "too many responses awaiting a terminal event");
  }
  auto p = std::make_unique<Pending>();
  p->call = base_call();
  p->call.request_model = std::move(model);
  p->sink = make_openai_responses_sink(p->call);
  p->ts_create = m.ts_first_ns;
  pending_.push_back(std::move(p));
  if (pending_.size() == 1 && !early_.empty()) {
    std::deque<Early> early = std::move(early_);
    early_.clear();
    early_bytes_ = 0;
    for (Early& e : early) {
      // Older than the create: it belonged to a response this session never saw start.
      if (e.ts_last_ns < m.ts_first_ns || pending_.empty()) {
        stats_.unpaired_server_events++;
        continue;
      }
      on_server_text(e.payload, e.truncated, e.ts_first_ns, e.ts_last_ns);
    }
  }
}

void WsResponsesSession::on_server_text(std::string_view payload, bool truncated,
                                        uint64_t ts_first, uint64_t ts_last) {
  ReleaseLarge release{*parser_};
  json::Element doc;
  if (parser_->parse(payload, doc) != json::DocParser::Status::kOk ||
      !json::is_object(doc)) {
    stats_.json_invalid++;
    return;
  }
  std::string_view type = json::str(doc, "type").value_or("");
  if (pending_.empty()) {
    stats_.unpaired_server_events++;
    return;
  }
  Pending& p = *pending_.front();
  if (p.ts_first_output == 0 && ends_with(type, ".delta")) p.ts_first_output = ts_first;
  if (type == "error") {
    // An error event ends the request it answers; it may carry the HTTP-equivalent status.
    if (auto s = json::count(doc, "status"); s && *s >= 400 && *s <= 599)
      p.call.status = static_cast<int>(*s);
  }
  p.sink->on_doc(doc, type);
  if (!is_terminal(type)) return;
  if (type == "error")
    mark_usage_missing(p.call, "error response carries no usage");
  StreamEnd end;
  end.streamed = true;
  end.body_complete = !truncated;
  end.status = p.call.status >= 400 ? p.call.status : 200;
  p.sink->finish(end);
  p.call.latency_ms = span_ms(p.ts_create, ts_last);
  p.call.ttft_ms = span_ms(p.ts_create, p.ts_first_output);
  std::unique_ptr<Pending> done = std::move(pending_.front());
  pending_.pop_front();
  bound_call_fields(done->call);
  price_call(done->call, prices_);
  stats_.calls++;
  if (on_call_) on_call_(std::move(done->call), ts_last);
}

// The front create will never see its terminal event.
void WsResponsesSession::emit_front(uint64_t ts, std::string_view cut_note) {
  std::unique_ptr<Pending> p = std::move(pending_.front());
  pending_.pop_front();
  mark_usage_missing(p->call, cut_note);
  StreamEnd end;
  end.streamed = true;
  end.status = p->call.status >= 400 ? p->call.status : 200;
  p->sink->finish(end);
  p->call.ttft_ms = span_ms(p->ts_create, p->ts_first_output);
  bound_call_fields(p->call);
  price_call(p->call, prices_);
  stats_.calls++;
  stats_.cut_calls++;
  if (on_call_) on_call_(std::move(p->call), ts);
}

void WsResponsesSession::close(uint64_t ts_ns) {
  if (closed_) return;
  closed_ = true;
  stats_.unpaired_server_events += early_.size();
  early_.clear();
  while (!pending_.empty()) emit_front(ts_ns, "connection ended before response.completed");
}

}  // namespace rein::llm
