#include "proto/http1_connection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "compression_test_util.h"

namespace {

using rein::proto::Http1Connection;
using rein::proto::Http1ConnectionLimits;
using rein::proto::HttpExchange;
using rein::proto::ResponseBodyChunk;
using namespace rein::testutil;

std::string fmt_hex(size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), kDigits[n % 16]);
    n /= 16;
  } while (n);
  return s;
}

constexpr int kReq = Http1Connection::kClientToServer;
constexpr int kResp = Http1Connection::kServerToClient;

// Feeds each direction with its own running offset, like the kernel would.
struct Harness {
  std::vector<HttpExchange> out;
  std::vector<uint64_t> seqs;
  Http1Connection conn;
  uint64_t off[2] = {0, 0};

  explicit Harness(Http1ConnectionLimits lim = {})
      : conn([this](HttpExchange&& ex, uint64_t seq) {
          out.push_back(std::move(ex));
          seqs.push_back(seq);
        },
             lim) {}

  void send(int dir, std::string_view s, uint64_t ts) {
    conn.feed(dir, off[dir], bytes(s), ts);
    off[dir] += s.size();
  }
  void lose(int dir, size_t n) { off[dir] += n; }  // bytes the kernel never delivered
};

std::string response(std::string_view body, std::string_view extra_headers = "") {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string request(std::string_view target, std::string_view body = "",
                    std::string_view method = "POST") {
  std::string r = std::string(method) + " " + std::string(target) +
                  " HTTP/1.1\r\nHost: API.Example.com:443\r\nAuthorization: Bearer sk-test\r\n";
  if (!body.empty() || method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + std::string(body);
}

TEST(ProtoHttp1Connection, SimpleExchangeFields) {
  Harness h;
  h.send(kReq, "POST /v1/messages HTTP/1.1\r\nHost: API.Anthropic.com:443\r\n", 100);
  h.send(kReq, "Content-Length: 2\r\n\r\n{}", 110);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200);
  EXPECT_TRUE(h.out.empty());
  h.send(kResp, "he", 210);
  h.send(kResp, "llo", 220);
  ASSERT_EQ(h.out.size(), 1u);
  const HttpExchange& ex = h.out[0];
  EXPECT_EQ(ex.request.method, "POST");
  EXPECT_EQ(ex.request.target, "/v1/messages");
  EXPECT_EQ(ex.request.host, "api.anthropic.com");
  EXPECT_EQ(ex.request.body, "{}");
  EXPECT_FALSE(ex.request.body_truncated);
  EXPECT_EQ(ex.request.ts_start_ns, 100u);
  EXPECT_EQ(ex.request.ts_end_ns, 110u);
  ASSERT_TRUE(ex.response.has_value());
  EXPECT_EQ(ex.response->status, 200);
  EXPECT_EQ(ex.response->body, "hello");
  EXPECT_TRUE(ex.response->complete);
  EXPECT_EQ(ex.response->ts_first_byte_ns, 200u);
  EXPECT_EQ(ex.response->ts_first_body_ns, 210u);
  EXPECT_EQ(ex.response->ts_end_ns, 220u);
  EXPECT_EQ(ex.response->decode_error, "");
  EXPECT_FALSE(h.conn.unparseable());
  h.conn.close(300);
  EXPECT_EQ(h.out.size(), 1u);
}

// A chunked message's trailer fields join its headers (as HTTP/2's trailers do): a proxy
// may send what it knows only at the end (usage, cost, a status) there.
TEST(ProtoHttp1Connection, TrailersJoinTheirMessagesHeaders) {
  Harness h;
  h.send(kReq, "POST /v1/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\n{}\r\n0\r\nx-req-trailer: a\r\n\r\n", 100);
  h.send(kResp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-litellm-response-cost\r\n\r\n"
                "5\r\nhello\r\n0\r\nx-litellm-response-cost: 0.25\r\nx-two: b\r\n\r\n", 200);
  ASSERT_EQ(h.out.size(), 1u);
  const HttpExchange& ex = h.out[0];
  EXPECT_EQ(ex.request.body, "{}");
  const std::string* rt = rein::proto::find_header(ex.request.headers, "x-req-trailer");
  ASSERT_NE(rt, nullptr);
  EXPECT_EQ(*rt, "a");
  ASSERT_TRUE(ex.response.has_value());
  EXPECT_EQ(ex.response->body, "hello");
  const std::string* cost = rein::proto::find_header(ex.response->headers, "x-litellm-response-cost");
  ASSERT_NE(cost, nullptr);
  EXPECT_EQ(*cost, "0.25");
  EXPECT_NE(rein::proto::find_header(ex.response->headers, "x-two"), nullptr);
}

TEST(ProtoHttp1Connection, HostFromAbsoluteTargetAndIpv6) {
  Harness h;
  h.send(kReq, "GET http://user@Proxy.Example:8080/x HTTP/1.1\r\n\r\n", 1);
  h.send(kReq, "GET / HTTP/1.1\r\nHost: [::1]:11434\r\n\r\n", 2);
  h.conn.close(3);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].request.host, "proxy.example");
  EXPECT_EQ(h.out[1].request.host, "[::1]");
}

