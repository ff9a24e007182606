#include "llm/provider_detect.h"

#include "llm/text_util.h"

namespace rein::llm {

namespace {

struct PathShape {
  Api api;
  std::string_view operation;
  std::string model;        // from the URL, decoded
  bool stream = false;
  bool ambiguous = false;   // common path on generic servers: confirm with the body
};

std::string_view strip_query(std::string_view target) {
  size_t q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) host = host.substr(0, colon);
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

// Gemini / Vertex: .../models/{model}:{method}
std::optional<PathShape> classify_google(std::string_view path) {
  size_t colon = path.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view method = path.substr(colon + 1);
  std::string_view before = path.substr(0, colon);
  std::string model;
  if (size_t m = before.rfind("/models/"); m != std::string_view::npos) {
    std::string_view seg = before.substr(m + 8);
    if (seg.find('/') == std::string_view::npos) model = percent_decode(seg);
  }
  const bool anthropic_publisher = before.find("/publishers/anthropic/") != std::string_view::npos;
  if (method == "generateContent") return PathShape{Api::kGemini, "generate_content", model, false};
  if (method == "streamGenerateContent") return PathShape{Api::kGemini, "generate_content", model, true};
  if (method == "embedContent" || method == "batchEmbedContents")
    return PathShape{Api::kGemini, "embeddings", model, false};
  if (anthropic_publisher && method == "rawPredict")
    return PathShape{Api::kAnthropicMessages, "chat", model, false};
  if (anthropic_publisher && method == "streamRawPredict")
    return PathShape{Api::kAnthropicMessages, "chat", model, true};
  return std::nullopt;
}

// Bedrock runtime: /model/{modelId}/{action}
std::optional<PathShape> classify_bedrock(std::string_view path) {
  if (!starts_with(path, "/model/")) return std::nullopt;
  std::string_view rest = path.substr(7);
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string model = percent_decode(rest.substr(0, slash));
  std::string_view action = rest.substr(slash + 1);
  if (action == "converse") return PathShape{Api::kBedrockConverse, "chat", model, false};
  if (action == "converse-stream") return PathShape{Api::kBedrockConverse, "chat", model, true};
  if (action == "invoke") return PathShape{Api::kBedrockInvoke, "chat", model, false};
  if (action == "invoke-with-response-stream")
    return PathShape{Api::kBedrockInvoke, "chat", model, true};
  return std::nullopt;
}

std::optional<PathShape> classify_generic(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::string model;
  // Azure classic: /openai/deployments/{deployment}/chat/completions
  if (size_t d = path.find("/openai/deployments/"); d != std::string_view::npos) {
    std::string_view rest = path.substr(d + 20);
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) model = percent_decode(rest.substr(0, slash));
  }
  if (ends_with(path, "/chat/completions")) return PathShape{Api::kOpenAIChat, "chat", model};
  if (ends_with(path, "/completions"))
    return PathShape{Api::kOpenAICompletions, "text_completion", model, false, true};
  if (ends_with(path, "/embeddings"))
    return PathShape{Api::kOpenAIEmbeddings, "embeddings", model, false, true};
  if (ends_with(path, "/responses"))
    return PathShape{Api::kOpenAIResponses, "chat", model, false, true};
  if (ends_with(path, "/v1/messages")) return PathShape{Api::kAnthropicMessages, "chat", model};
  if (path == "/api/chat") return PathShape{Api::kOllama, "chat", "", false, true};
  if (path == "/api/generate") return PathShape{Api::kOllama, "text_completion", "", false, true};
  if (path == "/api/embed" || path == "/api/embeddings")
    return PathShape{Api::kOllama, "embeddings", "", false, true};
  return std::nullopt;
}

std::optional<PathShape> classify_path(std::string_view path, bool bedrock_host) {
  if (bedrock_host) {
    if (auto s = classify_bedrock(path)) return s;
  }
  if (path.find(':') != std::string_view::npos) {
    if (auto s = classify_google(path)) return s;
  }
  return classify_generic(path);
}

// Provider for a known hosted API; "" when the host is not one.
std::string_view provider_for_host(std::string_view host_in) {
  std::string host = to_lower(strip_port(host_in));
  std::string_view h = host;
  struct Exact {
    std::string_view host, provider;
  };
  static constexpr Exact kExact[] = {
      {"api.openai.com", "openai"},
      {"api.anthropic.com", "anthropic"},
      {"generativelanguage.googleapis.com", "gcp.gemini"},
      {"aiplatform.googleapis.com", "gcp.vertex_ai"},
      {"api.deepseek.com", "deepseek"},
      {"api.groq.com", "groq"},
      {"api.mistral.ai", "mistral_ai"},
      {"api.x.ai", "x_ai"},
      {"openrouter.ai", "openrouter"},
      {"api.together.xyz", "together"},
      {"api.together.ai", "together"},
      {"ollama.com", "ollama"},
  };
  for (const auto& e : kExact) {
    if (h == e.host) return e.provider;
  }
  if (ends_with(h, "-aiplatform.googleapis.com")) return "gcp.vertex_ai";
  if (ends_with(h, ".openai.azure.com") || ends_with(h, ".cognitiveservices.azure.com") ||
      ends_with(h, ".services.ai.azure.com"))
    return "azure.ai.openai";
  // bedrock-runtime.{region}.amazonaws.com, bedrock-runtime-fips.{region}.amazonaws.com
  if ((starts_with(h, "bedrock-runtime.") || starts_with(h, "bedrock-runtime-fips.")) &&
      ends_with(h, ".amazonaws.com"))
    return "aws.bedrock";
  // Bedrock's OpenAI-compatible surface: bedrock-mantle.{region}.api.aws
  if (starts_with(h, "bedrock-mantle.") && ends_with(h, ".api.aws")) return "aws.bedrock";
  return "";
}

bool body_looks_like_inference(std::string_view body_prefix) {
  std::string_view b = trim(body_prefix);
  if (b.empty() || b.front() != '{') return false;
  for (std::string_view key : {"\"model\"", "\"messages\"", "\"prompt\"", "\"input\"", "\"contents\""}) {
    if (b.find(key) != std::string_view::npos) return true;
  }
  return false;
}

std::string_view fallback_provider(Api api) {
  switch (api) {
    case Api::kAnthropicMessages: return "anthropic_compatible";
    case Api::kGemini: return "gemini_compatible";
    case Api::kOllama: return "ollama";
    case Api::kBedrockConverse:
    case Api::kBedrockInvoke: return "aws.bedrock";
    default: return "openai_compatible";
  }
}

}  // namespace

