#include "proto/http2_connection.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compression_test_util.h"
#include "proto/http2_frames.h"

namespace {

using rein::proto::Http2Connection;
using rein::proto::Http2ConnectionLimits;
using rein::proto::HttpExchange;
using rein::proto::ResponseBodyChunk;
using namespace rein::testutil;

constexpr int kC = Http2Connection::kClientToServer;
constexpr int kS = Http2Connection::kServerToClient;

constexpr uint8_t kData = 0, kHeaders = 1, kPriority = 2, kRst = 3, kSettings = 4, kPush = 5,
                  kPing = 6, kGoaway = 7, kWindow = 8, kCont = 9;
constexpr uint8_t kEndStream = 1, kAck = 1, kEndHeaders = 4, kPadded = 8, kPrio = 0x20;

const std::string kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += be32(stream);
  f += payload;
  return f;
}

std::string settings(std::vector<std::pair<uint16_t, uint32_t>> kv = {}) {
  std::string p;
  for (auto [k, v] : kv) {
    p += static_cast<char>(k >> 8);
    p += static_cast<char>(k);
    p += be32(v);
  }
  return frame(kSettings, 0, 0, p);
}
std::string settings_ack() { return frame(kSettings, kAck, 0, ""); }

using Fields = std::vector<std::pair<std::string, std::string>>;