// The same exchange split into two slices at every possible position (both directions),
// and byte-at-a-time: the result must not depend on where the slices fall.
TEST(ProtoHttp1Connection, SplitAtEveryBytePosition) {
  const std::string req =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\n"
      "Content-Length: 26\r\n\r\n{\"model\":\"gpt\",\"stream\":1}";
  const std::string resp =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n"
      "7;ext=1\r\ndata: 1\r\n6\r\n\ndata:\r\n3\r\n 2\n\r\n0\r\nTrailer: t\r\n\r\n";
  ASSERT_EQ(req.size() - req.find("\r\n\r\n") - 4, 26u);
  auto check = [&](const Harness& h, const std::string& what) {
    ASSERT_EQ(h.out.size(), 1u) << what;
    const auto& ex = h.out[0];
    EXPECT_EQ(ex.request.body, "{\"model\":\"gpt\",\"stream\":1}") << what;
    ASSERT_TRUE(ex.response.has_value()) << what;
    EXPECT_EQ(ex.response->status, 200) << what;
    EXPECT_EQ(ex.response->body, "data: 1\ndata: 2\n") << what;
    EXPECT_TRUE(ex.response->complete) << what;
    ASSERT_EQ(ex.response->headers.size(), 3u) << what;  // the trailer joins them
    EXPECT_EQ(ex.response->headers[1].value, "b") << what;
    EXPECT_EQ(ex.response->headers[2].value, "t") << what;
  };
  for (size_t i = 0; i <= req.size(); ++i) {
    Harness h;
    h.send(kReq, std::string_view(req).substr(0, i), 1);
    h.send(kReq, std::string_view(req).substr(i), 2);
    h.send(kResp, resp, 3);
    h.conn.close(4);
    check(h, "request split at " + std::to_string(i));
  }
  for (size_t i = 0; i <= resp.size(); ++i) {
    Harness h;
    h.send(kReq, req, 1);
    h.send(kResp, std::string_view(resp).substr(0, i), 2);
    h.send(kResp, std::string_view(resp).substr(i), 3);
    h.conn.close(4);
    check(h, "response split at " + std::to_string(i));
  }
  Harness h;
  for (char c : req) h.send(kReq, std::string_view(&c, 1), 1);
  for (char c : resp) h.send(kResp, std::string_view(&c, 1), 2);
  h.conn.close(3);
  check(h, "byte at a time");
}

TEST(ProtoHttp1Connection, KeepAliveFiftyExchanges) {
  Harness h;
  for (int i = 0; i < 50; ++i) {
    const uint64_t ts = 1000 * static_cast<uint64_t>(i);
    h.send(kReq, request("/r" + std::to_string(i), "{\"i\":" + std::to_string(i) + "}"), ts);
    if (i % 2) {
      h.send(kResp, response("resp" + std::to_string(i)), ts + 500);
    } else {
      const std::string body = "chunked" + std::to_string(i);
      h.send(kResp,
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                 fmt_hex(body.size()) + "\r\n" + body + "\r\n0\r\n\r\n",
             ts + 500);
    }
    ASSERT_EQ(h.out.size(), static_cast<size_t>(i + 1)) << "exchange " << i;
  }
  h.conn.close(1'000'000);
  ASSERT_EQ(h.out.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    const auto& ex = h.out[i];
    EXPECT_EQ(ex.request.target, "/r" + std::to_string(i));
    EXPECT_EQ(ex.request.body, "{\"i\":" + std::to_string(i) + "}");
    ASSERT_TRUE(ex.response.has_value());
    EXPECT_EQ(ex.response->body, (i % 2 ? "resp" : "chunked") + std::to_string(i));
    EXPECT_TRUE(ex.response->complete);
    EXPECT_EQ(h.seqs[i], static_cast<uint64_t>(i));
  }
  EXPECT_EQ(h.conn.stats().exchanges, 50u);
  EXPECT_EQ(h.conn.stats().unanswered_requests, 0u);
}

