#include "proto/websocket_stream.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "proto/http1_connection.h"

namespace {

using rein::proto::Http1Connection;
using rein::proto::HttpExchange;
using rein::proto::HttpRequest;
using rein::proto::HttpResponse;
using rein::proto::WsDecoder;
using rein::proto::WsMessage;
using rein::proto::WsOptions;

// One frame as a client (masked) or server (unmasked) would put it on the wire.
std::string frame(uint8_t opcode, std::string_view payload, bool fin, bool masked,
                  bool rsv1 = false) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode));
  const uint8_t mbit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(mbit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    f.push_back(static_cast<char>(mbit | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(mbit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xff));
  }
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return f;
}

// permessage-deflate sender: raw DEFLATE, Z_SYNC_FLUSH per message, 00 00 ff ff stripped.
class Deflater {
 public:
  explicit Deflater(bool no_context_takeover = false) : reset_(no_context_takeover) {
    deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  }
  ~Deflater() { deflateEnd(&zs_); }
  std::string compress(std::string_view in) {
    std::string out;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    do {
      char buf[65536];
      zs_.next_out = reinterpret_cast<Bytef*>(buf);
      zs_.avail_out = sizeof buf;
      deflate(&zs_, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - zs_.avail_out);
    } while (zs_.avail_out == 0);
    EXPECT_GE(out.size(), 4u);
    EXPECT_EQ(out.substr(out.size() - 4), std::string("\x00\x00\xff\xff", 4));
    out.resize(out.size() - 4);
    if (reset_) deflateReset(&zs_);
    return out;
  }

 private:
  z_stream zs_{};
  bool reset_;
};

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Sink {
  std::vector<WsMessage> msgs;
  WsDecoder::MessageHandler handler() {
    return [this](WsMessage&& m) { msgs.push_back(std::move(m)); };
  }
};

TEST(ProtoWebSocket, MaskedClientAndUnmaskedServerFrames) {
  Sink c, s;
  WsDecoder client(true, {}, c.handler());
  WsDecoder server(false, {}, s.handler());
  client.feed(bytes(frame(1, R"({"type":"response.create"})", true, true)), 10);
  server.feed(bytes(frame(1, "hello", true, false) + frame(2, std::string("\x00\x01", 2), true, false)), 20);
  ASSERT_EQ(c.msgs.size(), 1u);
  EXPECT_EQ(c.msgs[0].payload, R"({"type":"response.create"})");
  EXPECT_TRUE(c.msgs[0].from_client);
  EXPECT_EQ(c.msgs[0].ts_first_ns, 10u);
  ASSERT_EQ(s.msgs.size(), 2u);
  EXPECT_EQ(s.msgs[0].payload, "hello");
  EXPECT_EQ(s.msgs[1].opcode, 2);
  EXPECT_EQ(s.msgs[1].payload.size(), 2u);
  EXPECT_FALSE(s.msgs[0].truncated);
  EXPECT_EQ(server.stats().frames, 2u);
}

TEST(ProtoWebSocket, MaskingRulesAreEnforced) {
  Sink a, b;
  WsDecoder client(true, {}, a.handler());
  client.feed(bytes(frame(1, "x", true, false)), 1);
  EXPECT_TRUE(client.stopped());
  EXPECT_EQ(client.stats().protocol_errors, 1u);
  WsDecoder server(false, {}, b.handler());
  server.feed(bytes(frame(1, "x", true, true)), 1);
  EXPECT_TRUE(server.stopped());
  EXPECT_FALSE(server.error().empty());
  EXPECT_TRUE(a.msgs.empty());
}

