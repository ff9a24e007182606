#include <gtest/gtest.h>

#include <cstring>

#include "common/fast_find.h"
#include "llm/tool_calls.h"

using rein::llm::extract_tool_calls;
using rein::llm::ToolCallLimits;

namespace {
std::string sse(const std::string& event, const std::string& data) {
  return (event.empty() ? "" : "event: " + event + "\n") + "data: " + data + "\n\n";
}
}  // namespace

TEST(ToolCalls, AnthropicBuffered) {
  std::string body =
      R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
    "content":[{"type":"text","text":"I'll edit it."},
               {"type":"tool_use","id":"toolu_01A","name":"Write","input":{"file_path":"/w/CLAUDE.md","content":"x"}},
               {"type":"tool_use","id":"toolu_01B","name":"Bash","input":{"command":"ls"}}],
    "stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5}})";
  auto t = extract_tool_calls(body, "application/json");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].id, "toolu_01A");
  EXPECT_EQ(t[0].name, "Write");
  EXPECT_EQ(t[0].arguments, R"({"file_path":"/w/CLAUDE.md","content":"x"})");
  EXPECT_EQ(t[1].id, "toolu_01B");
  EXPECT_EQ(t[1].arguments, R"({"command":"ls"})");
}

TEST(ToolCalls, AnthropicStreamedInputJsonDeltas) {
  std::string body =
      sse("message_start",
          R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":5,"output_tokens":1}}})") +
      sse("content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
      sse("content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}})") +
      sse("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      sse("content_block_start",
          R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_S1","name":"Edit","input":{}}})") +
      sse("content_block_delta",
          R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}})") +
      sse("content_block_delta",
          R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\": \"/w/.ba"}})") +
      sse("content_block_delta",
          R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"shrc\"}"}})") +
      sse("content_block_stop", R"({"type":"content_block_stop","index":1})") +
      sse("message_delta",
          R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}})") +
      sse("message_stop", R"({"type":"message_stop"})");
  auto t = extract_tool_calls(body, "text/event-stream; charset=utf-8");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].id, "toolu_S1");
  EXPECT_EQ(t[0].name, "Edit");
  EXPECT_EQ(t[0].arguments, R"({"file_path": "/w/.bashrc"})");
}

TEST(ToolCalls, OpenAIChatBufferedAndLegacyFunctionCall) {
  std::string body =
      R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,
    "message":{"role":"assistant","content":null,"tool_calls":[
      {"id":"call_abc","type":"function","function":{"name":"write_file","arguments":"{\"path\":\"/w/package.json\"}"}}]},
    "finish_reason":"tool_calls"}]})";
  auto t = extract_tool_calls(body, "application/json");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].id, "call_abc");
  EXPECT_EQ(t[0].name, "write_file");
  EXPECT_EQ(t[0].arguments, R"({"path":"/w/package.json"})");
  std::string legacy =
      R"({"choices":[{"index":0,"message":{"role":"assistant","function_call":{"name":"f","arguments":"{\"a\":1}"}}}]})";
  auto l = extract_tool_calls(legacy, "");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].id, "");
  EXPECT_EQ(l[0].name, "f");
  EXPECT_EQ(l[0].arguments, R"({"a":1})");
}

TEST(ToolCalls, OpenAIChatStreamedDeltasByIndex) {
  auto chunk = [](const std::string& delta) {
    return sse(
        "",
        R"({"id":"chatcmpl-2","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":)" +
            delta + R"(,"finish_reason":null}]})");
  };
  std::string body =
      chunk(R"({"role":"assistant","content":null})") +
      chunk(
          R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"write","arguments":""}}]})") +
      chunk(
          R"({"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"read","arguments":""}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]})") +
      chunk(R"({"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"/w/go.mod\"}"}}]})") +
      "data: [DONE]\n\n";
  auto t = extract_tool_calls(body, "text/event-stream");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].id, "call_1");
  EXPECT_EQ(t[0].name, "write");
  EXPECT_EQ(t[0].arguments, R"({"path":"/w/go.mod"})");
  EXPECT_EQ(t[1].id, "call_2");
  EXPECT_EQ(t[1].arguments, "{}");
}