TEST(ProtoHttp1Connection, PipelinedRequestsPairInOrder) {
  Harness h;
  std::string reqs;
  for (int i = 0; i < 5; ++i) reqs += request("/p" + std::to_string(i), std::to_string(i));
  h.send(kReq, reqs, 10);
  EXPECT_TRUE(h.out.empty());
  std::string resps;
  for (int i = 0; i < 5; ++i) resps += response("answer" + std::to_string(i));
  h.send(kResp, resps, 20);
  ASSERT_EQ(h.out.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(h.out[i].request.target, "/p" + std::to_string(i));
    EXPECT_EQ(h.out[i].response->body, "answer" + std::to_string(i));
  }
}

TEST(ProtoHttp1Connection, HeadAnd204And304HaveNoBody) {
  Harness h;
  h.send(kReq, request("/head", "", "HEAD"), 1);
  h.send(kReq, request("/nc", "", "DELETE"), 1);
  h.send(kReq, request("/nm", "", "GET"), 1);
  h.send(kReq, request("/after", "", "GET"), 1);
  // The HEAD response announces a length it does not send; 204/304 likewise.
  h.send(kResp,
         "HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n"
         "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n" +
             response("final"),
         2);
  ASSERT_EQ(h.out.size(), 4u);
  EXPECT_EQ(h.out[0].response->status, 200);
  EXPECT_EQ(h.out[0].response->body, "");
  EXPECT_TRUE(h.out[0].response->complete);
  EXPECT_EQ(h.out[1].response->status, 204);
  EXPECT_EQ(h.out[2].response->status, 304);
  EXPECT_EQ(h.out[3].request.target, "/after");
  EXPECT_EQ(h.out[3].response->body, "final");
}

TEST(ProtoHttp1Connection, ExpectContinue) {
  Harness h;
  h.send(kReq, "POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 1);
  h.send(kResp, "HTTP/1.1 100 Continue\r\n\r\n", 2);
  h.send(kReq, "data", 3);
  h.send(kResp, response("stored"), 4);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.body, "data");
  EXPECT_EQ(h.out[0].response->status, 200);
  EXPECT_EQ(h.out[0].response->body, "stored");
  EXPECT_EQ(h.out[0].response->ts_first_byte_ns, 4u);  // the final response, not the 100
}

