// The extractor's walk for an answer's text judges scalars in the loop over their parent
// (it runs on every streamed event). It must find exactly what the plain recursive walk
// below finds: strings under a text key, directly or in (nested) arrays, in document
// order, nothing below the depth bound.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "detect/llm_content.h"
#include "llm/json_util.h"
#include "llm_fixture_util.h"

namespace rein::detect {
namespace {

using simdjson::dom::element_type;
constexpr size_t kDepth = 64;  // llm_content.cpp's kMaxDepth

bool text_key(std::string_view k) {
  return k == "text" || k == "delta" || k == "content" || k == "response" || k == "output_text";
}

void reference(llm::json::Element e, size_t depth, bool text, std::string& out) {
  if (depth > kDepth) return;
  switch (e.type()) {
    case element_type::STRING:
      if (text) out.append(e.get_string().value_unsafe());
      return;
    case element_type::OBJECT: {
      const simdjson::dom::object o = e.get_object().value_unsafe();
      for (auto [k, v] : o)
        reference(v, depth + 1, v.type() != element_type::OBJECT && text_key(k), out);
      return;
    }
    case element_type::ARRAY: {
      const simdjson::dom::array a = e.get_array().value_unsafe();
      for (auto v : a) reference(v, depth + 1, text, out);
      return;
    }
    default:
      return;
  }
}

proto::HttpExchange json_exchange(const std::string& body) {
  proto::HttpExchange ex;
  ex.request.method = "POST";
  // no LLM API: the generic walk (a known API's layout reads only some members)
  ex.request.host = "generic.invalid";
  ex.request.target = "/generic";
  ex.request.body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  proto::HttpResponse r;
  r.status = 200;
  r.headers.push_back({"content-type", "application/json"});
  r.body = body;
  r.complete = true;
  ex.response = std::move(r);
  return ex;
}

void expect_same(const std::string& doc) {
  llm::json::DocParser p;
  llm::json::Element root;
  ASSERT_EQ(p.parse(doc, root), llm::json::DocParser::Status::kOk) << doc;
  std::string want;
  reference(root, 0, false, want);
  LlmContentExtractor x;
  EXPECT_EQ(x.extract(json_exchange(doc)).response_text, want) << doc.substr(0, 300);
}

std::string nested(size_t arrays, const std::string& inner) {
  std::string s = "{\"content\":";
  for (size_t i = 0; i < arrays; i++) s += "[";
  s += inner;
  for (size_t i = 0; i < arrays; i++) s += "]";
  return s + "}";
}

std::string objects(size_t levels, const std::string& inner) {
  std::string s;
  for (size_t i = 0; i < levels; i++) s += "{\"o\":";
  s += inner;
  for (size_t i = 0; i < levels; i++) s += "}";
  return s;
}

TEST(DetectResponseText, FindsWhatThePlainWalkFinds) {
  const std::vector<std::string> docs = {
      R"({"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null}]})",
      R"({"text":"a","n":1,"u":18446744073709551615,"d":1.5,"t":true,"f":false,"z":null,"text":"b"})",
      R"({"content":["x",["y",["z"]],{"text":"w","k":"no"},1,null,"v"],"other":["no"]})",
      R"({"delta":{"text":"in object"},"content":{"content":"deeper"},"response":"r"})",
      R"(["root","array",{"output_text":"yes"}])",
      R"("a root string")",
      R"(42)",
      R"({})",
      R"([])",
      R"({"content":[],"text":{},"delta":[[]],"e":"\u00e9\n\"q\"","content":"\u0041"})",
      R"({"texts":"no","tex":"no","Content":"no","content":"yes"})",
      // numbers inside text arrays take two tape words each
      R"({"content":[1,2.5,-3,"after numbers",18446744073709551615,"end"]})",
  };
  for (const auto& d : docs) expect_same(d);
}

TEST(DetectResponseText, DepthBoundIsTheElementWalks) {
  for (size_t n : {1, 2, 62, 63, 64, 65, 66, 80}) {
    expect_same(nested(n, "\"s\""));
    expect_same(objects(n, R"({"content":"s","text":["t"]})"));
    expect_same(objects(n, R"("plain")"));
    expect_same("[" + objects(n, R"({"text":"deep"})") + R"(,{"text":"shallow"}])");
  }
}

TEST(DetectResponseText, EveryEventOfTheFixtures) {
  const std::string dir = test::source_dir() + "/tests/fixtures/llm";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  size_t docs = 0;
  while (dirent* ent = readdir(d)) {
    const std::string name = ent->d_name;
    if (name.size() < 5) continue;
    const std::string body = test::read_fixture(name);
    if (name.ends_with(".json")) {
      llm::json::DocParser p;
      llm::json::Element root;
      if (p.parse(body, root) != llm::json::DocParser::Status::kOk) continue;
      expect_same(body);
      docs++;
      continue;
    }
    // SSE data lines and NDJSON lines, each a document of its own
    size_t pos = 0;
    while (pos < body.size()) {
      size_t nl = body.find('\n', pos);
      if (nl == std::string::npos) nl = body.size();
      std::string line = body.substr(pos, nl - pos);
      pos = nl + 1;
      if (line.starts_with("data:")) line = line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
      if (line.empty() || (line[0] != '{' && line[0] != '[')) continue;
      llm::json::DocParser p;
      llm::json::Element root;
      if (p.parse(line, root) != llm::json::DocParser::Status::kOk) continue;
      expect_same(line);
      docs++;
    }
  }
  closedir(d);
  EXPECT_GT(docs, 40u);  // the fixtures were read, not skipped
}

}  // namespace
}  // namespace rein::detect
