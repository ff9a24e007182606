#include "proto/http1_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using rein::proto::Http1BodyHint;
using rein::proto::Http1Head;
using rein::proto::Http1Limits;
using rein::proto::Http1Mode;
using rein::proto::Http1Parser;

struct Msg {
  std::string method, target;
  int status = 0;
  std::vector<rein::proto::HttpHeader> headers;
  std::string body;
  std::vector<rein::proto::HttpHeader> trailers;
  uint64_t gap_bytes = 0;
  bool ended = false;
  bool complete = false;
  uint64_t ts_first = 0, ts_head = 0, ts_end = 0;
};

struct Sink : rein::proto::Http1Sink {
  std::vector<Msg> msgs;
  int framing_lost = 0;
  Http1BodyHint hint;  // returned for every response head

  Http1BodyHint on_head(Http1Head& h, uint64_t ts_first, uint64_t ts) override {
    Msg m;
    m.method = h.method;
    m.target = h.target;
    m.status = h.status;
    m.headers = h.headers;
    m.ts_first = ts_first;
    m.ts_head = ts;
    msgs.push_back(std::move(m));
    return hint;
  }
  void on_body(std::span<const uint8_t> d, uint64_t) override {
    msgs.back().body.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_body_gap(uint64_t n, uint64_t) override { msgs.back().gap_bytes += n; }
  void on_trailers(std::vector<rein::proto::HttpHeader>& t) override { msgs.back().trailers = t; }
  void on_message_end(bool complete, uint64_t ts) override {
    EXPECT_FALSE(msgs.back().ended) << "message ended twice";
    msgs.back().ended = true;
    msgs.back().complete = complete;
    msgs.back().ts_end = ts;
  }
  void on_framing_lost(uint64_t) override { framing_lost++; }
};

std::span<const uint8_t> sp(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void feed_bytewise(Http1Parser& p, std::string_view s, uint64_t ts = 0) {
  for (size_t i = 0; i < s.size(); ++i) p.feed(sp(s.substr(i, 1)), ts);
}

const std::string* hdr(const Msg& m, std::string_view name) {
  return rein::proto::find_header(m.headers, name);
}

TEST(ProtoHttp1Parser, RequestWithContentLength) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  p.feed(sp("POST /v1/messages?beta=true HTTP/1.1\r\nHost: api.example.com\r\n"
            "Content-Type: application/json\r\nX-Empty:\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}"),
         5);
  ASSERT_EQ(sink.msgs.size(), 1u);
  const Msg& m = sink.msgs[0];
  EXPECT_EQ(m.method, "POST");
  EXPECT_EQ(m.target, "/v1/messages?beta=true");
  ASSERT_NE(hdr(m, "content-type"), nullptr);
  EXPECT_EQ(*hdr(m, "Content-Type"), "application/json");
  ASSERT_NE(hdr(m, "x-empty"), nullptr);
  EXPECT_EQ(*hdr(m, "x-empty"), "");
  EXPECT_EQ(m.body, "{\"a\":\"bcd\"}");
  EXPECT_TRUE(m.ended);
  EXPECT_TRUE(m.complete);
  EXPECT_FALSE(p.failed());
}

TEST(ProtoHttp1Parser, HeaderNamesLowerCasedValuesTrimmed) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nX-Request-ID: \t abc \t\r\nCONTENT-LENGTH: 0\r\n\r\n"), 1);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_EQ(sink.msgs[0].headers[0].name, "x-request-id");
  EXPECT_EQ(sink.msgs[0].headers[0].value, "abc");
  EXPECT_EQ(sink.msgs[0].status, 200);
  EXPECT_TRUE(sink.msgs[0].complete);
}