TEST(ProtoHttp1Connection, CompressedResponseBodies) {
  const std::string body = "{\"usage\":{\"input_tokens\":10,\"output_tokens\":20}," + sample_text(20'000) + "}";
  const std::pair<const char*, std::string> cases[] = {
      {"gzip", gzip(body)},           {"deflate", zlib_wrap(body)}, {"deflate", raw_deflate(body)},
      {"br", brotli(body)},           {"zstd", zstd(body)},         {"gzip, br", brotli(gzip(body))},
      {"identity", body},
  };
  for (const auto& [coding, encoded] : cases) {
    Harness h;
    h.send(kReq, request("/c"), 1);
    std::string wire = "HTTP/1.1 200 OK\r\nContent-Encoding: " + std::string(coding) +
                       "\r\nContent-Length: " + std::to_string(encoded.size()) + "\r\n\r\n" + encoded;
    for (size_t i = 0; i < wire.size(); i += 333) h.send(kResp, std::string_view(wire).substr(i, 333), 2);
    ASSERT_EQ(h.out.size(), 1u) << coding;
    EXPECT_TRUE(h.out[0].response->body == body) << coding;
    EXPECT_EQ(h.out[0].response->decode_error, "") << coding;
    EXPECT_FALSE(h.out[0].response->body_truncated) << coding;
  }
}

TEST(ProtoHttp1Connection, GzipChunkedAndTransferCodedBodies) {
  const std::string body = sample_text(5000, 4);
  const std::string gz = gzip(body);
  Harness h;
  h.send(kReq, request("/1"), 1);
  h.send(kReq, request("/2"), 1);
  std::string chunked;
  for (size_t i = 0; i < gz.size(); i += 700) {
    const std::string piece = gz.substr(i, 700);
    chunked += fmt_hex(piece.size()) + "\r\n" + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, 2);
  // gzip as a transfer coding (applied before chunked) is undone too.
  h.send(kResp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + chunked, 3);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_TRUE(h.out[0].response->body == body);
  EXPECT_TRUE(h.out[1].response->body == body);
}

TEST(ProtoHttp1Connection, CompressedRequestBody) {
  const std::string body = "{\"model\":\"m\",\"messages\":[" + sample_text(3000) + "]}";
  const std::string gz = gzip(body);
  Harness h;
  h.send(kReq, "POST /v1 HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: " +
                   std::to_string(gz.size()) + "\r\n\r\n" + gz,
         1);
  h.send(kResp, response("ok"), 2);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_TRUE(h.out[0].request.body == body);
  EXPECT_FALSE(h.out[0].request.body_truncated);
}

TEST(ProtoHttp1Connection, ZipBombIsBoundedAndNextExchangeIntact) {
  const std::string bomb = gzip_zeros(size_t{100} << 20);
  Harness h;
  h.send(kReq, request("/bomb"), 1);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
                    std::to_string(bomb.size()) + "\r\n\r\n",
         2);
  for (size_t i = 0; i < bomb.size(); i += 16384) h.send(kResp, std::string_view(bomb).substr(i, 16384), 3);
  h.send(kReq, request("/next"), 4);
  h.send(kResp, response("fine"), 5);
  ASSERT_EQ(h.out.size(), 2u);
  const auto& r = *h.out[0].response;
  EXPECT_EQ(r.body.size(), size_t{16} << 20);
  EXPECT_TRUE(r.body_truncated);
  EXPECT_EQ(r.decode_error, "decompression bound");
  EXPECT_TRUE(r.complete);  // framing saw the whole body
  EXPECT_EQ(h.out[1].request.target, "/next");
  EXPECT_EQ(h.out[1].response->body, "fine");
}

TEST(ProtoHttp1Connection, HugeBodyIsCappedButFramingContinues) {
  const size_t total = size_t{50} << 20;
  const std::string block(1 << 16, 'x');
  for (int chunked = 0; chunked < 2; ++chunked) {
    Harness h;
    h.send(kReq, request("/big"), 1);
    if (chunked) {
      h.send(kResp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 2);
      for (size_t sent = 0; sent < total; sent += block.size())
        h.send(kResp, fmt_hex(block.size()) + "\r\n" + block + "\r\n", 3);
      h.send(kResp, "0\r\n\r\n", 3);
    } else {
      h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n", 2);
      for (size_t sent = 0; sent < total; sent += block.size()) h.send(kResp, block, 3);
    }
    h.send(kReq, request("/small"), 4);
    h.send(kResp, response("small body"), 5);
    ASSERT_EQ(h.out.size(), 2u) << chunked;
    EXPECT_EQ(h.out[0].response->body.size(), size_t{16} << 20);
    EXPECT_TRUE(h.out[0].response->body_truncated);
    EXPECT_EQ(h.out[0].response->decode_error, "");
    EXPECT_TRUE(h.out[0].response->complete);
    EXPECT_EQ(h.out[1].response->body, "small body");
    EXPECT_FALSE(h.out[1].response->body_truncated);
  }
}

TEST(ProtoHttp1Connection, ResponseCutShortByClose) {
  Harness h;
  h.send(kReq, request("/cut"), 1);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", 2);
  EXPECT_TRUE(h.out.empty());
  h.conn.close(9);
  ASSERT_EQ(h.out.size(), 1u);
  ASSERT_TRUE(h.out[0].response.has_value());
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(h.out[0].response->body, "partial");
  EXPECT_EQ(h.out[0].response->ts_end_ns, 9u);
  // Feeding after close is ignored.
  h.send(kResp, "more", 10);
  EXPECT_EQ(h.conn.stats().ignored_after_close, 4u);
}