// HPACK encoder side of the test traffic: the real nghttp2 deflater, so the blocks use
// Huffman coding, indexing and table size updates the way real peers do.
class Deflater {
 public:
  explicit Deflater(size_t max_table = 4096) {
    EXPECT_EQ(nghttp2_hd_deflate_new(&d_, max_table), 0);
  }
  ~Deflater() { nghttp2_hd_deflate_del(d_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  std::string encode(const Fields& fields) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    std::string out(nghttp2_hd_deflate_bound(d_, nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(d_, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                            nva.data(), nva.size());
    EXPECT_GE(n, 0);
    out.resize(static_cast<size_t>(std::max<ssize_t>(n, 0)));
    return out;
  }
  void change_table_size(size_t n) { EXPECT_EQ(nghttp2_hd_deflate_change_table_size(d_, n), 0); }

 private:
  nghttp2_hd_deflater* d_ = nullptr;
};

Fields post_fields(std::string_view path = "/v1/responses") {
  return {{":method", "POST"},
          {":scheme", "https"},
          {":authority", "API.OpenAI.com:443"},
          {":path", std::string(path)},
          {"content-type", "application/json"},
          {"authorization", "Bearer sk-test"}};
}

Fields status_fields(std::string status, std::string ctype = "text/event-stream") {
  return {{":status", std::move(status)}, {"content-type", std::move(ctype)}};
}

struct Harness {
  std::vector<HttpExchange> out;
  std::vector<uint64_t> seqs;
  Http2Connection conn;
  uint64_t off[2] = {0, 0};
  Deflater enc[2];

  explicit Harness(Http2ConnectionLimits lim = {})
      : conn([this](HttpExchange&& ex, uint64_t seq) {
          out.push_back(std::move(ex));
          seqs.push_back(seq);
        },
             lim) {}

  void send(int dir, std::string_view s, uint64_t ts) {
    conn.feed(dir, off[dir], as_bytes(s), ts);
    off[dir] += s.size();
  }
  void lose(int dir, size_t n) { off[dir] += n; }
  std::string headers(int dir, uint32_t stream, const Fields& f, bool end_stream) {
    return frame(kHeaders, kEndHeaders | (end_stream ? kEndStream : 0), stream, enc[dir].encode(f));
  }
  // Both prefaces: client magic + SETTINGS, server SETTINGS, and the two ACKs.
  void open(uint64_t ts = 1) {
    send(kC, kPreface + settings({{4, 65535}}), ts);
    send(kS, settings({{3, 100}}) + settings_ack(), ts);
    send(kC, settings_ack(), ts);
  }
};

const std::string kJson = R"({"model":"gpt-4.1","input":"hello","stream":true})";
const std::vector<std::string> kSse = {
    "event: response.created\ndata: {\"type\":\"response.created\"}\n\n",
    "event: response.output_text.delta\ndata: {\"delta\":\"Hi\"}\n\n",
    "event: response.completed\ndata: {\"usage\":{\"input_tokens\":5}}\n\n"};

std::string joined_sse() {
  std::string s;
  for (const auto& e : kSse) s += e;
  return s;
}

// The whole POST + SSE conversation as two byte streams, for the slicing tests.
std::pair<std::string, std::string> conversation() {
  Deflater ce, se;
  std::string c = kPreface + settings() + settings_ack() +
                  frame(kHeaders, kEndHeaders, 1, ce.encode(post_fields())) +
                  frame(kData, kEndStream, 1, kJson);
  std::string s = settings() + settings_ack() +
                  frame(kHeaders, kEndHeaders, 1, se.encode(status_fields("200")));
  for (const auto& e : kSse) s += frame(kData, 0, 1, e);
  s += frame(kData, kEndStream, 1, "");
  return {c, s};
}

void expect_sse_exchange(const HttpExchange& ex) {
  EXPECT_EQ(ex.request.method, "POST");
  EXPECT_EQ(ex.request.target, "/v1/responses");
  EXPECT_EQ(ex.request.host, "api.openai.com");
  EXPECT_EQ(ex.request.body, kJson);
  EXPECT_FALSE(ex.request.body_truncated);
  ASSERT_TRUE(ex.response.has_value());
  EXPECT_EQ(ex.response->status, 200);
  EXPECT_EQ(ex.response->body, joined_sse());
  EXPECT_TRUE(ex.response->complete);
}

TEST(Http2Connection, IsPreface) {
  EXPECT_TRUE(Http2Connection::is_preface(as_bytes(kPreface)));
  EXPECT_TRUE(Http2Connection::is_preface(as_bytes(kPreface + "extra")));
  EXPECT_TRUE(Http2Connection::is_preface(as_bytes("PRI ")));
  EXPECT_TRUE(Http2Connection::is_preface(as_bytes("PRI * HTTP/2")));
  EXPECT_FALSE(Http2Connection::is_preface(as_bytes("PRI")));
  EXPECT_FALSE(Http2Connection::is_preface(as_bytes("POST / HTTP/1.1\r\n")));
  EXPECT_FALSE(Http2Connection::is_preface(as_bytes("PRI * HTTP/1.1\r\n")));
  EXPECT_FALSE(Http2Connection::is_preface({}));
}

TEST(Http2Connection, PostWithSseResponseInSeveralDataFrames) {
  Harness h;
  std::vector<std::string> chunks;
  h.conn.set_response_body_handler([&](const ResponseBodyChunk& c) {
    EXPECT_EQ(c.response.status, 200);
    chunks.emplace_back(c.data);
  });
  h.open(1);
  h.send(kC, h.headers(kC, 1, post_fields(), false), 10);
  h.send(kC, frame(kData, 0, 1, kJson.substr(0, 10)), 11);
  h.send(kC, frame(kData, kEndStream, 1, kJson.substr(10)), 12);
  h.send(kS, frame(kWindow, 0, 0, be32(1000)) + frame(kPing, 0, 0, std::string(8, 'p')), 15);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false), 20);
  h.send(kS, frame(kData, 0, 1, ""), 21);  // empty DATA does not count as first body
  uint64_t ts = 30;
  for (const auto& e : kSse) h.send(kS, frame(kData, 0, 1, e), ts++);
  EXPECT_TRUE(h.out.empty());
  h.send(kS, frame(kData, kEndStream, 1, ""), 40);
  ASSERT_EQ(h.out.size(), 1u);
  const HttpExchange& ex = h.out[0];
  expect_sse_exchange(ex);
  EXPECT_EQ(chunks, kSse);
  EXPECT_EQ(h.seqs[0], 0u);
  // Pseudo-headers are mapped, not listed.
  for (const auto& hd : ex.request.headers) EXPECT_NE(hd.name.front(), ':');
  ASSERT_NE(rein::proto::find_header(ex.request.headers, "authorization"), nullptr);
  EXPECT_EQ(ex.request.ts_start_ns, 10u);
  EXPECT_EQ(ex.request.ts_end_ns, 12u);
  EXPECT_EQ(ex.response->ts_first_byte_ns, 20u);
  EXPECT_EQ(ex.response->ts_first_body_ns, 30u);
  EXPECT_EQ(ex.response->ts_end_ns, 40u);
  EXPECT_EQ(*rein::proto::find_header(ex.response->headers, "content-type"), "text/event-stream");
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  EXPECT_EQ(h.conn.stats().exchanges, 1u);
  EXPECT_EQ(h.conn.stats().streams, 1u);
}

TEST(Http2Connection, TwoInterleavedStreams) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields("/a"), false), 10);
  h.send(kC, h.headers(kC, 3, post_fields("/b"), false), 11);
  h.send(kC, frame(kData, 0, 3, "B1"), 12);
  h.send(kC, frame(kData, 0, 1, "A1"), 13);
  h.send(kC, frame(kData, kEndStream, 3, "B2"), 14);
  h.send(kC, frame(kData, kEndStream, 1, "A2"), 15);
  h.send(kS, h.headers(kS, 3, status_fields("200"), false), 20);
  h.send(kS, h.headers(kS, 1, status_fields("201"), false), 21);
  h.send(kS, frame(kData, 0, 1, "a"), 22);
  h.send(kS, frame(kData, 0, 3, "b"), 23);
  h.send(kS, frame(kData, kEndStream, 3, "b"), 24);
  ASSERT_EQ(h.out.size(), 1u);  // stream 3 finished first and is not held back
  EXPECT_EQ(h.out[0].request.target, "/b");
  EXPECT_EQ(h.out[0].request.body, "B1B2");
  EXPECT_EQ(h.out[0].response->body, "bb");
  EXPECT_EQ(h.seqs[0], 1u);
  h.send(kS, frame(kData, kEndStream, 1, "a"), 25);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].request.target, "/a");
  EXPECT_EQ(h.out[1].request.body, "A1A2");
  EXPECT_EQ(h.out[1].response->status, 201);
  EXPECT_EQ(h.out[1].response->body, "aa");
  EXPECT_EQ(h.seqs[1], 0u);
}