TEST(ProtoHttp1Parser, ChunkedWithExtensionsAndTrailers) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "7 ; a=\"q\" ;b\r\n, world\r\n"
      "000A\r\n0123456789\r\n"
      "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
      "HTTP/1.1 204 No Content\r\n\r\n";
  for (int bytewise = 0; bytewise < 2; ++bytewise) {
    Sink sink;
    Http1Parser p(Http1Mode::kResponse, sink);
    if (bytewise) {
      feed_bytewise(p, wire);
    } else {
      p.feed(sp(wire), 0);
    }
    ASSERT_EQ(sink.msgs.size(), 2u);
    EXPECT_EQ(sink.msgs[0].body, "hello, world0123456789");
    EXPECT_TRUE(sink.msgs[0].complete);
    ASSERT_EQ(sink.msgs[0].trailers.size(), 2u);
    EXPECT_EQ(sink.msgs[0].trailers[0].name, "x-checksum");
    EXPECT_EQ(sink.msgs[0].trailers[1].value, "1");
    EXPECT_EQ(sink.msgs[1].status, 204);
    EXPECT_TRUE(sink.msgs[1].complete);
    EXPECT_FALSE(p.failed());
  }
}

TEST(ProtoHttp1Parser, BareLfLineEndingsAndLeadingEmptyLines) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  p.feed(sp("\r\n\r\nGET / HTTP/1.0\nHost: h\n\n\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_EQ(sink.msgs[0].target, "/");
  EXPECT_EQ(sink.msgs[1].target, "/2");
  EXPECT_TRUE(sink.msgs[1].complete);
}

TEST(ProtoHttp1Parser, TimestampsOfHeadBodyAndEnd) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nContent-"), 10);
  p.feed(sp("Length: 4\r\n\r\nab"), 20);
  p.feed(sp("cd"), 30);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_EQ(sink.msgs[0].ts_first, 10u);
  EXPECT_EQ(sink.msgs[0].ts_head, 20u);
  EXPECT_EQ(sink.msgs[0].ts_end, 30u);
}

TEST(ProtoHttp1Parser, InterimResponsesAreSkipped) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
         0);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_EQ(sink.msgs[0].status, 201);
  EXPECT_EQ(sink.msgs[0].body, "ok");
  EXPECT_EQ(p.stats().interim_responses, 2u);
}

TEST(ProtoHttp1Parser, NoBodyForHeadHint204And304) {
  Sink sink;
  sink.hint.no_body = true;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), 0);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_TRUE(sink.msgs[0].complete);
  sink.hint.no_body = false;
  p.feed(sp("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz"),
         0);
  ASSERT_EQ(sink.msgs.size(), 4u);
  EXPECT_EQ(sink.msgs[1].status, 204);
  EXPECT_EQ(sink.msgs[2].status, 304);
  EXPECT_EQ(sink.msgs[3].body, "xyz");
  EXPECT_TRUE(sink.msgs[3].complete);
}

TEST(ProtoHttp1Parser, ResponseWithoutLengthEndsAtClose) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome "), 1);
  p.feed(sp("text"), 2);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_FALSE(sink.msgs[0].ended);
  p.finish(3);
  EXPECT_TRUE(sink.msgs[0].ended);
  EXPECT_TRUE(sink.msgs[0].complete);
  EXPECT_EQ(sink.msgs[0].body, "some text");
  EXPECT_EQ(sink.msgs[0].ts_end, 3u);
}

TEST(ProtoHttp1Parser, TransferEncodingOverridesContentLength) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  p.feed(sp("POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
            "3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n"),
         0);
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_EQ(sink.msgs[0].body, "abc");
  EXPECT_EQ(sink.msgs[1].target, "/next");
}

TEST(ProtoHttp1Parser, CutShortAtFinishIsIncomplete) {
  for (const char* wire : {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345",
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n"}) {
    Sink sink;
    Http1Parser p(Http1Mode::kResponse, sink);
    p.feed(sp(wire), 0);
    p.finish(9);
    ASSERT_EQ(sink.msgs.size(), 1u);
    EXPECT_TRUE(sink.msgs[0].ended);
    EXPECT_FALSE(sink.msgs[0].complete);
    EXPECT_EQ(sink.msgs[0].body, "12345");
  }
}

TEST(ProtoHttp1Parser, Upgrade101StopsParsing) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), 0);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_EQ(sink.msgs[0].status, 101);
  EXPECT_TRUE(p.tunneled());
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(p.stats().ignored_bytes, 7u);
}