TEST(ProtoHttp1Connection, ReadUntilCloseResponseIsComplete) {
  Harness h;
  h.send(kReq, request("/stream"), 1);
  h.send(kResp, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of ", 2);
  h.send(kResp, "it", 3);
  h.conn.close(4);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_TRUE(h.out[0].response->complete);
  EXPECT_EQ(h.out[0].response->body, "all of it");
}

TEST(ProtoHttp1Connection, RequestWithoutResponseAtClose) {
  Harness h;
  h.send(kReq, request("/a", "x"), 1);
  h.send(kResp, response("A"), 2);
  h.send(kReq, request("/b", "y"), 3);
  h.send(kReq, "POST /c HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 4);
  h.conn.close(5);
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_TRUE(h.out[0].response.has_value());
  EXPECT_EQ(h.out[1].request.target, "/b");
  EXPECT_FALSE(h.out[1].response.has_value());
  EXPECT_FALSE(h.out[1].request.body_truncated);
  EXPECT_EQ(h.out[2].request.body, "abc");
  EXPECT_TRUE(h.out[2].request.body_truncated);
  EXPECT_FALSE(h.out[2].response.has_value());
  EXPECT_EQ(h.conn.stats().unanswered_requests, 2u);
}

TEST(ProtoHttp1Connection, GapInResponseThenNextExchangeRecovered) {
  Harness h;
  h.send(kReq, request("/1"), 10);
  h.send(kResp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123456789", 20);
  h.lose(kResp, 100);  // the rest of this body and its terminator never arrive
  h.send(kReq, request("/2"), 30);
  h.send(kResp, "garbage tail\r\n0\r\n\r\n", 35);  // arrives after the hole: held, then flushed
  h.send(kResp, response("second"), 40);
  EXPECT_TRUE(h.out.empty());  // waiting for the hole to fill
  h.conn.expire(35 + 999'999'999);
  EXPECT_TRUE(h.out.empty());
  h.conn.expire(35 + 1'000'000'000);  // the held chunk from t=35 has waited a second
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].request.target, "/1");
  ASSERT_TRUE(h.out[0].response.has_value());
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(h.out[0].response->body, "0123456789");
  EXPECT_EQ(h.out[1].request.target, "/2");
  ASSERT_TRUE(h.out[1].response.has_value());
  EXPECT_EQ(h.out[1].response->body, "second");
  EXPECT_TRUE(h.out[1].response->complete);
  EXPECT_EQ(h.conn.reassembly_stats(kResp).gaps, 1u);
  EXPECT_EQ(h.conn.reassembly_stats(kResp).gap_bytes, 100u);
  h.conn.close(2'000'000'000);
  EXPECT_EQ(h.out.size(), 2u);
}

// Hooks attached while a client waited for a response: its head was read unseen, so the
// first bytes of the response direction are the rest of a body. Later exchanges decode.
TEST(ProtoHttp1Connection, JoinedInsideAResponseBodyRecoversAtTheNextExchange) {
  Http1ConnectionLimits lim;
  lim.anchor_at_first_chunk = true;
  Harness h(lim);
  h.send(kResp, R"({"id":"msg_1","usage":{"input_tokens":5}})", 10);
  h.send(kReq, request("/2", "{}"), 20);
  h.send(kResp, response("second"), 30);
  h.send(kReq, request("/3", "{}"), 40);
  h.send(kResp, response("third"), 50);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_FALSE(h.conn.unparseable());
  EXPECT_EQ(h.out[0].request.target, "/2");
  ASSERT_TRUE(h.out[0].response.has_value());
  EXPECT_EQ(h.out[0].response->body, "second");
  EXPECT_TRUE(h.out[0].response->complete);
  EXPECT_EQ(h.out[1].request.target, "/3");
  ASSERT_TRUE(h.out[1].response.has_value());
  EXPECT_EQ(h.out[1].response->body, "third");
  EXPECT_EQ(h.conn.parser_stats(kResp).resync_skipped_bytes, 41u);
}

// The request's head went out before the hooks, its body after: the body is skipped, its
// response is delivered without a request, and the next exchange pairs normally.
TEST(ProtoHttp1Connection, JoinedInsideARequestBodyRecoversAtTheNextExchange) {
  Http1ConnectionLimits lim;
  lim.anchor_at_first_chunk = true;
  Harness h(lim);
  h.send(kReq, R"({"model":"m","messages":[]})", 10);
  h.send(kResp, response("first"), 20);
  h.send(kReq, request("/2", "{}"), 30);
  h.send(kResp, response("second"), 40);
  h.conn.close(50);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_FALSE(h.conn.unparseable());
  EXPECT_EQ(h.out[0].request.method, "");
  ASSERT_TRUE(h.out[0].response.has_value());
  EXPECT_EQ(h.out[0].response->body, "first");
  EXPECT_EQ(h.out[1].request.target, "/2");
  ASSERT_TRUE(h.out[1].response.has_value());
  EXPECT_EQ(h.out[1].response->body, "second");
}

// Joined late but exactly at a message boundary: nothing is lost to the scan.
TEST(ProtoHttp1Connection, JoinedAtAMessageStartLosesNothing) {
  Http1ConnectionLimits lim;
  lim.anchor_at_first_chunk = true;
  Harness h(lim);
  h.off[kReq] = 700;
  h.off[kResp] = 900;
  h.send(kReq, request("/1", "{}"), 10);
  h.send(kResp, response("one"), 20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.target, "/1");
  ASSERT_TRUE(h.out[0].response.has_value());
  EXPECT_EQ(h.out[0].response->body, "one");
  EXPECT_EQ(h.conn.parser_stats(kResp).resync_skipped_bytes, 0u);
}

TEST(ProtoHttp1Connection, GapSwallowingAWholeResponsePairsByTime) {
  // Sequential keep-alive: response 2 vanishes together with the end of response 1. The
  // next response seen must pair with request 3, not request 2.
  Http1ConnectionLimits lim;
  lim.reassembly.max_pending_chunks = 1;  // give up on holes right away
  Harness h(lim);
  h.send(kReq, request("/1"), 10);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", 11);
  h.lose(kResp, 5 + response("two").size());
  h.send(kReq, request("/2"), 20);
  h.send(kReq, request("/3"), 30);
  h.send(kResp, response("three"), 31);
  EXPECT_EQ(h.out.size(), 0u);  // held behind the hole
  h.send(kReq, request("/4", "", "GET"), 33);
  h.send(kResp, "HTTP/1.1 204 No Content\r\n\r\n", 34);  // second held chunk: hole given up
  EXPECT_EQ(h.conn.reassembly_stats(kResp).gaps, 1u);
  ASSERT_EQ(h.out.size(), 4u);
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  EXPECT_EQ(h.out[0].request.target, "/1");
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(h.out[1].request.target, "/2");
  EXPECT_FALSE(h.out[1].response.has_value());
  EXPECT_EQ(h.out[2].request.target, "/3");
  ASSERT_TRUE(h.out[2].response.has_value());
  EXPECT_EQ(h.out[2].response->body, "three");
  EXPECT_EQ(h.out[3].request.target, "/4");
  EXPECT_EQ(h.out[3].response->status, 204);
}

TEST(ProtoHttp1Connection, GapInRequestBodyKeepsPairing) {
  Harness h;
  h.send(kReq, "POST /x HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123456789", 1);
  h.lose(kReq, 5);
  h.send(kReq, "ABCDE", 2);
  h.send(kResp, response("r1"), 3);
  h.send(kReq, request("/y"), 4);
  h.send(kResp, response("r2"), 5);
  h.conn.close(6);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].request.body, "0123456789ABCDE");
  EXPECT_TRUE(h.out[0].request.body_truncated);
  EXPECT_EQ(h.out[0].response->body, "r1");
  EXPECT_EQ(h.out[1].request.target, "/y");
  EXPECT_EQ(h.out[1].response->body, "r2");
}

TEST(ProtoHttp1Connection, GapInCompressedBodyStopsDecoding) {
  const std::string gz = gzip(sample_text(20'000));
  Harness h;
  h.send(kReq, request("/g"), 1);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
                    std::to_string(gz.size()) + "\r\n\r\n" + gz.substr(0, 100),
         2);
  h.lose(kResp, 50);
  h.send(kResp, std::string_view(gz).substr(150), 3);
  EXPECT_TRUE(h.out.empty());  // held behind the hole until the bound or close gives it up
  h.conn.close(4);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(h.out[0].response->decode_error, "gap in encoded body");
}

TEST(ProtoHttp1Connection, OutOfOrderChunksAreReassembled) {
  const std::string req = request("/ooo", "{\"k\":\"v\"}");
  const std::string resp = response(sample_text(3000, 5));
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    Harness h;
    struct Piece {
      int dir;
      uint64_t off;
      std::string data;
    };
    std::vector<Piece> pieces;
    for (int dir : {kReq, kResp}) {
      const std::string& s = dir == kReq ? req : resp;
      for (size_t i = 0; i < s.size();) {
        const size_t n = std::min<size_t>(1 + rng() % 300, s.size() - i);
        pieces.push_back({dir, i, s.substr(i, n)});
        i += n;
      }
    }
    std::shuffle(pieces.begin(), pieces.end(), rng);
    for (const auto& p : pieces) h.conn.feed(p.dir, p.off, bytes(p.data), 5);
    h.conn.close(9);
    ASSERT_EQ(h.out.size(), 1u) << round;
    EXPECT_EQ(h.out[0].request.body, "{\"k\":\"v\"}");
    ASSERT_TRUE(h.out[0].response.has_value());
    EXPECT_TRUE(h.out[0].response->body == sample_text(3000, 5));
    EXPECT_TRUE(h.out[0].response->complete);
  }
}

TEST(ProtoHttp1Connection, StreamingHookSeesDecodedChunksWithTimestamps) {
  const std::string events = "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n";
  Harness h;
  std::string seen;
  std::vector<uint64_t> ts;
  std::vector<uint64_t> seqs;
  h.conn.set_response_body_handler([&](const ResponseBodyChunk& c) {
    seen.append(c.data);
    ts.push_back(c.ts_ns);
    seqs.push_back(c.exchange_seq);
    EXPECT_EQ(c.request.target, "/sse");
    EXPECT_EQ(c.response.status, 200);
    EXPECT_TRUE(c.response.body.size() >= c.data.size());
  });
  h.send(kReq, request("/sse"), 1);
  // Compressed and chunked, one SSE event per chunk, each arriving at its own time.
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
                "Transfer-Encoding: chunked\r\n\r\n",
         10);
  size_t pos = 0;
  uint64_t t = 20;
  while (pos < events.size()) {
    const size_t end = events.find("\n\n", pos) + 2;
    std::string piece = events.substr(pos, end - pos);
    std::string out(1024, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(piece.data());
    zs.avail_in = static_cast<uInt>(piece.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    ASSERT_EQ(deflate(&zs, end == events.size() ? Z_FINISH : Z_SYNC_FLUSH),
              end == events.size() ? Z_STREAM_END : Z_OK);
    out.resize(out.size() - zs.avail_out);
    h.send(kResp, fmt_hex(out.size()) + "\r\n" + out + "\r\n", t);
    t += 10;
    pos = end;
  }
  deflateEnd(&zs);
  h.send(kResp, "0\r\n\r\n", t);
  EXPECT_EQ(seen, events);
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts, (std::vector<uint64_t>{20, 30, 40}));
  EXPECT_EQ(seqs, (std::vector<uint64_t>{0, 0, 0}));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.seqs[0], 0u);
  EXPECT_EQ(h.out[0].response->ts_first_body_ns, 20u);
  EXPECT_EQ(h.out[0].response->body, events);
}