TEST(ProtoWebSocket, FragmentedMessageWithPingInTheMiddleOneByteAtATime) {
  Sink s;
  WsDecoder client(true, {}, s.handler());
  const std::string wire = frame(1, "Hel", false, true) + frame(9, "ping!", true, true) +
                           frame(0, "lo ", false, true) + frame(10, "", true, true) +
                           frame(0, "world", true, true);
  for (size_t i = 0; i < wire.size(); ++i) client.feed(bytes(wire.substr(i, 1)), 100 + i);
  ASSERT_EQ(s.msgs.size(), 1u);
  EXPECT_EQ(s.msgs[0].payload, "Hello world");
  EXPECT_EQ(s.msgs[0].opcode, 1);
  EXPECT_EQ(s.msgs[0].ts_first_ns, 100u);
  EXPECT_EQ(s.msgs[0].ts_last_ns, 100 + wire.size() - 1);
  EXPECT_EQ(client.stats().pings, 1u);
  EXPECT_EQ(client.stats().pongs, 1u);
  EXPECT_EQ(client.stats().control_frames, 2u);
  EXPECT_EQ(client.stats().frames, 5u);
}

TEST(ProtoWebSocket, SixteenAndSixtyFourBitLengths) {
  Sink s;
  WsDecoder server(false, {}, s.handler());
  const std::string mid(300, 'm'), big(70000, 'b');
  server.feed(bytes(frame(1, mid, true, false) + frame(2, big, true, false)), 5);
  ASSERT_EQ(s.msgs.size(), 2u);
  EXPECT_EQ(s.msgs[0].payload, mid);
  EXPECT_EQ(s.msgs[1].payload, big);
}

TEST(ProtoWebSocket, HostileLengthsAndControlFramesStop) {
  {
    Sink s;
    WsDecoder server(false, {}, s.handler());
    std::string f = "\x81\x7f";
    f += std::string("\x80\x00\x00\x00\x00\x00\x00\x01", 8);  // MSB set
    server.feed(bytes(f), 1);
    EXPECT_TRUE(server.stopped());
  }
  {
    Sink s;
    WsOptions o;
    o.max_frame = 1000;
    WsDecoder server(false, o, s.handler());
    server.feed(bytes(frame(1, std::string(2000, 'x'), true, false)), 1);
    EXPECT_TRUE(server.stopped());
    EXPECT_TRUE(s.msgs.empty());
  }
  {
    Sink s;
    WsDecoder server(false, {}, s.handler());
    server.feed(bytes(frame(9, "p", false, false)), 1);  // fragmented ping
    EXPECT_TRUE(server.stopped());
  }
  {
    Sink s;
    WsDecoder server(false, {}, s.handler());
    server.feed(bytes(frame(0, "p", true, false)), 1);  // continuation with nothing open
    EXPECT_TRUE(server.stopped());
    EXPECT_EQ(server.stats().protocol_errors, 1u);
  }
  {
    Sink s;
    WsDecoder server(false, {}, s.handler());  // no deflate negotiated
    server.feed(bytes(frame(1, "p", true, false, true)), 1);
    EXPECT_TRUE(server.stopped());
  }
}

TEST(ProtoWebSocket, MessageBoundTruncatesButKeepsFraming) {
  Sink s;
  WsOptions o;
  o.max_message = 10;
  WsDecoder server(false, o, s.handler());
  server.feed(bytes(frame(1, std::string(50, 'a'), true, false) + frame(1, "ok", true, false)), 1);
  ASSERT_EQ(s.msgs.size(), 2u);
  EXPECT_TRUE(s.msgs[0].truncated);
  EXPECT_EQ(s.msgs[0].payload.size(), 10u);
  EXPECT_EQ(s.msgs[1].payload, "ok");
  EXPECT_FALSE(s.msgs[1].truncated);
  EXPECT_EQ(server.stats().truncated, 1u);
}

