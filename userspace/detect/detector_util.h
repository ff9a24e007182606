// Small helpers the detectors share: evidence rendering, call totals, bounded maps.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "detect/facts.h"
#include "llm/llm_call.h"
#include "sinks/json_writer.h"

namespace rein::detect {

// Boot-time nanoseconds -> RFC 3339 (the pipeline's clock); tests use a fake.
using TimeFormat = std::function<std::string(uint64_t boot_ns)>;

int64_t call_tokens(const llm::LlmCall& c);  // input + output + cache, as reported
double call_usd(const llm::LlmCall& c);      // 0 when unpriced
bool call_failed(const llm::LlmCall& c);     // 429, 5xx, provider overload, no response

// A detection for `who` at `ts` with a rendered evidence object.
Detection make_detection(std::string_view kind, const Who& who, uint64_t ts,
                         policy::DetectionAction action, std::string summary,
                         const std::function<void(sinks::JsonWriter&)>& evidence);

// Keeps `m` at most `max` entries by dropping the one with the oldest `last` field.
template <typename Map>
void bound_by_last(Map& m, size_t max) {
  while (m.size() > max) {
    auto oldest = m.begin();
    for (auto it = m.begin(); it != m.end(); ++it)
      if (it->second.last < oldest->second.last) oldest = it;
    m.erase(oldest);
  }
}

}  // namespace rein::detect