TEST(Http2Connection, ContinuationFrames) {
  Harness h;
  h.open();
  Fields f = post_fields();
  for (int i = 0; i < 20; ++i) f.push_back({"x-custom-" + std::to_string(i), std::string(50, 'v')});
  const std::string block = h.enc[kC].encode(f);
  ASSERT_GT(block.size(), 300u);
  h.send(kC,
         frame(kHeaders, 0, 1, block.substr(0, 100)) + frame(kCont, 0, 1, block.substr(100, 100)) +
             frame(kCont, kEndHeaders, 1, block.substr(200)) + frame(kData, kEndStream, 1, kJson),
         10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), true), 20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.headers.size(), 22u);
  EXPECT_EQ(*rein::proto::find_header(h.out[0].request.headers, "x-custom-19"), std::string(50, 'v'));
  EXPECT_EQ(h.out[0].request.body, kJson);
  EXPECT_TRUE(h.out[0].response->complete);
  EXPECT_TRUE(h.out[0].response->body.empty());
}

TEST(Http2Connection, InterruptedContinuationIsProtocolError) {
  Harness h;
  h.open();
  const std::string block = h.enc[kC].encode(post_fields());
  h.send(kC, frame(kHeaders, 0, 1, block.substr(0, 5)) + frame(kPing, 0, 0, std::string(8, 'x')), 10);
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(), "client: header block interrupted by another frame");
  EXPECT_EQ(h.conn.stats().protocol_errors, 1u);
}

TEST(Http2Connection, PaddingAndPriority) {
  Harness h;
  h.open();
  const std::string block = h.enc[kC].encode(post_fields());
  // HEADERS: pad length 7, priority (dependency + weight), block, 7 bytes padding.
  const std::string hp = std::string(1, '\x07') + be32(0) + std::string(1, '\x10') + block + std::string(7, '\0');
  h.send(kC, frame(kHeaders, kEndHeaders | kPadded | kPrio, 1, hp), 10);
  h.send(kC, frame(kPriority, 0, 1, be32(0) + "\x01"), 10);
  h.send(kC, frame(kData, kPadded | kEndStream, 1, std::string(1, '\x03') + kJson + std::string(3, '\0')), 11);
  const std::string sb = h.enc[kS].encode(status_fields("200"));
  h.send(kS, frame(kHeaders, kEndHeaders | kPadded, 1, std::string(1, '\x02') + sb + std::string(2, '\0')), 20);
  h.send(kS, frame(kData, kPadded, 1, std::string(1, '\x00') + "xy"), 21);
  h.send(kS, frame(kData, kPadded | kEndStream, 1, std::string(1, '\x04') + "z" + std::string(4, '\0')), 22);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.method, "POST");
  EXPECT_EQ(h.out[0].request.body, kJson);
  EXPECT_EQ(h.out[0].response->body, "xyz");
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
}

TEST(Http2Connection, PaddingLongerThanFrameIsProtocolError) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), false), 10);
  h.send(kC, frame(kData, kPadded, 1, std::string(1, '\x09') + "abc"), 11);
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(), "client: padding exceeds frame payload");
  h.conn.close(20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_TRUE(h.out[0].request.body_truncated);
  EXPECT_FALSE(h.out[0].response.has_value());
}

TEST(Http2Connection, DynamicTableReuse) {
  Harness h;
  h.open();
  const std::string b1 = h.enc[kC].encode(post_fields("/v1/chat/completions"));
  const std::string b2 = h.enc[kC].encode(post_fields("/v1/chat/completions"));
  // Second time round the fields come from the dynamic table (nghttp2 never indexes :path
  // or authorization, so those are sent again).
  EXPECT_LT(b2.size() * 3, b1.size() * 2);
  h.send(kC, frame(kHeaders, kEndHeaders | kEndStream, 1, b1), 10);
  h.send(kC, frame(kHeaders, kEndHeaders | kEndStream, 3, b2), 11);
  const std::string r1 = h.enc[kS].encode(status_fields("200", "application/json"));
  const std::string r2 = h.enc[kS].encode(status_fields("200", "application/json"));
  EXPECT_LT(r2.size(), r1.size());
  h.send(kS, frame(kHeaders, kEndHeaders, 1, r1) + frame(kData, kEndStream, 1, "{}"), 20);
  h.send(kS, frame(kHeaders, kEndHeaders, 3, r2) + frame(kData, kEndStream, 3, "{}"), 21);
  ASSERT_EQ(h.out.size(), 2u);
  for (const auto& ex : h.out) {
    EXPECT_EQ(ex.request.target, "/v1/chat/completions");
    EXPECT_EQ(ex.request.host, "api.openai.com");
    EXPECT_EQ(*rein::proto::find_header(ex.request.headers, "authorization"), "Bearer sk-test");
    EXPECT_EQ(*rein::proto::find_header(ex.response->headers, "content-type"), "application/json");
  }
}

