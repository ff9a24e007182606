// Tool calls a model asked for in one response body (what an agent is about to do next):
// Anthropic `tool_use` blocks (buffered, or streamed as content_block_start plus
// input_json_delta fragments), OpenAI Chat `tool_calls` / legacy `function_call` (buffered,
// or streamed as per-index deltas), Responses API `function_call` / `custom_tool_call` /
// `local_shell_call` output items (buffered or streamed), and Gemini `functionCall` parts.
// The body is untrusted: counts and argument sizes are bounded, nothing throws.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/fnv1a.h"

namespace rein::llm {

struct ToolCall {
  std::string id;         // tool_use id, call_id (Responses), tool call id; may be empty
  std::string name;       // tool / function name
  std::string arguments;  // JSON text of the input or arguments, cut at the bound
  bool arguments_truncated = false;
  // FNV-1a of the whole arguments text, the part past the cut too: a retry spiral tells
  // repeated calls (same name, same arguments) by it, however long the arguments are.
  uint64_t arguments_hash = kFnv1a64Offset;
};

struct ToolCallLimits {
  size_t max_calls = 64;
  size_t max_argument_bytes = 4096;
  size_t max_id_bytes = 256;
};

// `content_type` picks SSE framing (text/event-stream, or a body that starts like SSE);
// anything else is taken as one JSON document. Calls are in the order the response gave
// them; a call seen in fragments and again whole (Responses' output_item.done,
// response.completed) appears once, in its whole form.
std::vector<ToolCall> extract_tool_calls(std::string_view body, std::string_view content_type,
                                         const ToolCallLimits& limits = {});

// Cheap pre-check: false when the body cannot hold a tool call of any known shape.
bool may_have_tool_calls(std::string_view body);

}  // namespace rein::llm
