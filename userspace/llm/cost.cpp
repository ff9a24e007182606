#include "llm/cost.h"

#include <algorithm>

#include <fmt/format.h>

namespace rein::llm {

namespace {

constexpr double kPerMillion = 1e6;

}  // namespace

bool api_counts_cache_in_input(std::string_view api) {
  return !(api == "anthropic.messages" || api.substr(0, 8) == "bedrock.");
}

std::optional<int64_t> total_input_tokens(const LlmCall& call) {
  const LlmUsage& u = call.usage;
  if (!u.input_tokens) return std::nullopt;
  if (api_counts_cache_in_input(call.api)) return u.input_tokens;
  return *u.input_tokens + u.cache_read_input_tokens.value_or(0) +
         u.cache_creation_input_tokens.value_or(0);
}

CostResult compute_cost(const LlmUsage& u, bool cache_inside, bool needs_output,
                        const ModelPrice& price) {
  CostResult r;
  if (!u.input_tokens) {
    r.note = "input tokens unknown";
    return r;
  }
  if (needs_output && !u.output_tokens) {
    r.note = "output tokens unknown";
    return r;
  }
  const int64_t input = *u.input_tokens;
  const int64_t output = u.output_tokens.value_or(0);
  const int64_t cache_read = u.cache_read_input_tokens.value_or(0);
  const int64_t cache_write = u.cache_creation_input_tokens.value_or(0);
  const int64_t write_1h = std::min(u.cache_creation_1h_input_tokens.value_or(0), cache_write);
  const int64_t write_5m = cache_write - write_1h;

  int64_t uncached = input;
  int64_t total_input = input + cache_read + cache_write;
  if (cache_inside) {
    uncached = input - cache_read - cache_write;
    total_input = input;
    if (uncached < 0) {
      r.note = "inconsistent usage: cached tokens exceed input tokens";
      return r;
    }
  }

  TokenPrices p = price.base;
  std::string tier;
  if (price.long_context_above_input_tokens && total_input > *price.long_context_above_input_tokens) {
    const TokenPrices& lc = price.long_context;
    if (lc.input) p.input = lc.input;
    if (lc.output) p.output = lc.output;
    if (lc.cache_read) p.cache_read = lc.cache_read;
    if (lc.cache_write_5m) p.cache_write_5m = lc.cache_write_5m;
    if (lc.cache_write_1h) p.cache_write_1h = lc.cache_write_1h;
    tier = fmt::format(", long-context tier (>{} input tokens)", *price.long_context_above_input_tokens);
  }
  const double in = p.input.value_or(0);
  std::string caveats;
  double cr = in;
  if (cache_read > 0) {
    if (p.cache_read) {
      cr = *p.cache_read;
    } else {
      caveats += "; no cache_read price, billed at input rate";
    }
  }
  double cw5 = in;
  if (write_5m > 0) {
    if (p.cache_write_5m) {
      cw5 = *p.cache_write_5m;
    } else {
      caveats += "; no cache_write_5m price, billed at input rate";
    }
  }
  double cw1h = cw5;
  if (write_1h > 0) {
    if (p.cache_write_1h) {
      cw1h = *p.cache_write_1h;
    } else {
      caveats += "; no cache_write_1h price, billed at the 5m write rate";
      cw1h = p.cache_write_5m.value_or(in);
    }
  }
  const double usd = (static_cast<double>(uncached) * in + static_cast<double>(cache_read) * cr +
                      static_cast<double>(write_5m) * cw5 + static_cast<double>(write_1h) * cw1h +
                      static_cast<double>(output) * p.output.value_or(0)) /
                     kPerMillion;
  r.usd = usd;
  r.note = "priced as " + price.model + tier + caveats;
  return r;
}

void price_call(LlmCall& call, const PriceTable& prices) {
  if (call.reported_cost_usd) {
    call.cost_usd = call.reported_cost_usd;
    call.cost_note = "reported by the provider/proxy";
    return;
  }
  const bool has_any_usage = call.usage.input_tokens || call.usage.output_tokens;
  if (call.status >= 400 && !has_any_usage) {
    // Rejected requests (rate limits, auth, validation, overload) are not billed.
    call.cost_usd = 0.0;
    call.cost_note = fmt::format("error status {} without usage: not billed", call.status);
    return;
  }
  if (call.usage_missing) {
    call.cost_note = "usage missing: " + call.usage_note;
    return;
  }
  std::string matched;
  const ModelPrice* price = nullptr;
  std::string_view priced_name;
  for (const std::string* name : {&call.response_model, &call.request_model}) {
    if (name->empty()) continue;
    price = prices.find(*name, &matched);
    if (price) {
      priced_name = *name;
      break;
    }
  }
  if (!price) price = prices.provider_default(call.provider);
  if (!price) {
    const std::string& shown = call.response_model.empty() ? call.request_model : call.response_model;
    call.cost_note = "unknown model" + (shown.empty() ? std::string() : " " + shown.substr(0, 128));
    return;
  }
  CostResult r = compute_cost(call.usage, api_counts_cache_in_input(call.api), call.operation != "embeddings", *price);
  call.cost_usd = r.usd;
  call.cost_note = r.note;
  if (r.usd && !priced_name.empty() && matched != priced_name) {
    call.cost_note += fmt::format(" (model {})", priced_name.substr(0, 128));
  }
}

}  // namespace rein::llm
