#include "llm/usage_extractor.h"

#include <ctime>

#include "llm/text_util.h"
#include "llm/usage_sink.h"
#include "proto/aws_eventstream.h"
#include "proto/json_array_stream.h"
#include "proto/ndjson.h"
#include "proto/sse.h"

namespace rein::llm {

namespace {

enum class Framing { kNone, kSingle, kSse, kNdjson, kJsonArray, kEventStream };

// Fallback for request bodies that are not parseable JSON (cut by the decoder's body
// bound): find `"key"` followed by ':' and a value. Keys only match outside strings of the
// form `"key":`, which JSON escaping keeps out of string contents.
std::optional<std::string_view> scan_value(std::string_view body, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\"";
  size_t pos = 0;
  while ((pos = body.find(needle, pos)) != std::string_view::npos) {
    size_t i = pos + needle.size();
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
    if (i < body.size() && body[i] == ':') {
      ++i;
      while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
      return body.substr(i);
    }
    pos += needle.size();
  }
  return std::nullopt;
}

std::optional<std::string> scan_string(std::string_view body, std::string_view key) {
  auto v = scan_value(body, key);
  if (!v || v->empty() || v->front() != '"') return std::nullopt;
  size_t end = v->find('"', 1);
  if (end == std::string_view::npos || end > 257) return std::nullopt;
  std::string_view s = v->substr(1, end - 1);
  if (s.find('\\') != std::string_view::npos) return std::nullopt;
  return std::string(s);
}

std::optional<bool> scan_bool(std::string_view body, std::string_view key) {
  auto v = scan_value(body, key);
  if (!v) return std::nullopt;
  if (starts_with(*v, "true")) return true;
  if (starts_with(*v, "false")) return false;
  return std::nullopt;
}

Framing choose_framing(const Detection& det, std::string_view content_type, std::string_view body) {
  std::string ct = to_lower(content_type);
  if (ct.find("text/event-stream") != std::string::npos) return Framing::kSse;
  if (ct.find("vnd.amazon.eventstream") != std::string::npos) return Framing::kEventStream;
  if (ct.find("ndjson") != std::string::npos || ct.find("jsonl") != std::string::npos) return Framing::kNdjson;
  std::string_view t = trim(body);
  if (t.empty()) return Framing::kNone;
  if ((det.api == Api::kBedrockConverse || det.api == Api::kBedrockInvoke) && det.path_stream &&
      t.front() != '{')
    return Framing::kEventStream;
  if (t.front() == '[') return Framing::kJsonArray;
  if (starts_with(t, "data:") || starts_with(t, "event:") || t.front() == ':') return Framing::kSse;
  return Framing::kSingle;
}

std::unique_ptr<UsageSink> make_sink(Api api, LlmCall& call, const proto::HttpResponse& resp) {
  switch (api) {
    case Api::kOpenAIChat:
    case Api::kOpenAICompletions:
    case Api::kOpenAIEmbeddings:
      return make_openai_chat_sink(call, api);
    case Api::kOpenAIResponses:
      return make_openai_responses_sink(call);
    case Api::kAnthropicMessages:
      return make_anthropic_sink(call);
    case Api::kGemini:
      return make_gemini_sink(call);
    case Api::kOllama:
      return make_ollama_sink(call);
    case Api::kBedrockConverse:
      return make_bedrock_converse_sink(call, resp);
    case Api::kBedrockInvoke:
      return make_bedrock_invoke_sink(call, resp);
  }
  return make_openai_chat_sink(call, api);
}

// Parses JSON documents for one exchange and hands them to the sink, counting failures.
class DocFeeder {
 public:
  DocFeeder(UsageSink& sink, ExtractStats* stats, BodyObserver* observer)
      : sink_(sink), stats_(stats), observer_(observer) {}

  // Returns false when the text was not a valid JSON document.
  bool feed(std::string_view text, std::string_view event) {
    json::Element doc;
    switch (parser_.parse(text, doc)) {
      case json::DocParser::Status::kOk:
        if (stats_) ++stats_->json_docs;
        sink_.on_doc(doc, event);
        if (observer_) observer_->on_response_doc(doc, text, sink_.hints());
        return true;
      case json::DocParser::Status::kTooLarge:
        if (stats_) ++stats_->json_oversized;
        oversized_ = true;
        return false;
      case json::DocParser::Status::kInvalid:
        if (stats_) ++stats_->json_invalid;
        return false;
    }
    return false;
  }
  bool oversized() const { return oversized_; }

