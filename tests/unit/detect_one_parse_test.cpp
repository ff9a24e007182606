// The detections' content of an LLM exchange comes from the LLM stage's own parse
// (llm::analyze with the extractor's observer) instead of a second parse of the bodies: it
// must be the same content the extractor finds parsing the bodies itself, for every API
// shape and framing, and it must really come from the analyzer's parse.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "detect/llm_content.h"
#include "llm/llm_analyzer.h"

namespace rein::detect {
namespace {

struct Spec {
  std::string host, target, req_body, content_type, resp_body;
  int status = 200;
  bool complete = true;
};

proto::HttpExchange exchange(const Spec& s) {
  proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.host = s.host;
  ex.request.target = s.target;
  ex.request.headers = {{"host", s.host}, {"content-type", "application/json"}};
  ex.request.body = s.req_body;
  proto::HttpResponse r;
  r.status = s.status;
  if (!s.content_type.empty()) r.headers.push_back({"content-type", s.content_type});
  r.body = s.resp_body;
  r.complete = s.complete;
  ex.response = std::move(r);
  return ex;
}

void expect_same_shape(const std::optional<TextShape>& a, const std::optional<TextShape>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->size, b->size);
  EXPECT_EQ(a->line_hashes, b->line_hashes);
  EXPECT_EQ(a->names, b->names);
  EXPECT_EQ(a->stable_hashes, b->stable_hashes);
}

void expect_same(const LlmContent& a, const LlmContent& b) {
  EXPECT_EQ(a.request_parsed, b.request_parsed);
  EXPECT_EQ(a.request_hash, b.request_hash);
  expect_same_shape(a.system_prompt, b.system_prompt);
  expect_same_shape(a.tools, b.tools);
  EXPECT_EQ(a.conversation, b.conversation);
  EXPECT_EQ(a.response_text, b.response_text);
  EXPECT_EQ(a.response_text_truncated, b.response_text_truncated);
  EXPECT_EQ(a.response_cut, b.response_cut);
}

std::vector<Spec> specs() {
  const std::string sse = "text/event-stream";
  const std::string chat_req =
      R"({"model":"gpt-4o","stream":true,"user":"u1","messages":[{"role":"system","content":"Be terse.\nUse /tmp/x 42"},{"role":"user","content":"list files"}],"tools":[{"type":"function","function":{"name":"bash","parameters":{"type":"object"}}}]})";
  return {
      // OpenAI chat, streamed: text and a tool call in argument fragments, [DONE].
      {"api.openai.com", "/v1/chat/completions", chat_req, sse,
       "data: {\"choices\":[{\"delta\":{\"content\":\"see https://api.example.com/v2 \"}}]}\n\n"
       "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":"
       "{\"name\":\"bash\",\"arguments\":\"{\\\"cmd\\\":\"}}]}}]}\n\n"
       "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
       "{\"arguments\":\"\\\"ls\\\"}\"}}]}}]}\n\n"
       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\n"
       "data: [DONE]\n\n"},
      // The same with CRLF line ends (the SSE parser, not the LF fast path).
      {"api.openai.com", "/v1/chat/completions", chat_req, sse,
       "data: {\"choices\":[{\"delta\":{\"content\":\"pip install fastjsonx\"}}]}\r\n\r\n"
       "data: [DONE]\r\n\r\n"},
      // OpenAI chat, buffered, with a tool call.
      {"api.openai.com", "/v1/chat/completions",
       R"({"model":"gpt-4o","messages":[{"role":"developer","content":[{"type":"text","text":"dev"}]},{"role":"user","content":"hi"}]})",
       "application/json",
       R"({"id":"x","model":"gpt-4o","choices":[{"message":{"role":"assistant","content":"ok","tool_calls":[{"id":"c","type":"function","function":{"name":"read","arguments":"{\"p\":1}"}}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1}})"},
      // Anthropic messages, streamed: tool_use with input_json_delta fragments.
      {"api.anthropic.com", "/v1/messages",
       R"({"model":"claude-sonnet-4","stream":true,"system":[{"type":"text","text":"You are a coder."}],"messages":[{"role":"user","content":"go"}],"tools":[{"name":"edit","input_schema":{}},{"type":"web_search_20250305","name":"web_search"}],"metadata":{"user_id":"abc"}})",
       sse,
       "event: message_start\ndata: "
       "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":"
       "\"claude-sonnet-4\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
       "{\"type\":\"text_delta\",\"text\":\"curl http://nowhere.invalid/x\"}}\n\n"
       "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
       "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"edit\",\"input\":{}}}\n\n"
       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
       "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"f\\\":1}\"}}\n\n"
       "event: message_delta\ndata: "
       "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n"},
      // Gemini, streamed as one JSON array (no alt=sse).
      {"generativelanguage.googleapis.com", "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
       R"({"systemInstruction":{"parts":[{"text":"sys"}]},"contents":[{"role":"user","parts":[{"text":"q"}]}],"tools":[{"functionDeclarations":[{"name":"f1"},{"name":"f2"}]}]})",
       "application/json",
       R"([{"candidates":[{"content":{"parts":[{"text":"npm i left-padx"}]}}]},
{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f1","args":{"a":1}}}]}}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}])"},
      // Ollama chat, NDJSON.
      {"localhost:11434", "/api/chat",
       R"({"model":"llama3","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"}]})",
       "application/x-ndjson",
       "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"a "
       "\"},\"done\":false}\n"
       "{\"model\":\"llama3\",\"message\":{\"role\":\"assistant\",\"content\":\"b\"},\"done\":true,"
       "\"prompt_eval_count\":4,\"eval_count\":2}\n"},
      // OpenAI Responses, streamed, with instructions and a function call item.
      {"api.openai.com", "/v1/responses",
       R"({"model":"gpt-5","stream":true,"instructions":"be brief","input":[{"role":"user","content":"x"}]})",
       sse,
       "event: response.output_text.delta\ndata: "
       "{\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n"
       "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"item\":"
       "{\"type\":\"function_call\",\"name\":\"shell\",\"arguments\":\"{}\",\"call_id\":\"c\"}}\n\n"
       "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":"
       "{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"},
      // A stream cut before its end, and a rate-limited call (its body is not walked).
      {"api.openai.com", "/v1/chat/completions", chat_req, sse,
       "data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n", 200, false},
      {"api.openai.com", "/v1/chat/completions", chat_req, "application/json",
       R"({"error":{"type":"rate_limit_error","message":"slow down"}})", 429},
  };
}