TEST(ProtoWebSocket, CloseFrameIsDeliveredAndEndsTheDirection) {
  Sink s;
  WsDecoder server(false, {}, s.handler());
  server.feed(bytes(frame(8, std::string("\x03\xe8" "bye", 5), true, false) + frame(1, "late", true, false)), 1);
  ASSERT_EQ(s.msgs.size(), 1u);
  EXPECT_EQ(s.msgs[0].opcode, 8);
  EXPECT_EQ(s.msgs[0].payload.substr(2), "bye");
  EXPECT_TRUE(server.closed());
  EXPECT_GT(server.stats().ignored_bytes, 0u);
}

WsOptions deflate_opts() {
  WsOptions o;
  o.deflate = true;
  return o;
}

TEST(ProtoWebSocket, CompressedMessagesWithContextTakeover) {
  Deflater d;
  Sink s;
  WsDecoder server(false, deflate_opts(), s.handler());
  const std::string m1 = R"({"type":"response.output_text.delta","delta":"Hello there"})";
  const std::string m2 = R"({"type":"response.output_text.delta","delta":"Hello again"})";
  const std::string m3 = R"({"type":"response.completed","response":{"usage":{"input_tokens":5}}})";
  const std::string c1 = d.compress(m1), c2 = d.compress(m2), c3 = d.compress(m3);
  EXPECT_LT(c2.size(), c1.size());  // the second one leans on the first's window
  // The third one is fragmented: RSV1 only on its first frame.
  const std::string wire = frame(1, c1, true, false, true) + frame(1, c2, true, false, true) +
                           frame(1, c3.substr(0, 7), false, false, true) +
                           frame(9, "", true, false) + frame(0, c3.substr(7), true, false);
  server.feed(bytes(wire), 1);
  ASSERT_EQ(s.msgs.size(), 3u);
  EXPECT_EQ(s.msgs[0].payload, m1);
  EXPECT_EQ(s.msgs[1].payload, m2);
  EXPECT_EQ(s.msgs[2].payload, m3);
  EXPECT_EQ(server.stats().compressed_messages, 3u);
  EXPECT_EQ(server.stats().inflate_errors, 0u);

  // Without the shared window the second message cannot be read.
  Sink s2;
  WsDecoder fresh(false, deflate_opts(), s2.handler());
  fresh.feed(bytes(frame(1, c2, true, false, true)), 1);
  ASSERT_EQ(s2.msgs.size(), 1u);
  EXPECT_NE(s2.msgs[0].payload, m2);
}

TEST(ProtoWebSocket, CompressedClientMessagesNoContextTakeover) {
  Deflater d(/*no_context_takeover=*/true);
  Sink s;
  WsOptions o = deflate_opts();
  o.client_no_context_takeover = true;
  WsDecoder client(true, o, s.handler());
  const std::string m = R"({"type":"response.create","model":"gpt-5-codex"})";
  for (int i = 0; i < 3; ++i) client.feed(bytes(frame(1, d.compress(m), true, true, true)), i);
  client.feed(bytes(frame(1, "plain", true, true)), 9);  // uncompressed in between is fine
  client.feed(bytes(frame(1, d.compress(m), true, true, true)), 10);
  ASSERT_EQ(s.msgs.size(), 5u);
  for (size_t i : {0u, 1u, 2u, 4u}) EXPECT_EQ(s.msgs[i].payload, m) << i;
  EXPECT_EQ(s.msgs[3].payload, "plain");
}

TEST(ProtoWebSocket, ZipBombIsCutAndCounted) {
  Deflater d;
  const std::string zeros(size_t{64} << 20, '\0');
  const std::string c = d.compress(zeros);
  ASSERT_LT(c.size(), size_t{1} << 20);
  Sink s;
  WsDecoder server(false, deflate_opts(), s.handler());
  server.feed(bytes(frame(2, c, true, false, true)), 1);
  ASSERT_EQ(s.msgs.size(), 1u);
  EXPECT_TRUE(s.msgs[0].truncated);
  EXPECT_LE(s.msgs[0].payload.size(), WsOptions{}.max_message);
  EXPECT_EQ(server.stats().inflate_bombs, 1u);
  // The shared window is gone: a later compressed message is delivered cut, not garbled.
  server.feed(bytes(frame(1, d.compress("next"), true, false, true)), 2);
  ASSERT_EQ(s.msgs.size(), 2u);
  EXPECT_TRUE(s.msgs[1].truncated);
  EXPECT_TRUE(s.msgs[1].payload.empty());
}