TEST(Http2Connection, GzipResponseBody) {
  Harness h;
  h.open();
  const std::string body = joined_sse() + joined_sse();
  const std::string gz = gzip(body);
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  Fields rf = status_fields("200", "application/json");
  rf.push_back({"content-encoding", "gzip"});
  h.send(kS, h.headers(kS, 1, rf, false), 20);
  h.send(kS, frame(kData, 0, 1, gz.substr(0, gz.size() / 2)), 21);
  h.send(kS, frame(kData, kEndStream, 1, gz.substr(gz.size() / 2)), 22);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].response->body, body);
  EXPECT_TRUE(h.out[0].response->decode_error.empty());
  EXPECT_TRUE(h.out[0].request.body.empty());
}

TEST(Http2Connection, BodyCapTruncates) {
  Http2ConnectionLimits lim;
  lim.body.max_output = 8;
  Harness h(lim);
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), false) + frame(kData, kEndStream, 1, kJson), 10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false) + frame(kData, kEndStream, 1, "0123456789"), 20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.body, kJson.substr(0, 8));
  EXPECT_TRUE(h.out[0].request.body_truncated);
  EXPECT_EQ(h.out[0].response->body, "01234567");
  EXPECT_TRUE(h.out[0].response->body_truncated);
  EXPECT_TRUE(h.out[0].response->complete);
}

TEST(Http2Connection, RstStreamDeliversIncomplete) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.send(kC, h.headers(kC, 3, post_fields(), true), 11);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false) + frame(kData, 0, 1, "partial"), 20);
  h.send(kC, frame(kRst, 0, 1, be32(8)), 25);  // client cancels (CANCEL)
  ASSERT_EQ(h.out.size(), 1u);
  ASSERT_TRUE(h.out[0].response.has_value());
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(h.out[0].response->body, "partial");
  // Frames still in flight for the reset stream do not resurrect it.
  h.send(kS, frame(kData, kEndStream, 1, "late"), 26);
  h.send(kS, frame(kRst, 0, 3, be32(7)), 27);  // server refuses stream 3
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_FALSE(h.out[1].response.has_value());
  EXPECT_EQ(h.conn.stats().rst_streams, 2u);
  h.conn.close(30);
  EXPECT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.conn.stats().unanswered_requests, 1u);
}

TEST(Http2Connection, GoawayRefusesStreamsAboveLastId) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields("/a"), true), 10);
  h.send(kC, h.headers(kC, 3, post_fields("/b"), true), 11);
  h.send(kC, h.headers(kC, 5, post_fields("/c"), true), 12);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false), 20);
  h.send(kS, frame(kGoaway, 0, 0, be32(1) + be32(0)), 21);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].request.target, "/b");  // stream-id order
  EXPECT_EQ(h.out[1].request.target, "/c");
  EXPECT_FALSE(h.out[0].response.has_value());
  h.send(kS, frame(kData, kEndStream, 1, "done"), 22);  // stream 1 still completes normally
  ASSERT_EQ(h.out.size(), 3u);
  EXPECT_EQ(h.out[2].request.target, "/a");
  EXPECT_TRUE(h.out[2].response->complete);
  EXPECT_EQ(h.conn.stats().goaways, 1u);
}

TEST(Http2Connection, GapMakesUnparseableAndDeliversIncompleteAtClose) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields("/a"), true), 10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false) + frame(kData, kEndStream, 1, "ok"), 20);
  ASSERT_EQ(h.out.size(), 1u);
  h.send(kC, h.headers(kC, 3, post_fields("/b"), true), 30);
  h.send(kS, h.headers(kS, 3, status_fields("200"), false), 31);
  h.send(kS, frame(kData, 0, 3, "first"), 32);
  const uint64_t gap_at = h.off[kS];
  h.lose(kS, 50);
  h.send(kS, frame(kData, kEndStream, 3, "after-gap"), 40);
  h.conn.expire(40 + 2'000'000'000ull);  // the hole is declared lost
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(), "server: gap at offset " + std::to_string(gap_at));
  EXPECT_GT(h.conn.stats().bytes_ignored_after_error, 0u);
  EXPECT_EQ(h.out.size(), 1u);
  h.send(kC, h.headers(kC, 5, post_fields("/c"), true), 50);  // ignored: connection is lost
  h.conn.close(60);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].request.target, "/b");
  ASSERT_TRUE(h.out[1].response.has_value());
  EXPECT_FALSE(h.out[1].response->complete);
  EXPECT_EQ(h.out[1].response->body, "first");
  EXPECT_TRUE(h.conn.closed());
}

TEST(Http2Connection, ClientGapErrorNamesClient) {
  Harness h;
  h.open();
  h.lose(kC, 10);
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.conn.close(20);
  EXPECT_EQ(h.conn.error().rfind("client: gap at offset ", 0), 0u) << h.conn.error();
  EXPECT_TRUE(h.out.empty());
}

