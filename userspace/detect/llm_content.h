// What the detectors need from an LLM exchange's bodies, extracted once and then dropped:
// a hash of the request with volatile fields removed, the shape (hash, size, per-line
// hashes, tool names) of its system prompt and tool list, the assistant text (bounded, for
// mentions of hosts, URLs and packages). The tool calls it asked for are the LLM stage's
// (llm::LlmCall::tool_calls). No body is kept past the call that carried it.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "detect/secret_scanner.h"
#include "llm/body_observer.h"
#include "proto/http_message.h"

namespace rein::detect {

inline constexpr size_t kMaxResponseText = 256 * 1024;
inline constexpr size_t kMaxShapeLines = 512;
inline constexpr size_t kMaxToolNames = 128;

struct TextShape {
  std::string hash;  // first 16 hex digits of SHA-256
  uint64_t size = 0;
  std::vector<uint64_t> line_hashes;  // at most kMaxShapeLines, for a diff summary
  std::vector<std::string> names;     // tools: their names (at most kMaxToolNames)
  // What earlier sessions are compared on (detect/prompt_baseline.h): prompts, per non-empty
  // line with digits and paths masked (stable_line); tools, per tool name.
  std::vector<uint64_t> stable_hashes;
};

struct LlmContent {
  bool request_parsed = false;
  uint64_t request_hash = 0;  // 0 when the body was not parseable JSON (e.g. truncated)
  std::optional<TextShape> system_prompt;
  std::optional<TextShape> tools;
  // Hash of the conversation's first non-system message: calls that continue one
  // conversation share it; a sub-agent or side task (a new conversation) does not.
  uint64_t conversation = 0;
  // Only during the call that carried it: the detectors extract mentions and drop it.
  std::string response_text;
  bool response_text_truncated = false;
  // A response that began (status < 400) but ended before its end: the connection closed
  // or reset mid-stream, before the last chunk (a retry spiral counts it as a failure).
  bool response_cut = false;
  // Secrets and PII in the request body (types, counts, places, fingerprints: no values).
  std::vector<SecretFinding> secrets;
  bool secrets_truncated = false;

  // As a fresh LlmContent, but the answer text's buffer (and the vectors') are kept for the
  // next exchange: building a new one and moving it in was a third of the extractor's start
  // of every exchange. Every member above is reset here.
  void reset() {
    request_parsed = false;
    request_hash = 0;
    system_prompt.reset();
    tools.reset();
    conversation = 0;
    response_text.clear();
    response_text_truncated = false;
    response_cut = false;
    secrets.clear();
    secrets_truncated = false;
  }
};

// What the enabled detectors read: the rest of a body is not parsed or walked.
struct ContentNeeds {
  bool request_hash = true;   // retry spiral: near-identical requests
  bool prompt_shape = true;   // prompt drift: system prompt, tool list, conversation
  bool response_text = true;  // hallucinated endpoint: mentions in the answer
};

class LlmContentExtractor {
 public:
  LlmContentExtractor();
  ~LlmContentExtractor();
  // Rides on the LLM stage's parse: pass it to llm::analyze, and extract() of the exchange
  // the analyzer just saw returns what it was fed instead of parsing the bodies again.
  llm::BodyObserver* observer();
  // Of any other exchange, parses its bodies (the same content as through observer()).
  // The extractor's own copy, valid until the next exchange begins: handing it over by
  // value moved a dozen members and freed the answer's text buffer on every call.
  LlmContent& extract(const proto::HttpExchange& ex);
  void set_needs(const ContentNeeds& n);
  // Heap bytes of the cached prompt and tool-list shapes (at most 8 of each) and of the
  // kept answer-text buffer (at most 64 KiB).
  size_t state_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// 64-bit FNV-1a, for hashes that never leave the process.
uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ULL);
// First 16 hex digits of SHA-256.
std::string short_sha256(std::string_view s);

}  // namespace rein::detect
