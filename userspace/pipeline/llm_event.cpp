#include "pipeline/llm_event.h"

namespace rein::pipeline {
namespace {
void opt_int(sinks::JsonWriter& w, const char* k, const std::optional<int64_t>& v) {
  w.key(k);
  if (v) w.number(*v); else w.null();
}
void opt_num(sinks::JsonWriter& w, const char* k, const std::optional<double>& v) {
  w.key(k);
  if (v) w.number(*v); else w.null();
}
void str_or_null(sinks::JsonWriter& w, const char* k, const std::string& v) {
  w.key(k);
  if (v.empty()) w.null(); else w.string(v);
}
}  // namespace

void write_llm_call(sinks::JsonWriter& w, const llm::LlmCall& c) {
  w.key("provider");
  w.string(c.provider);
  str_or_null(w, "operation", c.operation);
  str_or_null(w, "api", c.api);
  w.key("host");
  w.string(c.host);
  w.key("method");
  w.string(c.method);
  w.key("path");
  w.string(c.path);
  w.key("status");
  if (c.status) w.number(int64_t(c.status)); else w.null();
  str_or_null(w, "request_model", c.request_model);
  str_or_null(w, "response_model", c.response_model);
  w.key("stream");
  w.boolean(c.stream);
  w.key("usage");
  w.begin_object();
  opt_int(w, "input_tokens", c.usage.input_tokens);
  opt_int(w, "output_tokens", c.usage.output_tokens);
  opt_int(w, "cache_read_input_tokens", c.usage.cache_read_input_tokens);
  opt_int(w, "cache_creation_input_tokens", c.usage.cache_creation_input_tokens);
  opt_int(w, "reasoning_tokens", c.usage.reasoning_tokens);
  w.end_object();
  w.key("usage_missing");
  w.boolean(c.usage_missing);
  str_or_null(w, "usage_note", c.usage_note);
  opt_num(w, "cost_usd", c.cost_usd);
  str_or_null(w, "cost_note", c.cost_note);
  opt_num(w, "reported_cost_usd", c.reported_cost_usd);
  opt_num(w, "latency_ms", c.latency_ms);
  opt_num(w, "ttft_ms", c.ttft_ms);
  w.key("error");
  if (c.error_type || c.error_message) {
    w.begin_object();
    w.key("type");
    if (c.error_type) w.string(*c.error_type); else w.null();
    w.key("message");
    if (c.error_message) w.string(*c.error_message); else w.null();
    opt_num(w, "retry_after_s", c.retry_after_s);
    w.end_object();
  } else {
    w.null();
  }
  str_or_null(w, "api_key_fingerprint", c.api_key_fingerprint);
  str_or_null(w, "response_id", c.response_id);
}

void AgentTotals::add(const llm::LlmCall& c) {
  calls++;
  if (c.error_type || c.status >= 400) errors++;
  if (c.usage_missing) usage_missing++;
  input_tokens += c.usage.input_tokens.value_or(0);
  output_tokens += c.usage.output_tokens.value_or(0);
  cache_read_input_tokens += c.usage.cache_read_input_tokens.value_or(0);
  cache_creation_input_tokens += c.usage.cache_creation_input_tokens.value_or(0);
  reasoning_tokens += c.usage.reasoning_tokens.value_or(0);
  if (c.cost_usd) cost_usd += *c.cost_usd;
  else if (!c.usage_missing) unpriced++;
}

void AgentTotals::write(sinks::JsonWriter& w) const {
  w.key("calls");
  w.number(calls);
  w.key("errors");
  w.number(errors);
  w.key("usage_missing_calls");
  w.number(usage_missing);
  w.key("unpriced_calls");
  w.number(unpriced);
  w.key("tokens");
  w.begin_object();
  w.key("input_tokens");
  w.number(input_tokens);
  w.key("output_tokens");
  w.number(output_tokens);
  w.key("cache_read_input_tokens");
  w.number(cache_read_input_tokens);
  w.key("cache_creation_input_tokens");
  w.number(cache_creation_input_tokens);
  w.key("reasoning_tokens");
  w.number(reasoning_tokens);
  w.end_object();
  w.key("cost_usd");
  w.number(cost_usd);
}

}  // namespace rein::pipeline