TEST(Http2Connection, BytesOneAtATime) {
  auto [c, s] = conversation();
  std::vector<HttpExchange> out;
  Http2Connection conn([&](HttpExchange&& ex, uint64_t) { out.push_back(std::move(ex)); });
  uint64_t ts = 1;
  for (size_t i = 0; i < c.size(); ++i) conn.feed(kC, i, as_bytes(c).subspan(i, 1), ts++);
  for (size_t i = 0; i < s.size(); ++i) conn.feed(kS, i, as_bytes(s).subspan(i, 1), ts++);
  ASSERT_EQ(out.size(), 1u);
  expect_sse_exchange(out[0]);
  EXPECT_FALSE(conn.unparseable()) << conn.error();
}

TEST(Http2Connection, OutOfOrderChunksAreReassembled) {
  auto [c, s] = conversation();
  std::vector<HttpExchange> out;
  Http2Connection conn([&](HttpExchange&& ex, uint64_t) { out.push_back(std::move(ex)); });
  struct Chunk {
    int dir;
    size_t off, len;
  };
  std::vector<Chunk> chunks;
  for (int dir : {kC, kS}) {
    const std::string& st = dir == kC ? c : s;
    for (size_t o = 0; o < st.size(); o += 7) chunks.push_back({dir, o, std::min<size_t>(7, st.size() - o)});
  }
  // Swap neighbours and interleave directions backwards: every chunk but the first of a
  // run arrives before its predecessor.
  for (size_t i = 0; i + 1 < chunks.size(); i += 2) std::swap(chunks[i], chunks[i + 1]);
  uint64_t ts = 1;
  for (const auto& ch : chunks) {
    const std::string& st = ch.dir == kC ? c : s;
    conn.feed(ch.dir, ch.off, as_bytes(st).subspan(ch.off, ch.len), ts++);
    if (ch.off == 0) conn.feed(ch.dir, ch.off, as_bytes(st).subspan(ch.off, ch.len), ts);  // duplicate
  }
  ASSERT_EQ(out.size(), 1u);
  expect_sse_exchange(out[0]);
  EXPECT_FALSE(conn.unparseable()) << conn.error();
  EXPECT_GT(conn.reassembly_stats(kC).duplicate_bytes, 0u);
}

TEST(Http2Connection, OversizeFrameIsProtocolError) {
  Harness h;
  h.open();  // the server announced nothing about frame size: 16384 applies to the client
  h.send(kC, h.headers(kC, 1, post_fields(), false), 10);
  h.send(kC, frame(kData, 0, 1, std::string(16384, 'a')), 11);  // exactly the limit: fine
  EXPECT_FALSE(h.conn.unparseable());
  h.send(kC, frame(kData, kEndStream, 1, std::string(16385, 'a')), 12);
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(), "client: frame of 16385 bytes exceeds the maximum frame size 16384");
  EXPECT_EQ(h.conn.stats().protocol_errors, 1u);
  h.conn.close(20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.body.size(), 16384u);
  EXPECT_TRUE(h.out[0].request.body_truncated);
}

TEST(Http2Connection, AnnouncedMaxFrameSizeAllowsLargerFrames) {
  Harness h;
  h.send(kC, kPreface + settings({{5, 65536}}), 1);  // the client accepts 64 KiB frames
  h.send(kS, settings() + settings_ack(), 2);
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false) +
                 frame(kData, kEndStream, 1, std::string(60000, 'z')), 20);
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].response->body.size(), 60000u);
  h.send(kS, frame(kData, 0, 1, std::string(65537, 'z')), 30);
  EXPECT_TRUE(h.conn.unparseable());
}

TEST(Http2Connection, InvalidMaxFrameSizeSettingIsProtocolError) {
  Harness h;
  h.send(kC, kPreface + settings({{5, 100}}), 1);
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(), "client: SETTINGS_MAX_FRAME_SIZE out of range");
}

TEST(Http2Connection, HeaderTableSizeShrinkAppliesAtAck) {
  Harness h;
  h.open();  // neither side announced a table size: 4096 both ways
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), true), 11);
  // The client shrinks its table to 0. Until the server ACKs, its encoder still uses the old
  // table: this block refers to entries the shrink would evict.
  h.send(kC, settings({{1, 0}}), 12);
  h.send(kC, h.headers(kC, 3, post_fields(), true), 12);
  const std::string before_ack = h.enc[kS].encode(status_fields("200"));
  EXPECT_LE(before_ack.size(), 3u);  // indexed references only
  h.send(kS, frame(kHeaders, kEndHeaders | kEndStream, 3, before_ack), 13);
  h.send(kS, settings_ack(), 13);
  // From the ACK on, the server's next block starts with a size update.
  h.enc[kS].change_table_size(0);
  h.send(kC, h.headers(kC, 5, post_fields(), true), 14);
  h.send(kS, h.headers(kS, 5, status_fields("204"), true), 15);
  ASSERT_EQ(h.out.size(), 3u) << h.conn.error();
  EXPECT_EQ(h.out[1].response->status, 200);
  EXPECT_EQ(h.out[2].response->status, 204);
  EXPECT_EQ(*rein::proto::find_header(h.out[2].response->headers, "content-type"), "text/event-stream");
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
}