TEST(ProtoHttp1Connection, GarbageMarksUnparseableWithoutCrashing) {
  Harness h;
  h.send(kReq, "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 random TLS bytes\r\n", 1);
  h.send(kResp, "not http at all\r\n\r\n", 2);
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(), "request: http1: malformed request line");
  h.conn.close(3);
  EXPECT_TRUE(h.out.empty());
}

TEST(ProtoHttp1Connection, UpgradeStopsBothDirections) {
  Harness h;
  h.send(kReq, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1);
  h.send(kResp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", 2);
  h.send(kReq, "\x81\x82\x00\x00\x00\x00hi", 3);  // websocket frame: not a request
  h.conn.close(4);
  EXPECT_TRUE(h.conn.tunneled());
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].response->status, 101);
}

TEST(ProtoHttp1Connection, ConnectTunnel) {
  Harness h;
  h.send(kReq, "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n", 1);
  h.send(kResp, "HTTP/1.1 200 Connection Established\r\n\r\n", 2);
  h.send(kReq, "\x16\x03\x01\x02\x00", 3);
  h.send(kResp, "\x16\x03\x03\x00\x7a", 4);
  h.conn.close(5);
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  EXPECT_TRUE(h.conn.tunneled());
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.host, "api.openai.com");
}

TEST(ProtoHttp1Connection, ResponseWithoutAnyRequestIsOrphan) {
  Harness h;
  h.send(kResp, response("lonely"), 3);
  EXPECT_TRUE(h.out.empty());  // a late request could still claim it
  // A request that started after the orphan cannot be its request: the orphan goes out
  // alone and the request pairs with its own response.
  h.send(kReq, request("/later"), 5);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.method, "");
  EXPECT_EQ(h.out[0].response->body, "lonely");
  EXPECT_EQ(h.conn.stats().orphan_responses, 1u);
  h.send(kResp, response("mine"), 6);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].request.target, "/later");
  EXPECT_EQ(h.out[1].response->body, "mine");
}