TEST(ProtoWebSocket, CorruptDeflateDataIsAnError) {
  Sink s;
  WsDecoder server(false, deflate_opts(), s.handler());
  server.feed(bytes(frame(1, "\xff\xff\xff\xff garbage", true, false, true)), 1);
  ASSERT_EQ(s.msgs.size(), 1u);
  EXPECT_TRUE(s.msgs[0].truncated);
  EXPECT_EQ(server.stats().inflate_errors, 1u);
}

// A message whose deflate stream ends (a final block) and goes on: what follows is not what
// the peer reads, so it is not decoded, but it is counted and the message is flagged, in the
// frame that ends the stream and in later frames of the message.
TEST(ProtoWebSocket, BytesAfterAFinalDeflateBlockAreCountedAndFlagged) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  const std::string shown = R"({"type":"response.output_text.delta","delta":"ok"})";
  std::string fin(256, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(shown.data()));
  zs.avail_in = static_cast<uInt>(shown.size());
  zs.next_out = reinterpret_cast<Bytef*>(fin.data());
  zs.avail_out = static_cast<uInt>(fin.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  fin.resize(fin.size() - zs.avail_out);
  deflateEnd(&zs);
  const std::string hidden = Deflater().compress(R"({"hidden":"content after the end"})");
  Sink s;
  WsDecoder server(false, deflate_opts(), s.handler());
  server.feed(bytes(frame(1, fin + hidden, false, false, true) + frame(0, hidden, true, false)), 1);
  ASSERT_EQ(s.msgs.size(), 1u);
  EXPECT_EQ(s.msgs[0].payload, shown);
  EXPECT_TRUE(s.msgs[0].truncated);
  EXPECT_EQ(server.stats().ignored_bytes, 2 * hidden.size());
  EXPECT_EQ(server.stats().inflate_errors, 0u);
}

TEST(ProtoWebSocket, GapStopsForGood) {
  Sink s;
  WsDecoder server(false, {}, s.handler());
  const std::string f = frame(1, "abcdefgh", true, false);
  server.feed(bytes(f.substr(0, 5)), 1);
  server.gap(2);
  server.feed(bytes(frame(1, "after", true, false)), 3);
  ASSERT_EQ(s.msgs.size(), 1u);
  EXPECT_TRUE(s.msgs[0].truncated);
  EXPECT_EQ(s.msgs[0].payload, "abc");
  EXPECT_TRUE(server.stopped());
  EXPECT_NE(server.error().find("lost"), std::string::npos);
  EXPECT_EQ(server.error().find("after"), std::string::npos);
}

TEST(ProtoWebSocket, NegotiateReadsOnlyTheResponse) {
  HttpRequest req;
  req.method = "GET";
  req.headers = {{"upgrade", "websocket"},
                 {"sec-websocket-extensions", "permessage-deflate; client_max_window_bits"}};
  HttpResponse resp;
  resp.status = 101;
  resp.headers = {{"upgrade", "WebSocket"}};
  EXPECT_FALSE(rein::proto::negotiate(req, resp).deflate);
  EXPECT_TRUE(rein::proto::is_websocket_handshake(req, resp));
  resp.headers.push_back({"sec-websocket-extensions",
                          "PerMessage-Deflate; server_no_context_takeover; client_max_window_bits=12; "
                          "server_max_window_bits=\"10\""});
  WsOptions o = rein::proto::negotiate(req, resp);
  EXPECT_TRUE(o.deflate);
  EXPECT_TRUE(o.server_no_context_takeover);
  EXPECT_FALSE(o.client_no_context_takeover);
  EXPECT_EQ(o.client_max_window_bits, 12);
  EXPECT_EQ(o.server_max_window_bits, 10);
}