TEST(Http2Connection, HeaderTableAckParsedBeforeItsSettings) {
  // Directions are not ordered against each other: the server's ACK may be parsed before
  // the client SETTINGS it acknowledges. The shrink then applies as soon as it is seen.
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), true), 11);
  h.send(kS, settings_ack(), 13);
  h.enc[kS].change_table_size(0);
  const std::string after = h.headers(kS, 3, status_fields("204"), true);
  h.send(kC, settings({{1, 0}}), 12);
  h.send(kC, h.headers(kC, 3, post_fields(), true), 14);
  h.send(kS, after, 15);
  ASSERT_EQ(h.out.size(), 2u) << h.conn.error();
  EXPECT_EQ(h.out[1].response->status, 204);
}

TEST(Http2Connection, LargerHeaderTableNeedsAnnouncement) {
  // The server's encoder uses a 16 KiB table: fine once the client announced it.
  {
    Harness h;
    Deflater big(16384);
    h.send(kC, kPreface + settings({{1, 16384}}), 1);
    h.send(kS, settings() + settings_ack(), 2);
    big.change_table_size(16384);
    h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
    Fields rf = status_fields("200");
    for (int i = 0; i < 8; ++i) rf.push_back({"x-big-" + std::to_string(i), std::string(1000, 'a' + i)});
    h.send(kS, frame(kHeaders, kEndHeaders | kEndStream, 1, big.encode(rf)), 11);
    h.send(kC, h.headers(kC, 3, post_fields(), true), 12);
    const std::string again = big.encode(rf);
    EXPECT_LT(again.size(), 100u);  // all eight big fields come from the table
    h.send(kS, frame(kHeaders, kEndHeaders | kEndStream, 3, again), 13);
    ASSERT_EQ(h.out.size(), 2u) << h.conn.error();
    EXPECT_EQ(*rein::proto::find_header(h.out[1].response->headers, "x-big-7"), std::string(1000, 'h'));
  }
  // Without the announcement the size update exceeds what the client allowed: HPACK error.
  {
    Harness h;
    Deflater big(16384);
    h.open();
    big.change_table_size(16384);
    h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
    h.send(kS, frame(kHeaders, kEndHeaders | kEndStream, 1, big.encode(status_fields("200"))), 11);
    EXPECT_TRUE(h.conn.unparseable());
    EXPECT_EQ(h.conn.error(), "server: HPACK decoding failed");
    EXPECT_EQ(h.conn.stats().hpack_errors, 1u);
  }
}

TEST(Http2Connection, InterimResponseSkippedAndTrailersKept) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), false), 10);
  h.send(kS, h.headers(kS, 1, {{":status", "100"}}, false), 11);
  h.send(kC, frame(kData, 0, 1, kJson), 12);
  h.send(kC, h.headers(kC, 1, {{"x-client-trailer", "t"}}, true), 13);
  h.send(kS, h.headers(kS, 1, status_fields("200", "application/grpc"), false), 20);
  h.send(kS, frame(kData, 0, 1, "payload"), 21);
  h.send(kS, h.headers(kS, 1, {{"grpc-status", "0"}}, true), 22);
  ASSERT_EQ(h.out.size(), 1u);
  const HttpExchange& ex = h.out[0];
  EXPECT_EQ(ex.request.body, kJson);
  EXPECT_EQ(*rein::proto::find_header(ex.request.headers, "x-client-trailer"), "t");
  EXPECT_EQ(ex.response->status, 200);
  EXPECT_EQ(ex.response->ts_first_byte_ns, 20u);
  EXPECT_EQ(*rein::proto::find_header(ex.response->headers, "grpc-status"), "0");
  EXPECT_EQ(ex.response->body, "payload");
  EXPECT_TRUE(ex.response->complete);
}

TEST(Http2Connection, PushPromiseKeepsHpackInSync) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  const std::string pp = be32(2) + h.enc[kS].encode({{":method", "GET"}, {":path", "/pushed"},
                                                     {":authority", "x"}, {":scheme", "https"}});
  h.send(kS, frame(kPush, kEndHeaders, 1, pp), 11);
  h.send(kS, h.headers(kS, 2, status_fields("200"), false) + frame(kData, kEndStream, 2, "push"), 12);
  h.send(kS, h.headers(kS, 1, {{":status", "200"}, {":path", "/pushed"}}, true), 13);  // reuses table
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].response->status, 200);
  EXPECT_EQ(h.conn.stats().pushed_streams_ignored, 1u);
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
}

TEST(Http2Connection, CloseDeliversOpenStreams) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields("/a"), true), 10);
  h.send(kC, h.headers(kC, 3, post_fields("/b"), false) + frame(kData, 0, 3, "half"), 11);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false) + frame(kData, 0, 1, "cut"), 20);
  h.send(kS, frame(kData, 0, 1, ""), 21);
  h.conn.close(30);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[0].request.target, "/a");
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(h.out[0].response->body, "cut");
  EXPECT_EQ(h.out[0].response->ts_end_ns, 30u);
  EXPECT_EQ(h.out[1].request.target, "/b");
  EXPECT_EQ(h.out[1].request.body, "half");
  EXPECT_TRUE(h.out[1].request.body_truncated);
  EXPECT_FALSE(h.out[1].response.has_value());
  h.conn.close(40);  // idempotent
  h.send(kC, "ignored", 50);
  EXPECT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.conn.stats().ignored_after_close, 7u);
}