TEST(ProtoHttp1Parser, ConnectTunnelHint) {
  Sink sink;
  sink.hint.tunnel = true;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"), 0);
  EXPECT_TRUE(p.tunneled());
  EXPECT_FALSE(p.failed());
}

struct BadCase {
  Http1Mode mode;
  std::string_view wire;
  const char* error;
};

TEST(ProtoHttp1Parser, MalformedInputMarksFailure) {
  using namespace std::string_view_literals;
  const BadCase cases[] = {
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n"sv, "http1: obsolete line folding"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n"sv, "http1: malformed header"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"sv, "http1: malformed header"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv, "http1: control character in header"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"sv, "http1: control character in header"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"sv, "http1: conflicting content-length"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"sv, "http1: malformed content-length"},
      {Http1Mode::kRequest, "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"sv,
       "http1: content-length too large"},
      {Http1Mode::kRequest, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"sv,
       "http1: request transfer-encoding does not end in chunked"},
      {Http1Mode::kRequest, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"sv, "http1: HTTP/2 connection preface"},
      {Http1Mode::kRequest, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"sv, "http1: malformed request line"},
      {Http1Mode::kRequest, "GET /\r\n\r\n"sv, "http1: malformed request line"},
      {Http1Mode::kRequest, "GET / HTTP/1.1 extra\r\n\r\n"sv, "http1: malformed request line"},
      {Http1Mode::kResponse, "HTTP/2 200\r\n\r\n"sv, "http1: malformed status line"},
      {Http1Mode::kResponse, "HTTP/1.1 20 OK\r\n\r\n"sv, "http1: malformed status line"},
      {Http1Mode::kResponse, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"sv,
       "http1: malformed chunk size"},
      {Http1Mode::kResponse, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n"sv,
       "http1: malformed chunk size"},
      {Http1Mode::kResponse, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX"sv,
       "http1: missing CRLF after chunk data"},
      {Http1Mode::kResponse,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n"sv,
       "http1: chunk size too large"},
      {Http1Mode::kResponse,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n"sv,
       "http1: malformed header"},
  };
  for (const auto& c : cases) {
    for (int bytewise = 0; bytewise < 2; ++bytewise) {
      Sink sink;
      Http1Parser p(c.mode, sink);
      if (bytewise) {
        feed_bytewise(p, c.wire);
      } else {
        p.feed(sp(c.wire), 0);
      }
      EXPECT_TRUE(p.failed()) << c.error << " bytewise=" << bytewise;
      EXPECT_EQ(p.error(), c.error) << " bytewise=" << bytewise;
      for (const auto& m : sink.msgs) {
        EXPECT_TRUE(m.ended);
        EXPECT_FALSE(m.complete);
      }
      // Further input is ignored, never parsed.
      p.feed(sp("GET / HTTP/1.1\r\n\r\n"), 0);
      EXPECT_TRUE(p.failed());
    }
  }
}

TEST(ProtoHttp1Parser, HeadBoundsAreEnforced) {
  {
    Sink sink;
    Http1Parser p(Http1Mode::kRequest, sink);
    std::string wire = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 129; ++i) wire += "X-H" + std::to_string(i) + ": v\r\n";
    wire += "\r\n";
    p.feed(sp(wire), 0);
    EXPECT_TRUE(p.failed());
    EXPECT_EQ(p.error(), "http1: too many headers");
  }
  {
    Sink sink;
    Http1Parser p(Http1Mode::kRequest, sink);
    std::string wire = "GET / HTTP/1.1\r\nX-Big: " + std::string(70'000, 'a') + "\r\n\r\n";
    for (size_t i = 0; i < wire.size(); i += 1000) p.feed(sp(std::string_view(wire).substr(i, 1000)), 0);
    EXPECT_TRUE(p.failed());
    EXPECT_EQ(p.error(), "http1: header block too large");
    EXPECT_TRUE(sink.msgs.empty());
  }
  {
    Sink sink;  // exactly 128 headers is fine
    Http1Parser p(Http1Mode::kRequest, sink);
    std::string wire = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 128; ++i) wire += "X-H" + std::to_string(i) + ": v\r\n";
    p.feed(sp(wire + "\r\n"), 0);
    EXPECT_FALSE(p.failed()) << p.error();
    ASSERT_EQ(sink.msgs.size(), 1u);
    EXPECT_EQ(sink.msgs[0].headers.size(), 128u);
  }
}

