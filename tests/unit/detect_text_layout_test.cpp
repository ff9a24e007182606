// For the APIs it knows, the extractor reads an answer's text only in the members where
// that API puts it (TextLayout in llm_content.cpp) instead of walking every streamed event
// whole. On every response fixture it must find the text the whole walk finds (the
// Responses API's streams repeat their deltas in done events and in the final response:
// there the mentions, offsets included, must be the same), and nothing else may change
// what a detector sees.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "detect/llm_content.h"
#include "detect/mentions.h"
#include "llm_fixture_util.h"

namespace rein::detect {
namespace {

struct Fixture {
  const char* file;
  const char* host;
  const char* target;
  const char* content_type;
};

const Fixture kFixtures[] = {
    {"anthropic_message.json", "api.anthropic.com", "/v1/messages", "application/json"},
    {"anthropic_stream.sse", "api.anthropic.com", "/v1/messages", "text/event-stream"},
    {"anthropic_stream_error.sse", "api.anthropic.com", "/v1/messages", "text/event-stream"},
    {"azure_chat.json", "contoso.openai.azure.com",
     "/openai/deployments/prod/chat/completions?api-version=2024-10-21", "application/json"},
    {"deepseek_chat.json", "api.deepseek.com", "/chat/completions", "application/json"},
    {"gemini_generate.json", "generativelanguage.googleapis.com",
     "/v1beta/models/gemini-2.5-pro:generateContent", "application/json"},
    {"gemini_stream.sse", "generativelanguage.googleapis.com",
     "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", "text/event-stream"},
    {"gemini_stream_array.json", "generativelanguage.googleapis.com",
     "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "application/json"},
    {"groq_stream.sse", "api.groq.com", "/openai/v1/chat/completions", "text/event-stream"},
    {"mistral_stream.sse", "api.mistral.ai", "/v1/chat/completions", "text/event-stream"},
    {"ollama_chat.ndjson", "localhost", "/api/chat", "application/x-ndjson"},
    {"openai_chat_nonstream.json", "api.openai.com", "/v1/chat/completions", "application/json"},
    {"openai_chat_stream_cut.sse", "api.openai.com", "/v1/chat/completions", "text/event-stream"},
    {"openai_chat_stream_nousage.sse", "api.openai.com", "/v1/chat/completions",
     "text/event-stream"},
    {"openai_chat_stream_usage.sse", "api.openai.com", "/v1/chat/completions", "text/event-stream"},
    {"openai_embeddings.json", "api.openai.com", "/v1/embeddings", "application/json"},
    {"openai_responses.json", "api.openai.com", "/v1/responses", "application/json"},
    {"openai_responses_stream.sse", "api.openai.com", "/v1/responses", "text/event-stream"},
    {"openrouter_chat.json", "openrouter.ai", "/api/v1/chat/completions", "application/json"},
    {"bedrock_converse.json", "bedrock-runtime.us-east-1.amazonaws.com",
     "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", "application/json"},
};

proto::HttpExchange exchange(std::string host, std::string target, std::string content_type,
                             std::string body) {
  test::ExchangeSpec s;
  s.host = std::move(host);
  s.target = std::move(target);
  s.req_body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  s.resp_headers = {{"content-type", std::move(content_type)}};
  s.resp_body = std::move(body);
  return test::make_exchange(s);
}

// What the whole walk reads: the same exchange on a host and path no API detection knows.
std::string whole_walk_text(const std::string& content_type, const std::string& body) {
  LlmContentExtractor x;
  return x.extract(exchange("generic.invalid", "/generic", content_type, body)).response_text;
}

std::string layout_text(const Fixture& f, const std::string& body) {
  LlmContentExtractor x;
  return x.extract(exchange(f.host, f.target, f.content_type, body)).response_text;
}

using MentionKey = std::tuple<int, std::string, uint16_t, std::string, std::string, std::string,
                              uint32_t, uint32_t>;
std::vector<MentionKey> mentions(const std::string& text) {
  std::vector<MentionKey> out;
  for (const auto& m : extract_mentions(text))
    out.emplace_back(int(m.kind), m.host, m.port, m.path, m.manager, m.package, m.offset, m.length);
  return out;
}

TEST(DetectTextLayout, SameTextAsTheWholeWalkOnEveryFixture) {
  size_t with_text = 0;
  for (const auto& f : kFixtures) {
    const std::string body = test::read_fixture(f.file);
    ASSERT_FALSE(body.empty()) << f.file;
    const std::string whole = whole_walk_text(f.content_type, body);
    const std::string mine = layout_text(f, body);
    if (std::string(f.file) == "openai_responses_stream.sse") {
      // The deltas come first and the rest repeats them: the same mentions, but for those
      // the whole walk makes up where a repeat is glued to the text before it ("42" then
      // "The" reads as the host "42.the").
      EXPECT_FALSE(mine.empty());
      EXPECT_EQ(whole.substr(0, mine.size()), mine);
      std::vector<MentionKey> within;
      for (const auto& m : mentions(whole))
        if (std::get<6>(m) + std::get<7>(m) <= mine.size()) within.push_back(m);
      EXPECT_EQ(mentions(mine), within) << f.file;
    } else {
      EXPECT_EQ(mine, whole) << f.file;
    }
    with_text += !mine.empty();
  }
  EXPECT_GE(with_text, 15u);  // the fixtures carry text: the comparison is not of empties
}

TEST(DetectTextLayout, MentionsInEveryLayout) {
  const std::string said = "see https://api.example.dev/v2/items, then pip install fastjsonx";
  struct Case {
    const char *host, *target, *type;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"api.openai.com", "/v1/chat/completions", "text/event-stream",
       "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4.1\","
       "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"see https://api.exa\"},"
       "\"logprobs\":{\"content\":[{\"token\":\"see\"}]},\"finish_reason\":null}]}\n\n"
       "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mple.dev/v2/items, then pip "
       "install fastjsonx\"}}]}\n\ndata: [DONE]\n\n"},
      {"api.openai.com", "/v1/completions", "application/json",
       "{\"choices\":[{\"index\":0,\"text\":\"" + said + "\"}]}"},
      {"api.anthropic.com", "/v1/messages", "text/event-stream",
       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
           said + "\"}}\n\n"},
      {"api.anthropic.com", "/v1/messages", "application/json",
       "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"" + said + "\"}]}"},
      {"api.openai.com", "/v1/responses", "text/event-stream",
       "data: {\"type\":\"response.output_text.delta\",\"delta\":\"" + said +
           "\"}\n\n"
           "data: {\"type\":\"response.output_text.done\",\"text\":\"" +
           said +
           "\"}\n\n"
           "data: {\"type\":\"response.completed\",\"response\":{\"output\":[{\"type\":\"message\","
           "\"content\":[{\"type\":\"output_text\",\"text\":\"" +
           said + "\"}]}]}}\n\n"},
      {"api.openai.com", "/v1/responses", "application/json",
       "{\"object\":\"response\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":"
       "\"output_text\",\"text\":\"" +
           said + "\"}]}]}"},
      {"generativelanguage.googleapis.com", "/v1beta/models/g:generateContent", "application/json",
       "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" + said + "\"}]}}]}"},
      {"localhost:11434", "/api/chat", "application/x-ndjson",
       "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"" + said +
           "\"},\"done\":false}\n{\"model\":\"m\",\"done\":true}\n"},
      {"localhost:11434", "/api/generate", "application/x-ndjson",
       "{\"model\":\"m\",\"response\":\"" + said +
           "\",\"done\":false}\n"
           "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"context\":[1,2,3]}\n"},
  };
  const auto want = mentions(said);
  ASSERT_EQ(want.size(), 2u);  // the URL and the package
  for (const auto& c : cases) {
    LlmContentExtractor x;
    const std::string text = x.extract(exchange(c.host, c.target, c.type, c.body)).response_text;
    EXPECT_EQ(mentions(text), want) << c.target << " " << c.body.substr(0, 80);
    if (c.body.find("response.completed") == std::string::npos)  // the only repeats
      EXPECT_EQ(mentions(text), mentions(whole_walk_text(c.type, c.body))) << c.target;
  }
}

TEST(DetectTextLayout, EmbeddingsAndUnreadMembersGiveNoText) {
  LlmContentExtractor x;
  // an embeddings answer is numbers: nothing is read, not even the text-named member
  auto e = x.extract(exchange("api.openai.com", "/v1/embeddings", "application/json",
                              R"({"data":[{"embedding":[0.1,0.2],"content":"not text"}]})"));
  EXPECT_EQ(e.response_text, "");
  // an OpenAI chat answer's text is in its choices, not in other members
  auto c = x.extract(exchange("api.openai.com", "/v1/chat/completions", "application/json",
                              R"({"content":"x","choices":[{"message":{"content":"y"}}]})"));
  EXPECT_EQ(c.response_text, "y");
}

}  // namespace
}  // namespace rein::detect
