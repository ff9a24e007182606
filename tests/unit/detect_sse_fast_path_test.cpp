// The extractor reads LF-only SSE bodies with its own memchr splitter and anything else
// with proto::SseParser: both must give the same content for the same events.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detect/llm_content.h"

namespace rein::detect {
namespace {

proto::HttpExchange sse_exchange(std::string body) {
  proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.target = "/v1/chat/completions";
  ex.request.body = R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  proto::HttpResponse r;
  r.status = 200;
  r.headers.push_back({"content-type", "text/event-stream"});
  r.body = std::move(body);
  r.complete = true;
  ex.response = std::move(r);
  return ex;
}

std::string crlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

void expect_same(const std::string& lf_body) {
  LlmContentExtractor x;
  LlmContent fast = x.extract(sse_exchange(lf_body));
  LlmContent slow = x.extract(sse_exchange(crlf(lf_body)));  // a CR: SseParser
  EXPECT_EQ(fast.response_text, slow.response_text) << lf_body;
}

TEST(DetectSseFastPath, SameContentAsSseParser) {
  const std::vector<std::string> bodies = {
      // chat chunks, [DONE]
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hello \"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"see https://api.example.com/v2\"}}]}\n\n"
      "data: [DONE]\n\n",
      // a BOM, comments, event/id fields, a data line without a space
      "\xEF\xBB\xBF: keep-alive\nevent: message\nid: 7\ndata:{\"text\":\"a\"}\n\n"
      ": ping\n\ndata: {\"text\":\"b\"}\n\n",
      // one event over several data lines (joined with '\n'), a field without colon
      "data: {\"content\":\ndata: \"two lines\"}\ndata\n\n",
      // the last event unterminated (stream cut after its data line)
      "data: {\"content\":\"x\"}\n\ndata: {\"content\":\"cut\"}",
      // tool calls (anthropic input_json_delta and openai arguments)
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"content_block\":"
      "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"bash\",\"input\":{}}}\n\n"
      "data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"{\\\"cmd\\\":\\\"ls\\\"}\"}}\n\n"
      "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"read\","
      "\"arguments\":\"{}\"}}]}}]}\n\n",
      // blank lines only, empty data, not JSON
      "\n\n\ndata:\n\ndata: not json\n\n",
  };
  for (const auto& b : bodies) expect_same(b);
}

TEST(DetectSseFastPath, ReadsTheEvents) {
  LlmContentExtractor x;
  LlmContent c = x.extract(
      sse_exchange("data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
                   "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n"));
  EXPECT_EQ(c.response_text, "Hello");
}

}  // namespace
}  // namespace rein::detect