TEST(Http2Connection, MidConnectionCaptureIsUnparseable) {
  Http2ConnectionLimits lim;
  lim.anchor_at_first_chunk = true;
  Harness h(lim);
  h.off[kC] = 5000;
  h.send(kC, h.headers(kC, 41, post_fields(), true), 10);
  EXPECT_TRUE(h.conn.unparseable());
  EXPECT_EQ(h.conn.error(),
            "client: capture began mid-connection at offset 5000: HPACK state unknown, HTTP/2 "
            "cannot be decoded");
  h.conn.close(20);
  EXPECT_TRUE(h.out.empty());
}

TEST(Http2Connection, AnchoredAtZeroDecodesNormally) {
  Http2ConnectionLimits lim;
  lim.anchor_at_first_chunk = true;
  auto [c, s] = conversation();
  std::vector<HttpExchange> out;
  Http2Connection conn([&](HttpExchange&& ex, uint64_t) { out.push_back(std::move(ex)); }, lim);
  conn.feed(kC, 0, as_bytes(c), 1);
  conn.feed(kS, 0, as_bytes(s), 2);
  ASSERT_EQ(out.size(), 1u);
  expect_sse_exchange(out[0]);
}

TEST(Http2Connection, MissingPrefaceOrSettingsIsUnparseable) {
  {
    Harness h;
    h.send(kC, "POST / HTTP/1.1\r\n\r\n", 1);
    EXPECT_EQ(h.conn.error(), "client: no HTTP/2 connection preface");
  }
  {
    Harness h;
    h.send(kS, frame(kPing, 0, 0, std::string(8, '\0')), 1);
    EXPECT_EQ(h.conn.error(), "server: first frame is not SETTINGS");
  }
}

TEST(Http2Connection, TooManyOpenStreamsEvictsOldest) {
  Http2ConnectionLimits lim;
  lim.max_open_streams = 4;
  Harness h(lim);
  h.open();
  for (uint32_t id = 1; id <= 11; id += 2) h.send(kC, h.headers(kC, id, post_fields(), true), 10 + id);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.seqs[0], 0u);
  EXPECT_EQ(h.seqs[1], 1u);
  EXPECT_EQ(h.conn.stats().evicted_streams, 2u);
  // A late response for an evicted stream is decoded (HPACK) but opens nothing.
  h.send(kS, h.headers(kS, 1, status_fields("200"), true), 30);
  EXPECT_EQ(h.out.size(), 2u);
  h.conn.close(40);
  EXPECT_EQ(h.out.size(), 6u);
  EXPECT_FALSE(h.conn.unparseable());
}

TEST(Http2Connection, HeaderBoundsDropFieldsButKeepSync) {
  Http2ConnectionLimits lim;
  lim.max_headers = 3;
  Harness h(lim);
  h.open();
  Fields f = post_fields();
  f.push_back({"x-extra", "1"});
  h.send(kC, h.headers(kC, 1, f, true), 10);
  h.send(kC, h.headers(kC, 3, f, true), 11);  // indexed references to dropped fields still work
  h.send(kS, h.headers(kS, 1, status_fields("200"), true) + h.headers(kS, 3, status_fields("200"), true), 20);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out[1].request.method, "POST");
  EXPECT_TRUE(h.out[1].request.headers.empty());  // the three kept were pseudo-headers
  EXPECT_EQ(h.conn.stats().dropped_headers, 8u);  // 7 fields, 3 kept, twice
}

TEST(Http2Connection, HeaderBlockTooLarge) {
  Http2ConnectionLimits lim;
  lim.max_header_block = 64;
  Harness h(lim);
  h.open();
  Fields f = post_fields();
  f.push_back({"x-long", std::string(200, 'q')});
  const std::string block = h.enc[kC].encode(f);
  h.send(kC, frame(kHeaders, 0, 1, block.substr(0, 50)) + frame(kCont, kEndHeaders, 1, block.substr(50)), 10);
  EXPECT_EQ(h.conn.error(), "client: header block exceeds the limit");
}

}  // namespace

namespace {

TEST(Http2Connection, FrameLimitUnknownUntilReceiverSettingsParsed) {
  // The server's SETTINGS (which may raise the client's limit) have not been parsed yet when
  // the client's big frame arrives: it is accepted, since directions are fed independently.
  Harness h;
  h.send(kC, kPreface + settings(), 1);
  h.send(kC, h.headers(kC, 1, post_fields(), false) + frame(kData, kEndStream, 1, std::string(20000, 'b')), 10);
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  h.send(kS, settings({{5, 32768}}) + h.headers(kS, 1, status_fields("200"), true), 20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].request.body.size(), 20000u);
}