TEST(ProtoHttp1Parser, GapInsideContentLengthBodyKeepsFraming) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234"), 0);
  p.gap(10, 1);
  p.feed(sp("ABCDE"), 2);
  p.feed(sp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), 3);
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_EQ(sink.msgs[0].body, "01234ABCDE");
  EXPECT_EQ(sink.msgs[0].gap_bytes, 10u);
  EXPECT_FALSE(sink.msgs[0].complete);
  EXPECT_EQ(sink.msgs[1].body, "hi");
  EXPECT_TRUE(sink.msgs[1].complete);
  EXPECT_EQ(sink.framing_lost, 0);
}

TEST(ProtoHttp1Parser, GapEndingExactlyAtBodyEndKeepsFraming) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"), 0);
  p.gap(5, 1);
  p.feed(sp("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), 2);
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_FALSE(sink.msgs[0].complete);
  EXPECT_EQ(sink.msgs[1].status, 404);
  EXPECT_EQ(sink.framing_lost, 0);
}

TEST(ProtoHttp1Parser, GapPastBodyResynchronisesOnNextStatusLine) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123"), 0);
  p.gap(40, 1);  // the rest of the chunked body and the start of the next response
  // Resumes in the middle of the next response's body, then a third response follows right
  // after a body that does not end in a newline.
  p.feed(sp("tail of a body mentioning HTTP/1.1 in prose}HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), 2);
  p.feed(sp("HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nz"), 3);
  ASSERT_EQ(sink.msgs.size(), 3u);
  EXPECT_FALSE(sink.msgs[0].complete);
  EXPECT_EQ(sink.msgs[0].body, "0123");
  EXPECT_EQ(sink.msgs[1].body, "abc");
  EXPECT_TRUE(sink.msgs[1].complete);
  EXPECT_EQ(sink.msgs[2].status, 201);
  EXPECT_EQ(sink.framing_lost, 1);
  EXPECT_FALSE(p.failed());
  EXPECT_GT(p.stats().resync_skipped_bytes, 40u);
}

TEST(ProtoHttp1Parser, ResyncFindsRequestLineAfterGap) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  p.feed(sp("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), 0);
  p.gap(100, 1);
  // Junk, a fake request line without version, then a real request glued to a JSON body.
  p.feed(sp("\"x\":1, see GET /docs and HTTP/1 spec}POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\n"
            "Content-Length: 2\r\n\r\n{}"),
         2);
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_FALSE(sink.msgs[0].complete);
  EXPECT_EQ(sink.msgs[1].method, "POST");
  EXPECT_EQ(sink.msgs[1].target, "/v1/chat/completions");
  EXPECT_EQ(sink.msgs[1].body, "{}");
  EXPECT_TRUE(sink.msgs[1].complete);
}

TEST(ProtoHttp1Parser, ResyncAtExactGapBoundaryAndByteAtATime) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  p.feed(sp("GET /1 HTTP/1.1\r\nHo"), 0);
  p.gap(7, 1);  // the head is lost
  feed_bytewise(p, "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n", 2);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_EQ(sink.msgs[0].target, "/2");
  EXPECT_TRUE(sink.msgs[0].complete);
}

TEST(ProtoHttp1Parser, FalseResyncMatchFallsBackToScanning) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), 0);
  p.gap(50, 1);
  // A status line inside a body followed by a line that is not a header: provisional message
  // fails and scanning goes on instead of marking the connection unparseable.
  p.feed(sp("quoted: HTTP/1.1 500 Oops\r\nthis is not a header\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nq"), 2);
  EXPECT_FALSE(p.failed());
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_EQ(sink.msgs[1].body, "q");
  EXPECT_TRUE(sink.msgs[1].complete);
}