// ---- Http1Connection hand-off ----

struct Piece {
  int dir;
  std::string bytes;
  bool gap;
};

struct UpgradeHarness {
  std::vector<HttpExchange> exchanges;
  std::vector<HttpExchange> handshakes;
  std::vector<Piece> pieces;
  Http1Connection conn{[this](HttpExchange&& ex, uint64_t) { exchanges.push_back(std::move(ex)); }};
  uint64_t off[2] = {0, 0};

  UpgradeHarness() {
    conn.set_upgrade_handlers(
        [this](const HttpExchange& ex) {
          EXPECT_TRUE(pieces.empty());  // the handshake comes before any tunnel byte
          handshakes.push_back(ex);
        },
        [this](int dir, std::span<const uint8_t> b, uint64_t, bool gap) {
          pieces.push_back(Piece{dir, std::string(reinterpret_cast<const char*>(b.data()), b.size()), gap});
        });
  }
  void send(int dir, const std::string& s, uint64_t ts) {
    conn.feed(dir, off[dir], bytes(s), ts);
    off[dir] += s.size();
  }
  std::string joined(int dir) const {
    std::string out;
    for (const auto& p : pieces)
      if (p.dir == dir) out += p.gap ? std::string("<gap>") : p.bytes;
    return out;
  }
};

const std::string kUpgradeReq =
    "GET /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";
const std::string k101 =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

TEST(ProtoHttp1Upgrade, BytesInTheSameChunkAsTheHeadsAreKept) {
  UpgradeHarness h;
  const std::string cframe = frame(1, "create", true, true);
  const std::string sframe = frame(1, "created", true, false);
  h.send(0, kUpgradeReq + cframe, 1);  // frame right behind the request head
  h.send(1, k101 + sframe, 2);         // frame right behind the 101 head
  h.send(0, cframe, 3);
  h.send(1, sframe, 4);
  ASSERT_EQ(h.handshakes.size(), 1u);
  EXPECT_EQ(h.handshakes[0].response->status, 101);
  EXPECT_TRUE(rein::proto::negotiate(h.handshakes[0].request, *h.handshakes[0].response).deflate);
  EXPECT_TRUE(h.conn.upgraded());
  EXPECT_EQ(h.joined(0), cframe + cframe);
  EXPECT_EQ(h.joined(1), sframe + sframe);
  h.conn.close(5);
  EXPECT_FALSE(h.conn.unparseable()) << h.conn.error();
  ASSERT_EQ(h.exchanges.size(), 1u);  // the exchange handler still sees the handshake
}

// Client bytes sent one at a time while the 101 is awaited are held as a few joined pieces
// (not one piece of bookkeeping per byte) and come out whole, in order, at the handshake.
TEST(ProtoHttp1Upgrade, OneByteSlicesBeforeThe101AreHeldJoined) {
  UpgradeHarness h;
  std::string cframes;
  for (int i = 0; i < 200; i++) cframes += frame(1, "message " + std::to_string(i), true, true);
  h.send(0, kUpgradeReq, 1);
  for (size_t i = 0; i < cframes.size(); i++) h.send(0, cframes.substr(i, 1), 2 + i);
  EXPECT_LE(h.conn.held_pieces(0), 2u) << cframes.size() << " one-byte slices";
  h.send(1, k101, 100000);
  ASSERT_EQ(h.handshakes.size(), 1u);
  EXPECT_EQ(h.joined(0), cframes);
  EXPECT_EQ(h.conn.held_pieces(0), 0u);
}