const llm::PriceTable& prices() {
  static const llm::PriceTable t;
  return t;
}
const llm::Fingerprinter& fingerprinter() {
  static const llm::Fingerprinter f(std::array<uint8_t, 32>{3});
  return f;
}

TEST(DetectOneParse, SameContentAsParsingTheBodies) {
  LlmContentExtractor riding, parsing;
  for (const auto& s : specs()) {
    SCOPED_TRACE(s.target + " " + s.resp_body.substr(0, 60));
    proto::HttpExchange ex = exchange(s);
    ASSERT_TRUE(llm::analyze(ex, prices(), fingerprinter(), nullptr, riding.observer()));
    LlmContent a = riding.extract(ex);
    LlmContent b = parsing.extract(exchange(s));
    expect_same(a, b);
  }
}

// The extractor resets its content in place for each exchange: one reused across every
// shape must give what a fresh extractor gives for each, whatever came before.
TEST(DetectOneParse, ReusedExtractorGivesWhatAFreshOneGives) {
  LlmContentExtractor reused;
  auto all = specs();
  for (int round = 0; round < 2; round++) {
    for (const auto& s : all) {
      SCOPED_TRACE(s.target + " " + s.resp_body.substr(0, 60));
      LlmContentExtractor fresh;
      LlmContent a = reused.extract(exchange(s));
      LlmContent b = fresh.extract(exchange(s));
      expect_same(a, b);
    }
    std::reverse(all.begin(), all.end());
  }
}

TEST(LlmContent, ResetLeavesWhatANewOneHas) {
  LlmContent c;
  c.request_parsed = true;
  c.request_hash = 7;
  c.system_prompt = TextShape{"ab", 2, {1}, {}, {3}};
  c.tools = TextShape{"cd", 1, {2}, {"bash"}, {4}};
  c.conversation = 9;
  c.response_text = std::string(100, 'x');
  c.response_text_truncated = true;
  c.response_cut = true;
  c.secrets.push_back(SecretFinding{});
  c.secrets_truncated = true;
  const size_t kept = c.response_text.capacity();
  c.reset();
  const LlmContent fresh;
  expect_same(c, fresh);
  EXPECT_EQ(c.secrets.size(), fresh.secrets.size());
  EXPECT_EQ(c.secrets_truncated, fresh.secrets_truncated);
  EXPECT_EQ(c.response_text.capacity(), kept);  // the buffer stays for the next answer
}

TEST(DetectOneParse, ContentComesFromTheAnalyzersParse) {
  LlmContentExtractor x;
  const Spec s = specs()[0];
  proto::HttpExchange ex = exchange(s);
  ASSERT_TRUE(llm::analyze(ex, prices(), fingerprinter(), nullptr, x.observer()));
  // Bodies gone after the analysis: what extract() returns was taken during it.
  ex.request.body.clear();
  ex.response->body.clear();
  LlmContent c = x.extract(ex);
  EXPECT_TRUE(c.request_parsed);
  EXPECT_NE(c.request_hash, 0u);
  ASSERT_TRUE(c.system_prompt);
  EXPECT_EQ(c.response_text, "see https://api.example.com/v2 ");
  // Another exchange at another address is parsed: nothing carries over.
  LlmContent again = x.extract(exchange(specs()[1]));
  EXPECT_EQ(again.response_text, "pip install fastjsonx");
}