TEST(ProtoHttp1Parser, ResyncIgnoresStatusLineQuotedInJson) {
  Sink sink;
  Http1Parser p(Http1Mode::kResponse, sink);
  p.feed(sp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\ndata: "), 0);
  p.gap(10'000, 1);
  // JSON keeps "\r\n" escaped, so the quoted status line runs on to the SSE line's end and
  // the blank line after it would close a bogus head without the stricter resync check.
  p.feed(sp("data: {\"text\":\"HTTP/1.1 200 OK\\r\\nServer: x\"}\n\ndata: [DONE]\n\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
         2);
  ASSERT_EQ(sink.msgs.size(), 2u);
  EXPECT_EQ(sink.msgs[1].body, "ok");
  EXPECT_TRUE(sink.msgs[1].complete);
}

TEST(ProtoHttp1Parser, ResyncBufferStaysBounded) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  p.feed(sp("GET / HTTP/1.1\r\n"), 0);
  p.gap(1, 1);
  const std::string junk(1 << 16, 'A');
  for (int i = 0; i < 64; ++i) p.feed(sp(junk), 2);
  p.feed(sp("\r\nGET /ok HTTP/1.1\r\n\r\n"), 3);
  ASSERT_EQ(sink.msgs.size(), 1u);
  EXPECT_EQ(sink.msgs[0].target, "/ok");
  EXPECT_GE(p.stats().resync_skipped_bytes, 64u * (1 << 16) - Http1Limits{}.max_resync_line);
}

TEST(ProtoHttp1Parser, PipelinedRequestsInOneSlice) {
  Sink sink;
  Http1Parser p(Http1Mode::kRequest, sink);
  std::string wire;
  for (int i = 0; i < 10; ++i)
    wire += "POST /" + std::to_string(i) + " HTTP/1.1\r\nContent-Length: 1\r\n\r\n" + std::to_string(i);
  p.feed(sp(wire), 0);
  ASSERT_EQ(sink.msgs.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(sink.msgs[i].target, "/" + std::to_string(i));
    EXPECT_EQ(sink.msgs[i].body, std::to_string(i));
  }
}

}  // namespace

// Field lines straight through parse_http1_fields (the head's second pass and trailers): names
// lowercased whatever their length, values trimmed, and each kind of bad line named as before
// the name was read in the same pass as its checks.
TEST(ProtoHttp1Parser, FieldLinesParseAndFailByKind) {
  const std::string long_name(70, 'X');
  std::vector<rein::proto::HttpHeader> out;
  ASSERT_TRUE(rein::proto::parse_http1_fields(
      "Content-Type:  application/json \r\n" + long_name + ":v\r\nA-B:\r\n", 100, out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].name, "content-type");
  EXPECT_EQ(out[0].value, "application/json");
  EXPECT_EQ(out[1].name, std::string(70, 'x'));
  EXPECT_EQ(out[1].value, "v");
  EXPECT_EQ(out[2].name, "a-b");
  EXPECT_EQ(out[2].value, "");
  using namespace std::string_literals;
  const std::pair<std::string, const char*> bad[] = {
      {"X: a\rb", "http1: control character in header"},
      {"X: a\0b"s, "http1: control character in header"},
      {"Bad\0Name: x"s, "http1: control character in header"},
      {"No colon here", "http1: control character in header"},  // its CR, below
      {" folded", "http1: obsolete line folding"},
      {"NoColon", "http1: malformed header"},
      {": empty name", "http1: malformed header"},
      {"Bad Name: x", "http1: malformed header name"},
      {long_name + " x: y", "http1: malformed header name"},
      {long_name + ": a\rb", "http1: control character in header"},
      {long_name, "http1: malformed header"},
  };
  for (const auto& [line, want] : bad) {
    std::vector<rein::proto::HttpHeader> h;
    // "No colon here" alone has no CR: the one case written with a CR inside the line
    const std::string block = line == "No colon here" ? "No colon\rhere\r\n" : line + "\r\n";
    auto r = rein::proto::parse_http1_fields(block, 100, h);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().message, want) << line;
  }
  std::vector<rein::proto::HttpHeader> h;
  auto r = rein::proto::parse_http1_fields("A: 1\r\nB: 2\r\nC: 3\r\n", 2, h);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "http1: too many headers");
}