TEST(ProtoHttp1Connection, ResponseParsedBeforeItsRequestIsAdopted) {
  // Per-CPU buffers can hand us the response before the request that caused it; the
  // timestamps still tell the order.
  Harness h;
  h.send(kResp, response("first answer"), 20);
  h.send(kResp, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsec", 40);
  h.send(kReq, request("/1", "a"), 10);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.target, "/1");
  EXPECT_EQ(h.out[0].response->body, "first answer");
  h.send(kReq, request("/2", "b"), 30);
  h.send(kResp, "ond", 41);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].request.target, "/2");
  EXPECT_EQ(h.out[1].response->body, "second");
  EXPECT_EQ(h.conn.stats().orphan_responses, 0u);
  h.conn.close(50);
  EXPECT_EQ(h.out.size(), 2u);
}

TEST(ProtoHttp1Connection, TooManyOrphansAreBounded) {
  Harness h;
  for (int i = 0; i < 20; ++i) h.send(kResp, response("o" + std::to_string(i)), 100 + i);
  EXPECT_EQ(h.out.size(), 12u);  // at most 8 wait for a request
  h.conn.close(200);
  ASSERT_EQ(h.out.size(), 20u);
  EXPECT_EQ(h.conn.stats().orphan_responses, 20u);
}

TEST(ProtoHttp1Connection, PendingRequestsAreBounded) {
  Http1ConnectionLimits lim;
  lim.max_pending_exchanges = 4;
  Harness h(lim);
  for (int i = 0; i < 10; ++i) h.send(kReq, request("/q" + std::to_string(i)), 1);
  EXPECT_EQ(h.out.size(), 6u);
  EXPECT_EQ(h.conn.stats().evicted_requests, 6u);
  EXPECT_EQ(h.out[0].request.target, "/q0");
  EXPECT_FALSE(h.out[0].response.has_value());
  h.conn.close(2);
  EXPECT_EQ(h.out.size(), 10u);
}

