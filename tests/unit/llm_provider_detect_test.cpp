#include "llm/provider_detect.h"

#include <gtest/gtest.h>

namespace {

using rein::llm::Api;
using rein::llm::detect_provider;
using rein::llm::is_known_llm_host;
using rein::llm::looks_like_llm_request;
using rein::proto::HttpHeader;

struct Case {
  const char* host;
  const char* target;
  const char* provider;
  const char* operation;
  Api api;
  const char* path_model;
  bool path_stream;
};

TEST(LlmProviderDetect, KnownHostsAndPaths) {
  const Case cases[] = {
      {"api.openai.com", "/v1/chat/completions", "openai", "chat", Api::kOpenAIChat, "", false},
      {"api.openai.com", "/v1/responses", "openai", "chat", Api::kOpenAIResponses, "", false},
      {"api.openai.com", "/v1/embeddings", "openai", "embeddings", Api::kOpenAIEmbeddings, "", false},
      {"api.openai.com", "/v1/completions", "openai", "text_completion", Api::kOpenAICompletions, "", false},
      {"api.anthropic.com", "/v1/messages", "anthropic", "chat", Api::kAnthropicMessages, "", false},
      {"api.anthropic.com:443", "/v1/messages?beta=true", "anthropic", "chat", Api::kAnthropicMessages, "", false},
      {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-flash:generateContent",
       "gcp.gemini", "generate_content", Api::kGemini, "gemini-2.5-flash", false},
      {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=AIzaX",
       "gcp.gemini", "generate_content", Api::kGemini, "gemini-2.5-pro", true},
      {"generativelanguage.googleapis.com", "/v1beta/models/text-embedding-004:embedContent",
       "gcp.gemini", "embeddings", Api::kGemini, "text-embedding-004", false},
      {"generativelanguage.googleapis.com", "/v1beta/openai/chat/completions", "gcp.gemini", "chat",
       Api::kOpenAIChat, "", false},
      {"us-central1-aiplatform.googleapis.com",
       "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent",
       "gcp.vertex_ai", "generate_content", Api::kGemini, "gemini-2.5-pro", false},
      {"aiplatform.googleapis.com",
       "/v1/projects/p1/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
       "gcp.vertex_ai", "chat", Api::kAnthropicMessages, "claude-sonnet-4-5@20250929", true},
      {"bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
       "aws.bedrock", "chat", Api::kBedrockConverse, "anthropic.claude-3-5-haiku-20241022-v1:0", false},
      {"bedrock-runtime.eu-west-1.amazonaws.com",
       "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream", "aws.bedrock", "chat",
       Api::kBedrockInvoke, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", true},
      {"bedrock-runtime.us-east-1.amazonaws.com", "/model/amazon.nova-pro-v1%3A0/converse-stream", "aws.bedrock",
       "chat", Api::kBedrockConverse, "amazon.nova-pro-v1:0", true},
      {"myres.openai.azure.com", "/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21",
       "azure.ai.openai", "chat", Api::kOpenAIChat, "prod-gpt4o", false},
      {"myres.cognitiveservices.azure.com", "/openai/v1/responses?api-version=preview", "azure.ai.openai", "chat",
       Api::kOpenAIResponses, "", false},
      {"proj.services.ai.azure.com", "/openai/deployments/emb/embeddings", "azure.ai.openai", "embeddings",
       Api::kOpenAIEmbeddings, "emb", false},
      {"api.deepseek.com", "/chat/completions", "deepseek", "chat", Api::kOpenAIChat, "", false},
      {"api.deepseek.com", "/anthropic/v1/messages", "deepseek", "chat", Api::kAnthropicMessages, "", false},
      {"api.groq.com", "/openai/v1/chat/completions", "groq", "chat", Api::kOpenAIChat, "", false},
      {"api.mistral.ai", "/v1/chat/completions", "mistral_ai", "chat", Api::kOpenAIChat, "", false},
      {"api.x.ai", "/v1/chat/completions", "x_ai", "chat", Api::kOpenAIChat, "", false},
      {"openrouter.ai", "/api/v1/chat/completions", "openrouter", "chat", Api::kOpenAIChat, "", false},
      {"api.together.xyz", "/v1/chat/completions", "together", "chat", Api::kOpenAIChat, "", false},
      {"api.together.ai", "/v1/embeddings", "together", "embeddings", Api::kOpenAIEmbeddings, "", false},
      {"bedrock-mantle.us-east-1.api.aws", "/v1/chat/completions", "aws.bedrock", "chat", Api::kOpenAIChat, "", false},
  };
  for (const auto& c : cases) {
    auto d = detect_provider(c.host, "POST", c.target, {}, "");
    ASSERT_TRUE(d.has_value()) << c.host << c.target;
    EXPECT_EQ(d->provider, c.provider) << c.target;
    EXPECT_EQ(d->operation, c.operation) << c.target;
    EXPECT_EQ(d->api, c.api) << c.target;
    EXPECT_EQ(d->path_model, c.path_model) << c.target;
    EXPECT_EQ(d->path_stream, c.path_stream) << c.target;
  }
}

TEST(LlmProviderDetect, GeminiAltSse) {
  auto d = detect_provider("generativelanguage.googleapis.com", "POST",
                           "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {}, "");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->sse_requested);
  d = detect_provider("generativelanguage.googleapis.com", "POST",
                      "/v1beta/models/gemini-2.5-flash:streamGenerateContent", {}, "");
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->sse_requested);
}

TEST(LlmProviderDetect, NonInferenceEndpointsAreNotCalls) {
  EXPECT_FALSE(detect_provider("api.openai.com", "GET", "/v1/models", {}, ""));
  EXPECT_FALSE(detect_provider("api.openai.com", "GET", "/v1/chat/completions", {}, ""));
  EXPECT_FALSE(detect_provider("api.openai.com", "POST", "/v1/files", {}, ""));
  EXPECT_FALSE(detect_provider("api.anthropic.com", "POST", "/v1/messages/count_tokens", {}, ""));
  EXPECT_FALSE(detect_provider("api.anthropic.com", "POST", "/v1/messages/batches", {}, ""));
  EXPECT_FALSE(detect_provider("generativelanguage.googleapis.com", "POST",
                               "/v1beta/models/gemini-2.5-flash:countTokens", {}, ""));
  EXPECT_FALSE(detect_provider("bedrock-runtime.us-east-1.amazonaws.com", "POST", "/model/x/count-tokens", {}, ""));
}

TEST(LlmProviderDetect, LocalServersByPathShape) {
  const std::string chat_body = R"({"model":"llama3.2","messages":[{"role":"user","content":"hi"}]})";
  auto d = detect_provider("localhost", "POST", "/api/chat", {}, chat_body);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->provider, "ollama");
  EXPECT_EQ(d->api, Api::kOllama);
  EXPECT_EQ(d->operation, "chat");

  d = detect_provider("127.0.0.1:11434", "POST", "/api/generate", {}, R"({"model":"qwen3","prompt":"x"})");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->operation, "text_completion");