TEST(ProtoHttp1Upgrade, OutOfOrderChunksAfterTheHandshake) {
  const std::string sf = frame(1, "0123456789", true, false) + frame(1, "abcdef", true, false);
  // The 101 and the first bytes after it arrive before the client's request (other CPU).
  UpgradeHarness h2;
  h2.send(1, k101.substr(0, 20), 10);
  h2.conn.feed(1, k101.size() + 4, bytes(sf.substr(4)), 12);  // ahead of a hole
  h2.conn.feed(1, 20, bytes(k101.substr(20) + sf.substr(0, 4)), 11);  // fills it
  EXPECT_TRUE(h2.handshakes.empty());  // request not seen yet: nothing handed out
  EXPECT_TRUE(h2.pieces.empty());
  EXPECT_EQ(h2.exchanges.size(), 0u);
  h2.send(0, kUpgradeReq, 5);
  EXPECT_EQ(h2.exchanges.size(), 1u);
  ASSERT_EQ(h2.handshakes.size(), 1u);
  EXPECT_EQ(h2.joined(1), sf);
  // A lost chunk in the tunnel is reported as a gap.
  h2.off[1] = k101.size() + sf.size();
  h2.conn.feed(1, h2.off[1] + 5, bytes(std::string("tail")), 14);
  h2.conn.close(15);
  EXPECT_EQ(h2.joined(1), sf + "<gap>tail");
}

TEST(ProtoHttp1Upgrade, RefusedUpgradeKeepsHttp) {
  UpgradeHarness h;
  h.send(0, kUpgradeReq, 1);
  h.send(1, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", 2);
  h.send(0, "POST /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}", 3);
  h.send(1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 4);
  h.conn.close(5);
  EXPECT_TRUE(h.handshakes.empty());
  EXPECT_TRUE(h.pieces.empty());
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[1].request.method, "POST");
  EXPECT_EQ(h.exchanges[1].request.body, "{}");
}

TEST(ProtoHttp1Upgrade, HeldClientBytesAreBounded) {
  UpgradeHarness h;
  h.send(0, kUpgradeReq, 1);
  const std::string chunk(256 << 10, 'c');
  for (int i = 0; i < 6; ++i) h.send(0, chunk, 2 + i);  // 1.5 MiB before the 101
  h.send(1, k101, 10);
  h.send(0, "after", 11);
  ASSERT_EQ(h.handshakes.size(), 1u);
  EXPECT_EQ(h.joined(0), std::string(4 * chunk.size(), 'c') + "<gap>after");
  EXPECT_EQ(h.conn.stats().tunnel_dropped_bytes, 2 * chunk.size());
}

TEST(ProtoHttp1Upgrade, NonWebSocketUpgradeIsNotHandedOff) {
  UpgradeHarness h;
  h.send(0, "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", 1);
  h.send(1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nPRI", 2);
  h.conn.close(3);
  EXPECT_TRUE(h.handshakes.empty());
  EXPECT_TRUE(h.pieces.empty());
  EXPECT_TRUE(h.conn.tunneled());
  EXPECT_EQ(h.exchanges.size(), 1u);
}

TEST(ProtoHttp1Upgrade, ClientGapAfterHandshakeIsReported) {
  UpgradeHarness h;
  h.send(0, kUpgradeReq, 1);
  h.send(1, k101, 2);
  h.conn.feed(0, h.off[0] + 10, bytes(std::string("xyz")), 3);
  h.conn.close(4);
  EXPECT_EQ(h.joined(0), "<gap>xyz");
}

TEST(ProtoHttp1Upgrade, WithoutHandlersNothingChanges) {
  std::vector<HttpExchange> out;
  Http1Connection conn([&](HttpExchange&& ex, uint64_t) { out.push_back(std::move(ex)); });
  conn.feed(0, 0, bytes(kUpgradeReq), 1);
  conn.feed(1, 0, bytes(k101 + "\x81\x02hi"), 2);
  conn.close(3);
  EXPECT_TRUE(conn.tunneled());
  EXPECT_FALSE(conn.upgraded());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(conn.parser_stats(1).ignored_bytes, 4u);
}

}  // namespace
