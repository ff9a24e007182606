// The request's near-identity hash and the conversation hash lay the JSON content out in a
// fixed buffer that is hashed whenever it fills, and long strings go straight in: requests
// that differ anywhere (also past a buffer's worth, or only in where a piece ends) must hash
// differently, and requests that differ only in volatile fields must not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detect/llm_content.h"

namespace rein::detect {
namespace {

LlmContent content_of(const std::string& request_body) {
  proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.target = "/v1/chat/completions";
  ex.request.body = request_body;
  proto::HttpResponse r;
  r.status = 200;
  r.headers.push_back({"content-type", "application/json"});
  r.body = R"({"choices":[{"message":{"content":"ok"}}]})";
  r.complete = true;
  ex.response = std::move(r);
  LlmContentExtractor x;
  return x.extract(ex);
}

std::string chat(const std::string& first, const std::string& extra = "") {
  return R"({"model":"m",)" + extra + R"("messages":[{"role":"user","content":")" + first +
         R"("},{"role":"assistant","content":"ok"}]})";
}

TEST(DetectRequestHash, DiffersWhereverTheRequestDoes) {
  for (size_t len : {10, 4000, 4090, 4096, 4100, 9000, 20000}) {
    std::string text(len, 'x');
    std::string other = text;
    other.back() = 'y';
    const LlmContent a = content_of(chat(text)), b = content_of(chat(other));
    ASSERT_TRUE(a.request_parsed && b.request_parsed) << len;
    EXPECT_NE(a.request_hash, b.request_hash) << len;
    EXPECT_NE(a.conversation, b.conversation) << len;
    const LlmContent again = content_of(chat(text));
    EXPECT_EQ(a.request_hash, again.request_hash) << len;
    EXPECT_EQ(a.conversation, again.conversation) << len;
  }
}

TEST(DetectRequestHash, WherePiecesEndCounts) {
  EXPECT_NE(content_of(R"({"a":"bc"})").request_hash, content_of(R"({"ab":"c"})").request_hash);
  EXPECT_NE(content_of(R"({"a":["b","c"]})").request_hash,
            content_of(R"({"a":["bc"]})").request_hash);
  EXPECT_NE(content_of(R"({"a":1})").request_hash, content_of(R"({"a":"1"})").request_hash);
  EXPECT_NE(content_of(R"({"a":true})").request_hash, content_of(R"({"a":"t"})").request_hash);
}

TEST(DetectRequestHash, VolatileFieldsAreLeftOut) {
  const std::string long_text(6000, 'z');
  const LlmContent a = content_of(chat(long_text, R"("user":"u1","stream_options":{"x":1},)"));
  const LlmContent b = content_of(chat(long_text, R"("user":"u2","metadata":{"run":7},)"));
  EXPECT_EQ(a.request_hash, b.request_hash);
  const LlmContent c = content_of(chat(long_text, R"("temperature":0.5,)"));
  EXPECT_NE(a.request_hash, c.request_hash);
}

// The tool list goes into the near-identity hash as its own hash (the one the tool-list
// cache is keyed by): a change in a tool's schema still changes it, the same list does not,
// and the tool list's shape is the one a whole walk gives.
TEST(DetectRequestHash, ToolListCountsThroughItsOwnHash) {
  auto with_tools = [](const std::string& schema, const std::string& tools_key = "tools") {
    return R"({"model":"m",")" + tools_key + R"(":[{"name":"Read","input_schema":)" + schema +
           R"(},{"name":"Write","input_schema":{"type":"object"}}],"messages":[{"role":"user",)"
           R"("content":"hi"}]})";
  };
  const LlmContent a = content_of(with_tools(R"({"type":"object","p":1})"));
  const LlmContent same = content_of(with_tools(R"({"type":"object","p":1})"));
  const LlmContent other = content_of(with_tools(R"({"type":"object","p":2})"));
  EXPECT_EQ(a.request_hash, same.request_hash);
  EXPECT_NE(a.request_hash, other.request_hash);
  ASSERT_TRUE(a.tools && other.tools);
  EXPECT_EQ(a.tools->names, (std::vector<std::string>{"Read", "Write"}));
  EXPECT_NE(a.tools->hash, other.tools->hash);
  // the same content under another key is another request
  EXPECT_NE(a.request_hash,
            content_of(with_tools(R"({"type":"object","p":1})", "toolz")).request_hash);
  // a second "tools" member (hostile) is hashed whole, and still counts
  const std::string twice = R"({"tools":[{"name":"A"}],"tools":[{"name":"B"}]})";
  const std::string twice_other = R"({"tools":[{"name":"A"}],"tools":[{"name":"C"}]})";
  EXPECT_NE(content_of(twice).request_hash, content_of(twice_other).request_hash);
}

// The conversation is taken in the near-identity hash's own pass: the first non-system
// message of the first list (messages, input, contents) that has one names it, whichever
// other messages follow; a system-only list or a list that is not an array is skipped; a
// repeated key counts as its first occurrence; and it is the same with the near-identity
// hash off (the retry spiral disabled), when it comes from a walk of its own.
TEST(DetectRequestHash, ConversationIsTheFirstNonSystemMessageWhereverFound) {
  auto conv = [](const std::string& body, bool request_hash = true) {
    proto::HttpExchange ex;
    ex.request.method = "POST";
    ex.request.target = "/v1/chat/completions";
    ex.request.body = body;
    LlmContentExtractor x;
    ContentNeeds n;
    n.request_hash = request_hash;
    x.set_needs(n);
    return x.extract(ex);
  };
  const std::string a = R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"task"}]})";
  const std::string a_longer = R"({"messages":[{"role":"developer","content":"d"},{"role":"user","content":"task"},)"
                               R"({"role":"assistant","content":"ok"},{"role":"user","content":"more"}]})";
  const std::string b = R"({"messages":[{"role":"user","content":"other task"}]})";
  EXPECT_NE(conv(a).conversation, 0u);
  EXPECT_EQ(conv(a).conversation, conv(a_longer).conversation);
  EXPECT_NE(conv(a).request_hash, conv(a_longer).request_hash);
  EXPECT_NE(conv(a).conversation, conv(b).conversation);
  // system only in messages: the Responses API's input names it; not an array: skipped
  const std::string in = R"({"messages":[{"role":"system","content":"s"}],"input":[{"role":"user","content":"task"}]})";
  const std::string in2 = R"({"messages":"text","input":[{"role":"user","content":"task"}]})";
  const std::string in_only = R"({"input":[{"role":"user","content":"task"}]})";
  EXPECT_NE(conv(in).conversation, 0u);
  EXPECT_EQ(conv(in).conversation, conv(in2).conversation);
  EXPECT_EQ(conv(in).conversation, conv(in_only).conversation);
  EXPECT_NE(conv(in).conversation, conv(a).conversation);  // same message, other list
  EXPECT_EQ(conv(R"({"messages":[{"role":"system","content":"s"}]})").conversation, 0u);
  const std::string twice = R"({"messages":[{"role":"user","content":"task"}],"messages":[{"role":"user","content":"x"}]})";
  EXPECT_EQ(conv(twice).conversation, conv(R"({"messages":[{"role":"user","content":"task"}]})").conversation);
  for (const auto& body : {a, a_longer, b, in, in2, in_only, twice})
    EXPECT_EQ(conv(body).conversation, conv(body, false).conversation) << body;
  EXPECT_EQ(conv(a, false).request_hash, 0u);
}

}  // namespace
}  // namespace rein::detect