  d = detect_provider("gpu-box.internal", "POST", "/v1/chat/completions", {}, "");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->provider, "openai_compatible");

  d = detect_provider("litellm.local", "POST", "/v1/messages", {}, "");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->provider, "anthropic_compatible");

  // Ambiguous paths on unknown hosts need an inference-shaped body.
  EXPECT_FALSE(detect_provider("webapp.example", "POST", "/api/chat", {}, "user=alice&msg=hi"));
  EXPECT_FALSE(detect_provider("webapp.example", "POST", "/api/chat", {}, R"({"room":"x"})"));
  EXPECT_FALSE(detect_provider("webapp.example", "POST", "/search/responses", {}, ""));
  // Bedrock paths only on Bedrock hosts.
  EXPECT_FALSE(detect_provider("example.com", "POST", "/model/foo/invoke", {}, "{}"));
}

TEST(LlmProviderDetect, AnthropicVersionHeaderOnOddPrefix) {
  std::vector<HttpHeader> h = {{"anthropic-version", "2023-06-01"}};
  auto d = detect_provider("proxy.corp", "POST", "/claude/messages", h, "");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->api, Api::kAnthropicMessages);
  EXPECT_FALSE(detect_provider("proxy.corp", "POST", "/claude/messages", {}, ""));
}

TEST(LlmProviderDetect, KnownHostList) {
  for (const char* h : {"api.openai.com", "API.OPENAI.COM", "api.anthropic.com:443", "api.anthropic.com.",
                        "generativelanguage.googleapis.com", "europe-west4-aiplatform.googleapis.com",
                        "aiplatform.googleapis.com", "bedrock-runtime.us-west-2.amazonaws.com",
                        "bedrock-runtime-fips.us-east-1.amazonaws.com", "x.openai.azure.com",
                        "x.cognitiveservices.azure.com", "x.services.ai.azure.com", "api.deepseek.com",
                        "api.groq.com", "api.mistral.ai", "api.x.ai", "openrouter.ai", "api.together.xyz",
                        "api.together.ai"}) {
    EXPECT_TRUE(is_known_llm_host(h)) << h;
  }
  for (const char* h : {"openai.com", "evilapi.openai.com.attacker.net", "api.openai.com.evil", "localhost",
                        "bedrock.us-east-1.amazonaws.com", "openai.azure.com", "s3.amazonaws.com", ""}) {
    EXPECT_FALSE(is_known_llm_host(h)) << h;
  }
}

TEST(LlmProviderDetect, LooksLikeLlmRequest) {
  EXPECT_TRUE(looks_like_llm_request("POST", "/v1/chat/completions", ""));
  EXPECT_TRUE(looks_like_llm_request("POST", "/v1beta/models/gemini-2.5-flash:generateContent?key=x", ""));
  EXPECT_TRUE(looks_like_llm_request("POST", "/api/chat", R"(  {"model":"llama3"})"));
  EXPECT_FALSE(looks_like_llm_request("POST", "/api/chat", "hello"));
  EXPECT_FALSE(looks_like_llm_request("GET", "/v1/chat/completions", ""));
  EXPECT_FALSE(looks_like_llm_request("POST", "/index.html", R"({"model":"x"})"));
}

}  // namespace
