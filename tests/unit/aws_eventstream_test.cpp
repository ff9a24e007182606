#include "proto/aws_eventstream.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <utility>
#include <vector>

#include "llm_fixture_util.h"

namespace {

using rein::proto::EventStreamDecoder;
using rein::proto::EventStreamMessage;
using rein::test::encode_eventstream;

struct Seen {
  std::string message_type, event_type, exception_type, payload;
};

std::vector<Seen> decode(const std::string& bytes, size_t slice, EventStreamDecoder& d) {
  std::vector<Seen> out;
  for (size_t i = 0; i < bytes.size(); i += slice) {
    d.feed(std::string_view(bytes).substr(i, slice), [&](const EventStreamMessage& m) {
      out.push_back({m.message_type, m.event_type, m.exception_type, std::string(m.payload)});
    });
  }
  return out;
}

TEST(ProtoAwsEventStream, DecodesMessagesAtEverySlicing) {
  std::string bytes =
      encode_eventstream({{":message-type", "event"}, {":event-type", "messageStart"}, {":content-type", "application/json"}},
                         "{\"role\":\"assistant\"}") +
      encode_eventstream({{":message-type", "event"}, {":event-type", "metadata"}},
                         "{\"usage\":{\"inputTokens\":5}}");
  for (size_t slice = 1; slice <= bytes.size(); slice += 3) {
    EventStreamDecoder d;
    auto msgs = decode(bytes, slice, d);
    ASSERT_EQ(msgs.size(), 2u) << slice;
    EXPECT_EQ(msgs[0].event_type, "messageStart");
    EXPECT_EQ(msgs[0].payload, "{\"role\":\"assistant\"}");
    EXPECT_EQ(msgs[1].event_type, "metadata");
    EXPECT_FALSE(d.failed());
    EXPECT_FALSE(d.has_partial());
  }
}

TEST(ProtoAwsEventStream, BadMessageCrcDropsOnlyThatMessage) {
  std::string first = encode_eventstream({{":event-type", "a"}}, "{\"x\":1}");
  first[first.size() - 6] ^= 0x40;  // corrupt payload, message CRC no longer matches
  std::string bytes = first + encode_eventstream({{":event-type", "b"}}, "{}");
  EventStreamDecoder d;
  auto msgs = decode(bytes, 5, d);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].event_type, "b");
  EXPECT_EQ(d.stats().bad_crc, 1u);
}

TEST(ProtoAwsEventStream, BadPreludeLosesFraming) {
  std::string bytes = encode_eventstream({{":event-type", "a"}}, "{}");
  bytes[1] ^= 0x01;
  EventStreamDecoder d;
  auto msgs = decode(bytes + encode_eventstream({{":event-type", "b"}}, "{}"), 4, d);
  EXPECT_TRUE(msgs.empty());
  EXPECT_TRUE(d.failed());
}

TEST(ProtoAwsEventStream, OversizedMessageSkippedByLength) {
  std::string big = encode_eventstream({{":event-type", "big"}}, std::string(500, 'p'));
  std::string small = encode_eventstream({{":event-type", "small"}}, "{}");
  EventStreamDecoder d(128);
  auto msgs = decode(big + small, 7, d);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].event_type, "small");
  EXPECT_EQ(d.stats().oversized, 1u);
}

TEST(ProtoAwsEventStream, ExceptionHeaders) {
  std::string bytes = encode_eventstream(
      {{":message-type", "exception"}, {":exception-type", "throttlingException"}}, "{\"message\":\"slow down\"}");
  EventStreamDecoder d;
  auto msgs = decode(bytes, bytes.size(), d);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].message_type, "exception");
  EXPECT_EQ(msgs[0].exception_type, "throttlingException");
}

}  // namespace