std::string_view api_name(Api api) {
  switch (api) {
    case Api::kOpenAIChat: return "openai.chat";
    case Api::kOpenAICompletions: return "openai.completions";
    case Api::kOpenAIEmbeddings: return "openai.embeddings";
    case Api::kOpenAIResponses: return "openai.responses";
    case Api::kAnthropicMessages: return "anthropic.messages";
    case Api::kGemini: return "gemini";
    case Api::kBedrockConverse: return "bedrock.converse";
    case Api::kBedrockInvoke: return "bedrock.invoke";
    case Api::kOllama: return "ollama";
  }
  return "unknown";
}

bool cache_inside_input(Api api) {
  switch (api) {
    case Api::kAnthropicMessages:
    case Api::kBedrockConverse:
    case Api::kBedrockInvoke:
      return false;
    default:
      return true;
  }
}

bool is_known_llm_host(std::string_view host) { return !provider_for_host(host).empty(); }

bool looks_like_llm_request(std::string_view method, std::string_view path,
                            std::string_view body_prefix) {
  if (method != "POST") return false;
  auto shape = classify_path(strip_query(path), /*bedrock_host=*/false);
  if (!shape) return false;
  return !shape->ambiguous || body_looks_like_inference(body_prefix);
}

std::optional<Detection> detect_provider(std::string_view host, std::string_view method,
                                         std::string_view target,
                                         const std::vector<proto::HttpHeader>& headers,
                                         std::string_view body_prefix) {
  if (method != "POST") return std::nullopt;  // inference is always a POST
  std::string_view provider = provider_for_host(host);
  std::string_view path = strip_query(target);
  auto shape = classify_path(path, provider == "aws.bedrock");
  if (!shape) {
    // Anthropic-style servers on odd prefixes announce themselves with anthropic-version.
    const std::string* ver = proto::find_header(headers, "anthropic-version");
    std::string_view p = path;
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    if (ver == nullptr || !ends_with(p, "/messages")) return std::nullopt;
    shape = PathShape{Api::kAnthropicMessages, "chat", ""};
  }
  if (provider.empty()) {
    if (shape->api == Api::kBedrockConverse || shape->api == Api::kBedrockInvoke) return std::nullopt;
    if (shape->ambiguous && !body_looks_like_inference(body_prefix)) return std::nullopt;
    provider = fallback_provider(shape->api);
  }
  Detection d;
  d.provider = std::string(provider);
  d.operation = std::string(shape->operation);
  d.api = shape->api;
  d.path_model = std::move(shape->model);
  d.path_stream = shape->stream;
  if (shape->api == Api::kGemini) {
    std::string_view query = target.substr(path.size());
    d.sse_requested = query.find("alt=sse") != std::string_view::npos;
  }
  return d;
}

}  // namespace rein::llm
