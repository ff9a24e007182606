#include "detect/detector_util.h"

namespace rein::detect {

int64_t call_tokens(const llm::LlmCall& c) {
  const auto& u = c.usage;
  int64_t t = u.input_tokens.value_or(0) + u.output_tokens.value_or(0);
  if (c.api == "anthropic.messages" || c.api.rfind("bedrock", 0) == 0)
    t += u.cache_read_input_tokens.value_or(0) + u.cache_creation_input_tokens.value_or(0);
  return t;
}

double call_usd(const llm::LlmCall& c) {
  return c.cost_usd.value_or(0);
}

bool call_failed(const llm::LlmCall& c) {
  if (c.status == 0) return true;  // no response: cut, or the connection died
  if (c.status == 429 || c.status == 529 || c.status >= 500) return true;
  return c.error_type &&
         (*c.error_type == "overloaded_error" || *c.error_type == "rate_limit_error");
}

Detection make_detection(std::string_view kind, const Who& who, uint64_t ts,
                         policy::DetectionAction action, std::string summary,
                         const std::function<void(sinks::JsonWriter&)>& evidence) {
  Detection d;
  d.kind = std::string(kind);
  d.ts_ns = ts;
  d.pid = who.pid;
  d.root = who.root;
  d.action = action;
  d.summary = std::move(summary);
  sinks::JsonWriter w;
  w.begin_object();
  if (evidence) evidence(w);
  w.end_object();
  d.evidence = w.str();
  return d;
}

}  // namespace rein::detect