TEST(ToolCalls, ResponsesBufferedAndStreamed) {
  std::string buffered =
      R"({"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1","output":[
    {"type":"reasoning","id":"rs_1","summary":[]},
    {"type":"function_call","id":"fc_1","call_id":"call_R1","name":"apply","arguments":"{\"file\":\"/w/.env\"}","status":"completed"},
    {"type":"message","id":"msg_1","role":"assistant","content":[]}]})";
  auto b = extract_tool_calls(buffered, "application/json");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].id, "call_R1");  // call_id: what the function_call_output refers to
  EXPECT_EQ(b[0].name, "apply");
  EXPECT_EQ(b[0].arguments, R"({"file":"/w/.env"})");

  std::string s =
      sse("response.created",
          R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_2","object":"response","output":[]}})") +
      sse("response.output_item.added",
          R"({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"function_call","id":"fc_2","call_id":"call_R2","name":"shell","arguments":""}})") +
      sse("response.function_call_arguments.delta",
          R"({"type":"response.function_call_arguments.delta","sequence_number":2,"item_id":"fc_2","output_index":0,"delta":"{\"cmd\":"})") +
      sse("response.function_call_arguments.delta",
          R"({"type":"response.function_call_arguments.delta","sequence_number":3,"item_id":"fc_2","output_index":0,"delta":"\"echo >> /w/.zshrc\"}"})");
  // cut before the done events: the fragments are what there is
  auto partial = extract_tool_calls(s, "text/event-stream");
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(partial[0].id, "call_R2");
  EXPECT_EQ(partial[0].arguments, R"({"cmd":"echo >> /w/.zshrc"})");
  s +=
      sse("response.function_call_arguments.done",
          R"({"type":"response.function_call_arguments.done","sequence_number":4,"item_id":"fc_2","output_index":0,"arguments":"{\"cmd\":\"echo >> /w/.zshrc\"}"})") +
      sse("response.output_item.done",
          R"({"type":"response.output_item.done","sequence_number":5,"output_index":0,"item":{"type":"function_call","id":"fc_2","call_id":"call_R2","name":"shell","arguments":"{\"cmd\":\"echo >> /w/.zshrc\"}"}})") +
      sse("response.completed",
          R"({"type":"response.completed","sequence_number":6,"response":{"id":"resp_2","object":"response","output":[{"type":"function_call","id":"fc_2","call_id":"call_R2","name":"shell","arguments":"{\"cmd\":\"echo >> /w/.zshrc\"}"}]}})");
  auto full = extract_tool_calls(s, "text/event-stream");
  ASSERT_EQ(full.size(), 1u);  // one call, not one per event that repeats it
  EXPECT_EQ(full[0].arguments, R"({"cmd":"echo >> /w/.zshrc"})");
}

TEST(ToolCalls, GeminiFunctionCallParts) {
  std::string body =
      R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"write_file","args":{"path":"/w/GEMINI.md"}}}]}}],"responseId":"r1"})";
  auto t = extract_tool_calls(body, "application/json");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].name, "write_file");
  EXPECT_EQ(t[0].arguments, R"({"path":"/w/GEMINI.md"})");
}

TEST(ToolCalls, NoToolCallsAndGarbage) {
  EXPECT_TRUE(
      extract_tool_calls(R"({"type":"message","content":[{"type":"text","text":"hi"}]})", "")
          .empty());
  EXPECT_TRUE(extract_tool_calls("", "").empty());
  EXPECT_TRUE(extract_tool_calls("{\"tool_use\": [", "").empty());
  EXPECT_TRUE(extract_tool_calls("data: {\"tool_calls\"\n\n", "text/event-stream").empty());
}

