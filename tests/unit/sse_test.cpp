#include "common/fast_find.h"
#include "proto/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using rein::proto::SseEvent;
using rein::proto::SseParser;

std::vector<SseEvent> parse_in_slices(std::string_view body, size_t slice, SseParser* out_parser = nullptr,
                                      size_t max_event = SseParser::kDefaultMaxEventBytes) {
  SseParser p(max_event);
  std::vector<SseEvent> events;
  auto cb = [&](const SseEvent& e) { events.push_back(e); };
  for (size_t i = 0; i < body.size(); i += slice) p.feed(body.substr(i, slice), cb);
  p.finish(cb);
  if (out_parser) *out_parser = p;
  return events;
}

TEST(ProtoSse, EventNamesDataAndIds) {
  const std::string body =
      "event: message_start\ndata: {\"a\":1}\n\n"
      "id: 7\nevent: ping\ndata: {}\n\n";
  auto ev = parse_in_slices(body, body.size());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].event, "message_start");
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[0].id, "");
  EXPECT_EQ(ev[1].event, "ping");
  EXPECT_EQ(ev[1].id, "7");
}

TEST(ProtoSse, MultiLineDataJoinedWithNewline) {
  auto ev = parse_in_slices("data: first\ndata:second\ndata:  third\n\n", 1000);
  ASSERT_EQ(ev.size(), 1u);
  // Only one leading space is stripped.
  EXPECT_EQ(ev[0].data, "first\nsecond\n third");
}

TEST(ProtoSse, CommentsAreCountedNotDelivered) {
  SseParser p;
  std::vector<SseEvent> ev;
  auto cb = [&](const SseEvent& e) { ev.push_back(e); };
  p.feed(": keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: x\n\n", cb);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "x");
  EXPECT_EQ(p.stats().comments, 2u);
}

TEST(ProtoSse, AllLineEndingsAndEverySplitPointAgree) {
  const std::string lf = "event: a\ndata: 1\n\ndata: 2\ndata: 3\n\n";
  const std::string crlf = "event: a\r\ndata: 1\r\n\r\ndata: 2\r\ndata: 3\r\n\r\n";
  const std::string cr = "event: a\rdata: 1\r\rdata: 2\rdata: 3\r\r";
  for (const std::string* body : {&lf, &crlf, &cr}) {
    for (size_t slice = 1; slice <= body->size(); ++slice) {
      auto ev = parse_in_slices(*body, slice);
      ASSERT_EQ(ev.size(), 2u) << "slice " << slice;
      EXPECT_EQ(ev[0].event, "a");
      EXPECT_EQ(ev[0].data, "1");
      EXPECT_EQ(ev[1].event, "");
      EXPECT_EQ(ev[1].data, "2\n3");
    }
  }
}

TEST(ProtoSse, CrLfSplitAcrossFeedsIsOneLineEnd) {
  SseParser p;
  std::vector<SseEvent> ev;
  auto cb = [&](const SseEvent& e) { ev.push_back(e); };
  p.feed("data: a\r", cb);
  p.feed("\n", cb);  // must not count as a second (blank) line
  EXPECT_TRUE(ev.empty());
  p.feed("\r\n", cb);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a");
}

TEST(ProtoSse, FieldWithoutColonAndUnknownFields) {
  auto ev = parse_in_slices("data\nretry: 100\nfoo: bar\n\n", 3);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "");  // "data" alone is an empty data line
}

TEST(ProtoSse, EventWithoutDataIsNotDispatched) {
  auto ev = parse_in_slices("event: lonely\n\ndata: x\n\n", 5);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].event, "");  // the event name was reset by the blank line
}

TEST(ProtoSse, BomStrippedOnlyAtStart) {
  auto ev = parse_in_slices("\xEF\xBB\xBF" "data: a\n\n", 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a");
}

TEST(ProtoSse, FinishFlushesUnterminatedEvent) {
  SseParser p;
  std::vector<SseEvent> ev;
  auto cb = [&](const SseEvent& e) { ev.push_back(e); };
  p.feed("data: {\"done\":true}", cb);
  EXPECT_TRUE(ev.empty());
  p.finish(cb);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "{\"done\":true}");
  EXPECT_EQ(p.stats().unterminated_events, 1u);
}

TEST(ProtoSse, OversizedEventDroppedAndParsingResumes) {
  const size_t max = 64;
  std::string big = "data: " + std::string(200, 'x') + "\n\n";
  std::string many = "data: " + std::string(40, 'y') + "\ndata: " + std::string(40, 'z') + "\n\n";
  std::string body = big + many + "data: ok\n\n";
  for (size_t slice : {size_t{1}, size_t{7}, body.size()}) {
    SseParser p(max);
    std::vector<SseEvent> ev;
    auto cb = [&](const SseEvent& e) { ev.push_back(e); };
    for (size_t i = 0; i < body.size(); i += slice) p.feed(std::string_view(body).substr(i, slice), cb);
    p.finish(cb);
    ASSERT_EQ(ev.size(), 1u) << "slice " << slice;
    EXPECT_EQ(ev[0].data, "ok");
    EXPECT_EQ(p.stats().oversized_events, 2u);
  }
}

TEST(ProtoSse, HostileBinaryNeverCrashes) {
  std::string junk;
  for (int i = 0; i < 5000; ++i) junk.push_back(static_cast<char>((i * 131) & 0xFF));
  auto ev = parse_in_slices(junk, 13, nullptr, 256);
  SUCCEED() << ev.size();
}

}  // namespace

// The 16-byte search for a line end answers as a byte loop, wherever the CR or LF sits
// (block edges, the tail, the start offset) and when there is none.
TEST(Sse, FindLineEndAgreesWithAByteLoop) {
  for (size_t len : {0u, 1u, 15u, 16u, 17u, 31u, 32u, 33u, 100u})
    for (char end : {'\n', '\r'})
      for (size_t at = 0; at <= len; at++)
        for (size_t from : {size_t(0), size_t(1), size_t(15), size_t(16), at}) {
          std::string s(len, 'x');
          if (at < len) s[at] = end;
          size_t want = from;
          while (want < s.size() && s[want] != '\n' && s[want] != '\r') want++;
          if (from > s.size()) continue;
          EXPECT_EQ(rein::find_line_end(s, from), want) << len << " " << at << " " << from;
        }
}
