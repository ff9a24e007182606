#include "proto/ndjson.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using rein::proto::NdjsonSplitter;

std::vector<std::string> split(std::string_view body, size_t slice, NdjsonSplitter& s) {
  std::vector<std::string> out;
  auto cb = [&](std::string_view l) { out.emplace_back(l); };
  for (size_t i = 0; i < body.size(); i += slice) s.feed(body.substr(i, slice), cb);
  s.finish(cb);
  return out;
}

TEST(ProtoNdjson, SplitsLinesAtEverySlicing) {
  const std::string body = "{\"a\":1}\n{\"b\":2}\r\n\n  \n{\"c\":3}";
  for (size_t slice = 1; slice <= body.size(); ++slice) {
    NdjsonSplitter s;
    auto lines = split(body, slice, s);
    ASSERT_EQ(lines.size(), 3u) << slice;
    EXPECT_EQ(lines[0], "{\"a\":1}");
    EXPECT_EQ(lines[1], "{\"b\":2}");  // CR stripped
    EXPECT_EQ(lines[2], "{\"c\":3}");
    EXPECT_EQ(s.stats().unterminated_lines, 1u);
  }
}

TEST(ProtoNdjson, OversizedLinesAreDroppedAndCounted) {
  std::string body = std::string(100, 'x') + "\nshort\n" + std::string(100, 'y');
  for (size_t slice : {size_t{1}, size_t{9}, body.size()}) {
    NdjsonSplitter s(32);
    auto lines = split(body, slice, s);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], "short");
    EXPECT_EQ(s.stats().oversized_lines, 2u);
  }
}

TEST(ProtoNdjson, EmptyInput) {
  NdjsonSplitter s;
  EXPECT_TRUE(split("", 1, s).empty());
  EXPECT_EQ(s.stats().lines, 0u);
}

}  // namespace
