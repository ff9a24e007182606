#include "llm/llm_analyzer.h"

#include "llm/cost.h"
#include "llm/provider_detect.h"
#include "llm/usage_sink.h"

namespace rein::llm {

namespace {

constexpr size_t kBodySniffBytes = 4096;

std::optional<double> span_ms(uint64_t from_ns, uint64_t to_ns) {
  if (from_ns == 0 || to_ns == 0 || to_ns < from_ns) return std::nullopt;
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

}  // namespace

std::optional<LlmCall> analyze(const proto::HttpExchange& ex, const PriceTable& prices,
                               const Fingerprinter& fingerprinter, ExtractStats* stats,
                               BodyObserver* observer) {
  const proto::HttpRequest& req = ex.request;
  std::string_view sniff = std::string_view(req.body).substr(0, kBodySniffBytes);
  auto det = detect_provider(req.host, req.method, req.target, req.headers, sniff);
  if (!det) return std::nullopt;

  LlmCall call;
  call.provider = det->provider;
  call.operation = det->operation;
  call.api = std::string(api_name(det->api));
  call.host = req.host;
  call.method = req.method;
  call.path = scrub_query(req.target);

  KeyFingerprint fp = fingerprinter.fingerprint_request(req);
  call.api_key_fingerprint = std::move(fp.fingerprint);
  call.api_key_class = std::move(fp.key_class);

  extract_usage(ex, *det, call, stats, observer);

  if (ex.response) {
    const proto::HttpResponse& resp = *ex.response;
    call.latency_ms = span_ms(req.ts_start_ns, resp.ts_end_ns);
    if (call.stream) call.ttft_ms = span_ms(req.ts_end_ns, resp.ts_first_body_ns);
  }
  bound_call_fields(call);
  price_call(call, prices);
  return call;
}

}  // namespace rein::llm