 private:
  UsageSink& sink_;
  ExtractStats* stats_;
  BodyObserver* observer_;
  json::DocParser parser_;
  bool oversized_ = false;
};

void count_dropped(ExtractStats* stats, uint64_t n) {
  if (stats) stats->stream_dropped += n;
}

// Runs the body through its framing; sets end.saw_done for SSE [DONE].
void run_framing(Framing framing, std::string_view body, DocFeeder& feeder, UsageSink& sink,
                 StreamEnd& end, ExtractStats* stats) {
  switch (framing) {
    case Framing::kNone:
      return;
    case Framing::kSingle: {
      if (feeder.feed(body, "") || feeder.oversized()) return;
      // Not one document: maybe JSON lines sent without an NDJSON content type.
      const uint64_t invalid = stats ? stats->json_invalid : 0;  // the body's failure counted
      bool any_line = false;
      proto::NdjsonSplitter lines;
      auto on_line = [&](std::string_view line) { any_line |= feeder.feed(line, ""); };
      lines.feed(body, on_line);
      lines.finish(on_line);
      count_dropped(stats, lines.stats().oversized_lines);
      // One verdict per body: JSON lines after all (the whole-body try was no error; bad
      // lines count each), or one invalid document (its lines only repeat that).
      if (stats) stats->json_invalid = any_line ? stats->json_invalid - 1 : invalid;
      return;
    }
    case Framing::kSse: {
      proto::SseParser sse;
      auto on_event = [&](const proto::SseEvent& ev) {
        std::string_view data = trim(ev.data);
        if (data == "[DONE]") {
          end.saw_done = true;
          return;
        }
        if (data.empty() || (data.front() != '{' && data.front() != '[')) return;
        feeder.feed(data, ev.event);
      };
      sse.feed(body, on_event);
      sse.finish(on_event);
      count_dropped(stats, sse.stats().oversized_events);
      return;
    }
    case Framing::kNdjson: {
      proto::NdjsonSplitter lines;
      auto on_line = [&](std::string_view line) { feeder.feed(line, ""); };
      lines.feed(body, on_line);
      lines.finish(on_line);
      count_dropped(stats, lines.stats().oversized_lines);
      return;
    }
    case Framing::kJsonArray: {
      proto::JsonArrayStream arr;
      arr.feed(body, [&](std::string_view obj) { feeder.feed(obj, ""); });
      arr.finish();
      count_dropped(stats, arr.stats().oversized_objects + arr.stats().malformed_objects);
      return;
    }
    case Framing::kEventStream: {
      proto::EventStreamDecoder es;
      es.feed(body, [&](const proto::EventStreamMessage& m) {
        if (m.message_type == "exception" || m.message_type == "error") {
          std::string type = !m.exception_type.empty() ? m.exception_type : m.error_code;
          std::string message = m.error_message;
          if (message.empty() && !m.payload.empty()) {
            // Exception payloads are {"message": "..."}; rare, so a parser of its own.
            json::DocParser p;
            json::Element doc;
            if (p.parse(m.payload, doc) == json::DocParser::Status::kOk) {
              message = std::string(json::str(doc, "message").value_or(""));
            }
          }
          sink.on_exception(type.empty() ? "stream_exception" : type, message);
          return;
        }
        if (!m.payload.empty()) feeder.feed(m.payload, m.event_type);
      });
      count_dropped(stats, es.stats().bad_crc + es.stats().oversized + (es.failed() ? 1 : 0));
      return;
    }
  }
}

std::optional<time_t> parse_http_date(std::string_view s) {
  std::string buf(trim(s));
  struct tm tm {};
  const char* end = strptime(buf.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return timegm(&tm);
}

}  // namespace

RequestInfo parse_request(const proto::HttpRequest& req, ExtractStats* stats,
                          BodyObserver* observer) {
  RequestInfo info;
  std::string_view body = trim(req.body);
  if (body.empty() || body.front() != '{') return info;
  json::DocParser parser;
  json::Element doc;
  auto status = parser.parse(body, doc);
  if (status == json::DocParser::Status::kOk) {
    if (stats) ++stats->json_docs;
    info.parsed = true;
    if (observer) observer->on_request_doc(doc);
    if (auto m = json::str(doc, "model")) info.model = truncate_utf8(*m, 256);
    info.stream = json::boolean(doc, "stream");
    if (auto opts = json::field(doc, "stream_options")) {
      info.include_usage = json::boolean(*opts, "include_usage").value_or(false);
    }
    return info;
  }
  if (stats) ++(status == json::DocParser::Status::kTooLarge ? stats->json_oversized : stats->json_invalid);
  // Cut or oversized body: best-effort scan for the top-level fields.
  if (auto m = scan_string(body, "model")) info.model = *m;
  info.stream = scan_bool(body, "stream");
  info.include_usage = scan_bool(body, "include_usage").value_or(false);
  return info;
}

std::optional<double> retry_after_from_headers(const std::vector<proto::HttpHeader>& headers) {
  if (const std::string* ms = proto::find_header(headers, "retry-after-ms")) {
    if (auto v = parse_non_negative_double(*ms)) return *v / 1000.0;
  }
  const std::string* ra = proto::find_header(headers, "retry-after");
  if (ra == nullptr) return std::nullopt;
  if (auto v = parse_non_negative_double(*ra)) return *v;
  // HTTP-date: only meaningful relative to the server's own Date header.
  const std::string* date = proto::find_header(headers, "date");
  if (date == nullptr) return std::nullopt;
  auto when = parse_http_date(*ra);
  auto now = parse_http_date(*date);
  if (!when || !now || *when < *now) return std::nullopt;
  return static_cast<double>(*when - *now);
}

void extract_usage(const proto::HttpExchange& ex, const Detection& det, LlmCall& call,
                   ExtractStats* stats, BodyObserver* observer) {
  if (observer) observer->begin(ex, det.api);
  RequestInfo req = parse_request(ex.request, stats, observer);
  // Path-named models win: Gemini/Vertex/Bedrock have no body model, and Azure classic
  // deployments ignore it.
  call.request_model = det.path_model.empty() ? req.model : det.path_model;
  bool stream = det.path_stream || req.stream.value_or(false);
  // Ollama's native chat/generate stream unless told otherwise.
  if (det.api == Api::kOllama && det.operation != "embeddings" && !req.stream) stream = true;
  call.stream = stream;

  if (!ex.response) {
    mark_usage_missing(call, "no response seen");
    return;
  }
  const proto::HttpResponse& resp = *ex.response;
  call.status = resp.status;

  const std::string* ct = proto::find_header(resp.headers, "content-type");
  Framing framing = choose_framing(det, ct ? std::string_view(*ct) : std::string_view{}, resp.body);
  const bool streamed = framing == Framing::kSse || framing == Framing::kNdjson ||
                        framing == Framing::kEventStream ||
                        (framing == Framing::kJsonArray && det.path_stream);
  if (streamed && resp.status < 400) call.stream = true;

  auto sink = make_sink(det.api, call, resp);
  StreamEnd end;
  end.streamed = streamed;
  end.body_complete = resp.complete && !resp.body_truncated;
  end.include_usage_requested = req.include_usage;
  end.status = resp.status;
  // Eventstream payloads are Bedrock's own shapes, which the observer never read.
  DocFeeder feeder(*sink, stats, framing == Framing::kEventStream ? nullptr : observer);
  run_framing(framing, resp.body, feeder, *sink, end, stats);
  sink->finish(end);

  if (feeder.oversized() && call.usage_missing) {
    call.usage_note = "response JSON above the 16 MiB parse bound";
  }
  if (call.usage_missing && resp.body_truncated) call.usage_note += " (response body truncated)";
  if (!call.usage_missing) {
    const bool needs_output = call.operation != "embeddings";
    if (!call.usage.input_tokens || (needs_output && !call.usage.output_tokens)) {
      mark_usage_missing(call, "usage incomplete");
    }
  }

  if (resp.status >= 400 && !call.error_type) {
    note_error(call, std::to_string(resp.status), resp.decode_error);
  }
  if (auto ra = retry_after_from_headers(resp.headers)) call.retry_after_s = ra;
  if (const std::string* cost = proto::find_header(resp.headers, "x-litellm-response-cost")) {
    if (auto v = parse_non_negative_double(*cost)) call.reported_cost_usd = v;
  }
}

}  // namespace rein::llm
