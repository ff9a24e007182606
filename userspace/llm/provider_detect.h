// Which LLM API (if any) an HTTP request talks to: provider, operation and wire shape,
// from host + path, with headers and the start of the request body as tie-breakers for
// servers on unknown hosts (local model servers, proxies).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/http_message.h"

namespace rein::llm {

// Wire shape: decides how the body is framed and what each usage number means.
enum class Api {
  kOpenAIChat,         // /chat/completions
  kOpenAICompletions,  // legacy /completions
  kOpenAIEmbeddings,   // /embeddings
  kOpenAIResponses,    // /responses
  kAnthropicMessages,  // /v1/messages, Vertex publishers/anthropic :rawPredict
  kGemini,             // :generateContent, :streamGenerateContent, :embedContent
  kBedrockConverse,    // /model/{id}/converse[-stream]
  kBedrockInvoke,      // /model/{id}/invoke[-with-response-stream]
  kOllama,             // /api/chat, /api/generate, /api/embed
};

// Stable name used in LlmCall::api ("openai.chat", "anthropic.messages", ...).
std::string_view api_name(Api api);

// True when the API reports cache reads inside its input count (OpenAI shapes, Gemini,
// Ollama); false when cache reads/writes are separate from input (Anthropic, Bedrock).
bool cache_inside_input(Api api);

struct Detection {
  std::string provider;    // OTel provider name (see LlmCall::provider)
  std::string operation;   // chat, text_completion, embeddings, generate_content
  Api api = Api::kOpenAIChat;
  std::string path_model;  // model named by the URL (Gemini, Vertex, Bedrock, Azure
                           // deployment), URL-decoded; empty when the body names it
  bool path_stream = false;  // the URL itself asks for a stream
  bool sse_requested = false;  // Gemini ?alt=sse
};

// host: lower-case, port optional. target: path and query as sent.
std::optional<Detection> detect_provider(std::string_view host, std::string_view method,
                                         std::string_view target,
                                         const std::vector<proto::HttpHeader>& headers,
                                         std::string_view body_prefix);

// Hosts of hosted LLM APIs (for auto-discovery of agent processes). Port is ignored.
bool is_known_llm_host(std::string_view host);

// Request that has the shape of an LLM inference call on any host: POST, an inference
// path, and (for ambiguous paths) a JSON body that names a model or carries a prompt.
bool looks_like_llm_request(std::string_view method, std::string_view path,
                            std::string_view body_prefix);

}  // namespace rein::llm