TEST(Http2Connection, TrailersWithoutEndStreamEndTheSide) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.send(kS, h.headers(kS, 1, status_fields("200"), false) + frame(kData, 0, 1, "x"), 20);
  h.send(kS, h.headers(kS, 1, {{"x-t", "1"}}, false), 21);  // malformed: trailers must end it
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_FALSE(h.out[0].response->complete);
  EXPECT_EQ(*rein::proto::find_header(h.out[0].response->headers, "x-t"), "1");
  EXPECT_EQ(h.conn.stats().protocol_errors, 1u);
  EXPECT_FALSE(h.conn.unparseable());  // a stream-level problem, HPACK is still in sync
}

TEST(Http2Connection, MalformedStatusLeavesRequestUnanswered) {
  Harness h;
  h.open();
  h.send(kC, h.headers(kC, 1, post_fields(), true), 10);
  h.send(kS, h.headers(kS, 1, {{":status", "2x0"}}, false) + frame(kData, kEndStream, 1, "x"), 20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_FALSE(h.out[0].response.has_value());
  EXPECT_FALSE(h.conn.unparseable());
}

TEST(Http2Connection, ServerDirectionOnly) {
  // Only responses were captured: each is delivered with an empty request at close().
  Harness h;
  h.send(kS, settings() + h.headers(kS, 1, status_fields("200"), false) + frame(kData, kEndStream, 1, "r"), 10);
  EXPECT_TRUE(h.out.empty());  // the request may still be parsed later
  h.conn.close(20);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_TRUE(h.out[0].request.method.empty());
  EXPECT_EQ(h.out[0].response->body, "r");
  EXPECT_TRUE(h.out[0].response->complete);
}

}  // namespace

namespace {
// HPACK lets a header block name one large table entry many times in a byte each: what the
// open streams keep of such blocks is charged to the decode budget, so a peer cannot make the
// sensor hold far more than the budget by sending a few kilobytes.
TEST(Http2Connection, KeptHeadersAreChargedToTheDecodeBudget) {
  auto& g = rein::proto::DecodeBudget::global();
  const size_t saved = g.limit();
  g.set_limit(size_t{1} << 20);
  {
    Harness h;
    h.open();
    const std::string big(3000, 'A');
    Fields first = post_fields();
    first.push_back({"x-big", big});
    h.send(kC, h.headers(kC, 1, first, false), 10);  // enters the table; the stream stays open
    Fields many = post_fields();
    for (int i = 0; i < 60; i++) many.push_back({"x-big", big});
    size_t wire = 0;
    for (uint32_t id = 3; id < 3 + 2 * 30; id += 2) {
      const std::string f = h.headers(kC, id, many, false);
      wire += f.size();
      h.send(kC, f, 11);
    }
    EXPECT_LT(wire, size_t{64} << 10);  // the peer sent little...
    EXPECT_GT(h.conn.stats().dropped_headers, 0u);  // ...and what did not fit was dropped
    EXPECT_LE(g.in_use(), g.limit());
  }
  EXPECT_EQ(g.in_use(), 0u);
  g.set_limit(saved);
}
}  // namespace

namespace {
// A frame larger than the default size (allowed before the peer's SETTINGS are read) is
// buffered on the decode budget: with the budget spent, the reader fails the connection
// with a reason instead of holding up to 16 MiB per direction of every connection.
TEST(Http2FrameReader, LargeFramesAreBufferedOnTheDecodeBudget) {
  auto& g = rein::proto::DecodeBudget::global();
  const size_t saved = g.limit();
  g.set_limit(size_t{256} << 10);
  auto frame = [](uint32_t len) {
    std::string f(9, '\0');
    f[0] = char(len >> 16), f[1] = char(len >> 8), f[2] = char(len);
    f[3] = 0;  // DATA
    f[8] = 1;  // stream 1
    return f + std::string(len, 'x');
  };
  auto feed_split = [](rein::proto::Http2FrameReader& r, const std::string& f) {
    auto b = reinterpret_cast<const uint8_t*>(f.data());
    auto first = r.feed({b, f.size() / 2}, 1);  // in two pieces: buffered
    return first ? r.feed({b + f.size() / 2, f.size() - f.size() / 2}, 2) : first;
  };
  {
    int seen = 0;
    rein::proto::Http2FrameReader fits(false, [&](const rein::proto::Http2Frame&) {
      EXPECT_GE(g.in_use(), size_t{100} << 10);  // the buffer is held while it is delivered
      seen++;
      return rein::Result<void>{};
    });
    fits.set_max_frame_size(rein::proto::kHttp2MaxFrameSizeCap);
    EXPECT_TRUE(feed_split(fits, frame(100 << 10)));
    EXPECT_EQ(seen, 1);
    EXPECT_EQ(g.in_use(), 0u);
    rein::proto::Http2FrameReader big(false, [](const rein::proto::Http2Frame&) { return rein::Result<void>{}; });
    big.set_max_frame_size(rein::proto::kHttp2MaxFrameSizeCap);
    auto r = feed_split(big, frame(1 << 20));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("decode budget"), std::string::npos) << r.error().message;
    EXPECT_EQ(g.in_use(), 0u);
  }
  g.set_limit(saved);
}
}  // namespace