// What the observer is handed: the request document once, each response document in order.
TEST(DetectOneParse, AnalyzerHandsEveryDocument) {
  struct Counter : llm::BodyObserver {
    int begun = 0, requests = 0, docs = 0;
    llm::Api api = llm::Api::kBedrockInvoke;
    void begin(const proto::HttpExchange&, llm::Api a) override {
      begun++;
      api = a;
    }
    void on_request_doc(llm::json::Element) override { requests++; }
    int choices_handed = 0;
    void on_response_doc(llm::json::Element, std::string_view, const llm::DocHints& h) override {
      docs++;
      choices_handed += h.top_read && h.choices.has_value();
    }
  } n;
  ASSERT_TRUE(llm::analyze(exchange(specs()[0]), prices(), fingerprinter(), nullptr, &n));
  EXPECT_EQ(n.begun, 1);
  EXPECT_EQ(n.api, llm::Api::kOpenAIChat);  // where the readers look for the answer's text
  EXPECT_EQ(n.requests, 1);
  EXPECT_EQ(n.docs, 4);  // four events, [DONE] is not JSON
  EXPECT_EQ(n.choices_handed, 4);  // the chat sink's own pass found each event's choices
  // Not an LLM call: the observer is not started.
  Spec other = specs()[0];
  other.host = "example.com";
  other.target = "/upload";
  other.req_body = "x";
  Counter none;
  EXPECT_FALSE(llm::analyze(exchange(other), prices(), fingerprinter(), nullptr, &none));
  EXPECT_EQ(none.begun, 0);
}

}  // namespace
}  // namespace rein::detect

namespace rein::detect {
namespace {

std::string tools_request(int variant, const std::string& system) {
  return R"({"model":"claude-sonnet-4-5","system":")" + system +
         R"(","tools":[{"name":"Read","input_schema":{"type":"object","v":)" +
         std::to_string(variant) + R"(}},{"name":"Write","input_schema":{"type":"object"}}],)"
         R"("messages":[{"role":"user","content":"hi"}]})";
}

// Prompt and tool shapes come from a small cache after an agent's first call: what it
// hands out must be what computing them gives, for a hit, a miss and after eviction.
TEST(DetectShapeCache, CachedShapesAreTheComputedOnes) {
  LlmContentExtractor warm;
  auto spec = [](const std::string& body) {
    return exchange({"api.anthropic.com", "/v1/messages", body, "application/json",
                     R"({"content":[{"type":"text","text":"ok"}]})"});
  };
  const auto a = spec(tools_request(0, "You are a coding agent.\\nWork in /srv/a."));
  const auto first = warm.extract(a);
  ASSERT_TRUE(first.tools && first.system_prompt);
  expect_same(first, warm.extract(a));  // a hit
  // more distinct lists and prompts than the cache holds, then the first again
  for (int v = 1; v <= 12; v++) {
    const auto other = spec(tools_request(v, "Prompt " + std::to_string(v)));
    const auto got = warm.extract(other);
    LlmContentExtractor cold;
    expect_same(got, cold.extract(other));
    EXPECT_NE(got.tools->line_hashes, first.tools->line_hashes);
    EXPECT_NE(got.system_prompt->hash, first.system_prompt->hash);
  }
  expect_same(first, warm.extract(a));
  LlmContentExtractor cold;
  expect_same(first, cold.extract(a));
  // bounded: more distinct lists of the same size replace entries, the bytes stay put
  EXPECT_GT(warm.state_bytes(), 0u);
  auto more = [&](int from) {
    for (int v = from; v < from + 20; v++)
      warm.extract(spec(tools_request(v, "Prompt " + std::to_string(v % 10))));
    return warm.state_bytes();
  };
  const size_t held = more(100);
  EXPECT_EQ(more(200), held);
  EXPECT_EQ(more(300), held);
}

// Tool-list and prompt hashes are kept in --state-dir baselines: they must not change
// from one build to the next (values of the FNV-1a scheme as shipped).
TEST(DetectShapeCache, PersistedHashesAreStable) {
  LlmContentExtractor x;
  auto c = x.extract(exchange({"api.anthropic.com", "/v1/messages",
                               tools_request(0, "You are a coding agent."), "application/json",
                               R"({"content":[]})"}));
  ASSERT_TRUE(c.tools && c.system_prompt);
  EXPECT_EQ(c.tools->hash, "6bd4693dc717bb5d");
  EXPECT_EQ(c.tools->stable_hashes.size(), 2u);
  EXPECT_EQ(c.system_prompt->hash, "f415869f0b9f0c8d");
}

}  // namespace
}  // namespace rein::detect
