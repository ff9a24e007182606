// The JSON parser the LLM decoders share: buffers grown by a large document are not kept.
#include <gtest/gtest.h>

#include <string>

#include "llm/json_util.h"

namespace {

using rein::llm::json::DocParser;
using rein::llm::json::Element;

std::string big_array(size_t bytes) {
  std::string s = "[";
  while (s.size() < bytes) s += "0,";
  s += "0]";
  return s;
}

// A long-lived parser (a WebSocket session's) that met one large message gives its buffers
// back: at release, and when the next document is small; small documents keep their reuse.
TEST(JsonDocParser, BuffersOfALargeDocumentAreNotKept) {
  DocParser p;
  Element e;
  ASSERT_EQ(p.parse(R"({"a":1})", e), DocParser::Status::kOk);
  const size_t small = p.capacity();
  EXPECT_LE(small, DocParser::kMaxPooledBytes);
  ASSERT_EQ(p.parse(big_array(size_t{4} << 20), e), DocParser::Status::kOk);
  EXPECT_GE(p.capacity(), size_t{4} << 20);
  p.release_large();
  EXPECT_LE(p.capacity(), DocParser::kMaxPooledBytes);
  ASSERT_EQ(p.parse(big_array(size_t{4} << 20), e), DocParser::Status::kOk);
  ASSERT_EQ(p.parse(R"({"b":2})", e), DocParser::Status::kOk);
  EXPECT_LE(p.capacity(), DocParser::kMaxPooledBytes);
  EXPECT_EQ(rein::llm::json::count(e, "b"), 2);
  p.release_large();  // nothing large: the buffers stay for the next small document
  EXPECT_GT(p.capacity(), 0u);
}

}  // namespace
