#include "proto/json_array_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using rein::proto::JsonArrayStream;

std::vector<std::string> objects(std::string_view body, size_t slice, JsonArrayStream& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < body.size(); i += slice) {
    s.feed(body.substr(i, slice), [&](std::string_view o) { out.emplace_back(o); });
  }
  s.finish();
  return out;
}

TEST(ProtoJsonArrayStream, SplitsTopLevelObjectsWithTrickyStrings) {
  const std::string body =
      "[{\"t\":\"a } ] { \\\" \\\\\",\"n\":{\"x\":[1,{\"y\":2}]}}\r\n,\r\n{\"b\":2}\n]";
  for (size_t slice = 1; slice <= body.size(); ++slice) {
    JsonArrayStream s;
    auto objs = objects(body, slice, s);
    ASSERT_EQ(objs.size(), 2u) << slice;
    EXPECT_EQ(objs[0], "{\"t\":\"a } ] { \\\" \\\\\",\"n\":{\"x\":[1,{\"y\":2}]}}");
    EXPECT_EQ(objs[1], "{\"b\":2}");
    EXPECT_TRUE(s.array_closed());
    EXPECT_FALSE(s.truncated());
  }
}

TEST(ProtoJsonArrayStream, BareObjectBodyAndTruncation) {
  JsonArrayStream s;
  auto objs = objects("{\"error\":{\"code\":429}}", 4, s);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_FALSE(s.array_closed());

  JsonArrayStream t;
  auto cut = objects("[{\"a\":1},{\"b\":", 3, t);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_TRUE(t.truncated());
  EXPECT_FALSE(t.array_closed());
}

TEST(ProtoJsonArrayStream, OversizedElementDroppedNeighboursKept) {
  std::string body = "[{\"a\":\"" + std::string(300, 'z') + "\"},{\"ok\":true}]";
  JsonArrayStream s(64);
  auto objs = objects(body, 5, s);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0], "{\"ok\":true}");
  EXPECT_EQ(s.stats().oversized_objects, 1u);
}

TEST(ProtoJsonArrayStream, ObjectClosedByBracketIsDropped) {
  JsonArrayStream s;
  auto objs = objects("[{\"a\":1], {\"b\":2}]", 3, s);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0], "{\"b\":2}");
  EXPECT_EQ(s.stats().malformed_objects, 1u);
}

TEST(ProtoJsonArrayStream, NonObjectElementsSkipped) {
  JsonArrayStream s;
  auto objs = objects("[1, \"s\", null, {\"k\":1}, [ {\"nested\":1} ]]", 2, s);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0], "{\"k\":1}");
}

}  // namespace
