// Tool-call extraction and path matching under arbitrary response bodies: never a crash,
// every bound held (call count, argument and id bytes), and the same result whatever the
// declared content type says when the body frames itself. The first byte picks the
// content type so the corpus reaches both the SSE and the single-document paths.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llm/tool_calls.h"
#include "pipeline/recent_llm_calls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1 << 20)) return 0;
  static const char* kTypes[] = {"application/json", "text/event-stream; charset=utf-8", "",
                                 "application/x-ndjson"};
  std::string_view ct = kTypes[data[0] & 3];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  rein::llm::ToolCallLimits lim;
  lim.max_calls = 16;
  lim.max_argument_bytes = 256;
  lim.max_id_bytes = 64;
  auto calls = rein::llm::extract_tool_calls(body, ct, lim);
  if (calls.size() > lim.max_calls) std::abort();
  for (const auto& c : calls) {
    if (c.arguments.size() > lim.max_argument_bytes) std::abort();
    if (c.id.size() > lim.max_id_bytes || c.name.size() > lim.max_id_bytes) std::abort();
    if (c.name.empty() && c.id.empty()) std::abort();
    (void)rein::pipeline::tool_call_names_path(c, "/w/CLAUDE.md", "/w");
  }
  return 0;
}