TEST(ProtoHttp1Connection, LooksLikeHttpRequest) {
  using rein::proto::looks_like_http_request;
  using rein::proto::looks_like_http_response;
  EXPECT_TRUE(looks_like_http_request(bytes("POST /v1/messages HTTP/1.1\r\nHost: x\r\n")));
  EXPECT_TRUE(looks_like_http_request(bytes("GET /")));
  EXPECT_TRUE(looks_like_http_request(bytes("CONNECT api.x.com:443 HTTP/1.1\r\n")));
  EXPECT_TRUE(looks_like_http_request(bytes("OPTIONS * HTTP/1.1\r\n")));
  EXPECT_TRUE(looks_like_http_request(bytes("GET http://x/ HTTP/1.0\r\n")));
  EXPECT_FALSE(looks_like_http_request(bytes("GET / HTTP/2.0\r\n")));
  EXPECT_FALSE(looks_like_http_request(bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")));
  EXPECT_FALSE(looks_like_http_request(bytes("\x16\x03\x01\x00")));
  EXPECT_FALSE(looks_like_http_request(bytes("GET")));
  EXPECT_FALSE(looks_like_http_request(bytes("GET  /")));
  EXPECT_FALSE(looks_like_http_request(bytes("get / HTTP/1.1\r\n")));
  EXPECT_FALSE(looks_like_http_request(bytes("")));
  EXPECT_TRUE(looks_like_http_response(bytes("HTTP/1.1 200 OK\r\n")));
  EXPECT_TRUE(looks_like_http_response(bytes("HTT")));
  EXPECT_FALSE(looks_like_http_response(bytes("HTTP/2 200")));
  EXPECT_FALSE(looks_like_http_response(bytes("")));
}

}  // namespace