TEST(ToolCalls, BoundedInCountAndArgumentBytes) {
  std::string content;
  for (int i = 0; i < 100; i++) {
    if (i) content += ",";
    content += R"({"type":"tool_use","id":"t)" + std::to_string(i) +
               R"(","name":"n","input":{"k":")" + std::string(10000, 'a') + R"("}})";
  }
  std::string body = R"({"type":"message","content":[)" + content + "]}";
  ToolCallLimits lim;
  lim.max_calls = 10;
  lim.max_argument_bytes = 100;
  auto t = extract_tool_calls(body, "", lim);
  ASSERT_EQ(t.size(), 10u);
  for (const auto& c : t) {
    EXPECT_EQ(c.arguments.size(), 100u);
    EXPECT_TRUE(c.arguments_truncated);
  }
  // streamed fragments too
  std::string s = sse(
      "",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"x","name":"n","input":{}}})");
  for (int i = 0; i < 50; i++)
    s += sse(
        "",
        R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"aaaaaaaaaa"}})");
  auto f = extract_tool_calls(s, "text/event-stream", lim);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].arguments.size(), 100u);
  EXPECT_TRUE(f[0].arguments_truncated);
}

TEST(ToolCalls, FastFindAgreesWithFind) {
  const std::string needles[] = {"_call", "tool_use", "functionCall", "name\"", "\\u", "ab"};
  std::vector<std::string> hays = {
      "",          "_",          "_call",       "x_cal",        "tool_us",
      "tool_use",  "atool_usex", "functionCal", "functionCall", "{\"name\":1}",
      "nam\"name", "\\n\\t",     "a\\u0041",    "call_call_",   "CCCCfunctionCallC"};
  // long texts: matches in the 16-byte blocks, across block edges and in the tail
  for (size_t at : {0, 1, 15, 16, 17, 31, 40, 63, 64, 70, 95}) {
    std::string h(100, 'a');
    h.replace(at, 5, "_call");
    hays.push_back(h);
    hays.push_back(h.substr(0, at + 5));
  }
  hays.push_back(std::string(64, 'f') + "functionCal" + std::string(20, 'l'));
  for (const auto& n : needles)
    for (const auto& h : hays) {
      for (size_t from : {size_t(0), size_t(1), size_t(17)})
        EXPECT_EQ(rein::fast_find(h, n, from), h.find(n, from))
            << n << " in " << h << " from " << from;
      EXPECT_EQ(rein::fast_contains(h, n), h.find(n) != std::string::npos);
    }
  EXPECT_EQ(rein::fast_find("abc", "abcd"), std::string::npos);
  EXPECT_EQ(rein::fast_find("abc", "c", 5), std::string::npos);
}

// One pass for several needles answers as the needles one by one, wherever the match sits
// (block edges, the tail) and whichever needle is the longest.
TEST(ToolCalls, FastContainsAnyAgreesWithFind) {
  const std::vector<std::vector<std::string>> sets = {
      {"_call", "tool_use", "functionCall"}, {"name\"", "\\u"}, {"\\u", "ab", "functionCall", "x"},
      {"install ", "npm ", "go get ", "cargo add "}};
  std::vector<std::string> hays = {"", "_", "tool_use", "{\"name\":1}", "a\\u0041", "zzx",
                                   std::string("np\0m ab", 8), std::string("go get\0", 7)};
  for (const char* needle :
       {"_call", "tool_use", "functionCall", "name\"", "\\u", "ab", "npm ", "cargo add "})
    for (size_t at : {0, 1, 14, 15, 16, 17, 31, 40, 63, 64, 70, 95}) {
      std::string h(100, '.');
      h.replace(at, std::strlen(needle), needle);
      hays.push_back(h);
      hays.push_back(h.substr(0, at + std::strlen(needle)));
      hays.push_back(h.substr(0, at + std::strlen(needle) - 1));
    }
  for (const auto& set : sets)
    for (const auto& h : hays) {
      bool want = false;
      for (const auto& n : set) want = want || h.find(n) != std::string::npos;
      if (set.size() == 2)
        EXPECT_EQ(rein::fast_contains_any(h, {set[0], set[1]}), want) << h;
      else if (set.size() == 3)
        EXPECT_EQ(rein::fast_contains_any(h, {set[0], set[1], set[2]}), want) << h;
      else
        EXPECT_EQ(rein::fast_contains_any(h, {set[0], set[1], set[2], set[3]}), want) << h;
    }
}

// The AVX2 scans (taken for haystacks of 64 bytes and more on a CPU that has AVX2) give the
// SSE2 scans' answers, wherever the match sits against their 32-byte steps and the tail.
TEST(ToolCalls, Avx2ScansAgreeWithSse2) {
  if (!rein::detail::have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: only the SSE2 scan runs";
  const std::vector<std::string> needles = {"_call", "tool_use", "functionCall", "name\"", "\\u"};
  std::vector<std::string> hays;
  for (size_t len : {64, 65, 95, 96, 97, 130, 300})
    for (const auto& nd : needles)
      for (size_t at = 0; at + nd.size() <= len; at += (at < 70 ? 1 : 13)) {
        std::string h(len, '.');
        h.replace(at, nd.size(), nd);
        hays.push_back(h);
      }
  hays.push_back(std::string(200, 'n') + "ame");  // first bytes everywhere, never the needle
  hays.push_back(std::string(200, '_') + "cal");
  for (const auto& h : hays) {
    for (const auto& nd : needles)
      for (size_t from : {size_t(0), size_t(1), size_t(33)})
        ASSERT_EQ(rein::detail::fast_find_avx2(h, nd, from), h.find(nd, from))
            << nd << " in " << h << " from " << from;
    const std::string_view sets[2][3] = {{"_call", "tool_use", "functionCall"},
                                         {"name\"", "\\u", "\\u"}};
    for (const auto& set : sets) {
      bool want = false;
      for (auto n : set) want = want || h.find(n) != std::string::npos;
      ASSERT_EQ(rein::detail::fast_contains_any_avx2(h, set, 3), want) << h;
      ASSERT_EQ(rein::detail::fast_contains_any_sse2(h, {set[0], set[1], set[2]}), want) << h;
    }
  }
}

// The arguments' hash covers their whole text: the same input streamed in fragments or sent
// whole hashes alike, and inputs that differ only past the kept bytes hash apart.
TEST(ToolCalls, ArgumentsHashIsOfTheWholeText) {
  auto streamed = [](const std::string& tail) {
    std::string s = sse(
        "",
        R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"x","name":"n","input":{}}})");
    for (const char* frag : {R"({\"k\": \")", "aaaaaaaaaaaa", "aaaaaaaaaaaa"})
      s += sse(
          "",
          std::string(
              R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":")") +
              frag + R"("}})");
    s += sse(
        "",
        R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":")" +
            tail + R"(\"}"}})");
    return s;
  };
  ToolCallLimits lim;
  lim.max_argument_bytes = 16;
  auto a = extract_tool_calls(streamed("b"), "text/event-stream", lim);
  auto b = extract_tool_calls(streamed("c"), "text/event-stream", lim);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].arguments, b[0].arguments);  // cut before they differ
  EXPECT_NE(a[0].arguments_hash, b[0].arguments_hash);
  const std::string whole = R"({"k": ")" + std::string(24, 'a') + R"(b"})";
  EXPECT_EQ(a[0].arguments_hash, rein::fnv1a64(whole));
  auto again = extract_tool_calls(streamed("b"), "text/event-stream", lim);
  EXPECT_EQ(a[0].arguments_hash, again[0].arguments_hash);
}
