// LlmStage: how captured chunks of one connection become calls when the kernel names the
// stream in pieces (rustls: the request under its cipher key, joined to the socket later).
#include "pipeline/llm_stage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/decode_budget.h"
#include "rein/abi/events.h"

namespace rein::pipeline {
namespace {

llm::PriceTable prices() {
  auto t = llm::PriceTable::parse(R"({"models":[{"model":"gpt-4o","input":2.5,"output":10}]})",
                                  "t.json");
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

struct Chunks {
  std::vector<std::string> keep;  // DataRec points into these
  decode::DataRec rec(uint64_t conn, uint8_t dir, uint64_t off, const std::string& bytes,
                      uint16_t flags = 0, int32_t fd = -1) {
    keep.push_back(bytes);
    decode::DataRec r;
    r.h.tgid = 42;
    r.h.agent = 42;
    r.h.ts_ns = 1000 + keep.size();
    r.conn = conn;
    r.dir = dir;
    r.offset = off;
    r.fd = fd;
    r.source = REIN_SRC_RUSTLS;
    r.flags = flags;
    r.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(keep.back().data()),
                                      keep.back().size());
    return r;
  }
};

const std::string kBody = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";
const std::string kReq = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                         "Content-Type: application/json\r\nContent-Length: " +
                         std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
const std::string kRespBody =
    R"({"id":"x","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
const std::string kResp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(kRespBody.size()) + "\r\n\r\n" + kRespBody;

// A stage that keeps the calls it hands out and their contexts, with the chunks fed to it.
struct Harness {
  llm::PriceTable table = prices();
  llm::Fingerprinter fp{std::array<uint8_t, 32>{}};
  std::vector<llm::LlmCall> calls;
  std::vector<CallContext> contexts;
  LlmStage stage{&table, &fp, [this](const CallContext& c, const llm::LlmCall& call) {
                   contexts.push_back(c);
                   calls.push_back(call);
                 }};
  Chunks k;
};

TEST(LlmStage, KeyedRequestJoinsItsSocketStreamAtBind) {
  auto table = prices();
  llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  std::vector<llm::LlmCall> calls;
  std::vector<CallContext> ctxs;
  LlmStage stage(&table, &fp, [&](const CallContext& c, const llm::LlmCall& call) {
    ctxs.push_back(c);
    calls.push_back(call);
  });
  Chunks k;
  const uint64_t key = 0x7f00aa, sock = 0xffff8881;
  // the request is sealed under its key before the write that reveals the socket
  stage.on_data(k.rec(key, REIN_DIR_EGRESS, 0, kReq.substr(0, 40), REIN_DF_KEYED));
  decode::BindRec b;
  b.h.tgid = 42;
  b.from = key;
  b.to = sock;
  b.fd = 9;
  stage.on_bind(b);
  // a record sealed before the bind but read after it still carries the key
  stage.on_data(k.rec(key, REIN_DIR_EGRESS, 40, kReq.substr(40), REIN_DF_KEYED));
  stage.on_data(k.rec(sock, REIN_DIR_INGRESS, 0, kResp, 0, 9));
  stage.close_all(5000);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].status, 200);
  ASSERT_TRUE(calls[0].usage.input_tokens.has_value());
  EXPECT_EQ(*calls[0].usage.input_tokens, 11);
  EXPECT_EQ(*calls[0].usage.output_tokens, 7);
  EXPECT_EQ(ctxs[0].fd, 9);
  EXPECT_EQ(ctxs[0].protocol, "http/1.1");
  EXPECT_EQ(stage.stats().rebound_streams, 1u);
  EXPECT_EQ(stage.stats().streams_opened, 1u);
}

TEST(LlmStage, WithoutBindTheHalvesStayApartAndNothingIsInvented) {
  auto table = prices();
  llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  std::vector<llm::LlmCall> calls;
  LlmStage stage(&table, &fp, [&](const CallContext&, const llm::LlmCall& c) { calls.push_back(c); });
  Chunks k;
  stage.on_data(k.rec(0x1, REIN_DIR_EGRESS, 0, kReq, REIN_DF_KEYED));
  stage.on_data(k.rec(0x2, REIN_DIR_INGRESS, 0, kResp, 0, 9));
  stage.close_all(5000);
  EXPECT_EQ(stage.stats().streams_opened, 2u);
  // the request alone is a call with no response, never one with made-up usage
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].status, 0);
  EXPECT_TRUE(calls[0].usage_missing);
  EXPECT_FALSE(calls[0].usage.input_tokens.has_value());
}

TEST(LlmStage, Http2PrefaceSelectsTheHttp2Decoder) {
  auto table = prices();
  llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  LlmStage stage(&table, &fp, [](const CallContext&, const llm::LlmCall&) {});
  Chunks k;
  stage.on_data(k.rec(0x5, REIN_DIR_EGRESS, 0, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")));
  EXPECT_EQ(stage.stats().http2_streams, 1u);
  // joined mid-connection: HTTP/1.1 (its parser resyncs), never HTTP/2
  stage.on_data(k.rec(0x6, REIN_DIR_EGRESS, 500, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")));
  EXPECT_EQ(stage.stats().http2_streams, 1u);
}

// Python's ssl frees each connection's SSL object and the next one often lands at the same
// address: the kernel flags the first chunk on the new socket, and the old stream (here cut
// inside a response body, which would otherwise swallow the new response) is closed first.
TEST(LlmStage, ReusedTlsObjectStartsANewStream) {
  Harness h;
  const uint64_t ssl = 0x55aa00;
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, 0, kReq, 0, 3));
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, 0, kResp.substr(0, kResp.size() - 10), 0, 3));
  EXPECT_TRUE(h.calls.empty());
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, 0, kReq, REIN_DF_NEW_CONN, 3));
  ASSERT_EQ(h.calls.size(), 1u);  // the cut call, delivered when its stream closed
  EXPECT_FALSE(h.calls[0].usage.input_tokens.has_value());
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, 0, kResp, 0, 3));
  ASSERT_EQ(h.calls.size(), 2u);
  EXPECT_EQ(h.calls[1].usage.input_tokens, 11);
  EXPECT_EQ(h.calls[1].usage.output_tokens, 7);
  EXPECT_EQ(h.stage.stats().reused_streams, 1u);
  EXPECT_EQ(h.stage.stats().streams_opened, 2u);
}

// The first plaintext of a connection hooked late may be a request body: the stream is
// joined mid-message and the next whole exchange still decodes.
TEST(LlmStage, LateFirstWriteIsTakenForMidStream) {
  Harness h;
  const uint64_t ssl = 0x55bb00;
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, 0, kBody, REIN_DF_LATE, 3));
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, 0, kRespBody, 0, 3));  // the first response's body
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, kBody.size(), kReq, 0, 3));
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, kRespBody.size(), kResp, 0, 3));
  ASSERT_EQ(h.calls.size(), 1u);
  EXPECT_EQ(h.calls[0].usage.input_tokens, 11);
  EXPECT_EQ(h.calls[0].usage.output_tokens, 7);
}


// node and Bun run TLS over a memory BIO: no socket ties an SSL object to its connection,
// so the kernel cannot flag a reused address. An agent that drops a connection mid-answer
// and opens the next one at the same SSL* shows up as one key whose response is still open
// when the next request goes out and the next status line comes in.
TEST(LlmStage, AbandonedResponseIsCutWhereTheNextConnectionsBegins) {
  Harness h;
  const uint64_t ssl = 0x55cc00;
  const std::string cut = kResp.substr(0, kResp.size() - 10);
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, 0, kReq));
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, 0, cut));
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, kReq.size(), kReq));
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, cut.size(), kResp));
  ASSERT_EQ(h.calls.size(), 2u);
  EXPECT_FALSE(h.calls[0].usage.input_tokens.has_value());  // the abandoned answer
  EXPECT_EQ(h.calls[1].status, 200);
  EXPECT_EQ(h.calls[1].usage.input_tokens, 11);
  EXPECT_EQ(h.calls[1].usage.output_tokens, 7);
  h.stage.close_all(9000);
  EXPECT_EQ(h.stage.stats().abandoned_responses, 1u);
  EXPECT_EQ(h.stage.stats().streams_opened, 1u);
}

// A body slice that merely begins like a status line is body while no newer request waits.
TEST(LlmStage, StatusLineInsideABodyIsBodyWithoutANewerRequest) {
  Harness h;
  const std::string body = "HTTP/1.1 200 OK is what the model said: fine";
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  h.stage.on_data(h.k.rec(0x77, REIN_DIR_EGRESS, 0, kReq));
  h.stage.on_data(h.k.rec(0x77, REIN_DIR_INGRESS, 0, head));
  h.stage.on_data(h.k.rec(0x77, REIN_DIR_INGRESS, head.size(), body));
  h.stage.close_all(9000);
  EXPECT_EQ(h.stage.stats().abandoned_responses, 0u);
  EXPECT_EQ(h.stage.stats().exchanges, 1u);
}

// The first bytes of a new connection on a key past its own first bytes restart the stream:
// an HTTP/2 preface after HTTP/1.1, then an HTTP/1 request line after HTTP/2. The restarted
// stream counts offsets from where it began (the key's counters ran on), so its HTTP/1.1
// exchange decodes from a message start, and chunks from before the restart are dropped.
TEST(LlmStage, NewConnectionsFirstBytesRestartAStreamTheKernelCouldNotTellApart) {
  Harness h;
  const uint64_t ssl = 0x55dd00;
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  uint64_t out = 0, in = 0;
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, out, kReq));
  out += kReq.size();
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, in, kResp.substr(0, 30)));
  in += 30;
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, out, preface));
  out += preface.size();
  ASSERT_EQ(h.calls.size(), 1u);  // the HTTP/1.1 call cut by the restart
  EXPECT_EQ(h.stage.stats().restarted_streams, 1u);
  EXPECT_EQ(h.stage.stats().http2_streams, 1u);
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, in, std::string(9, '\0')));  // a SETTINGS frame
  in += 9;
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_EGRESS, out, kReq));
  EXPECT_EQ(h.stage.stats().restarted_streams, 2u);
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, in, kResp));
  ASSERT_EQ(h.calls.size(), 2u);
  EXPECT_EQ(h.contexts.back().protocol, "http/1.1");
  EXPECT_EQ(h.calls.back().usage.input_tokens, 11);
  h.stage.on_data(h.k.rec(ssl, REIN_DIR_INGRESS, in - 9, std::string(9, '\0')));  // before the restart
  EXPECT_EQ(h.stage.stats().stale_chunks, 1u);
  h.stage.close_all(9000);
  EXPECT_EQ(h.stage.stats().streams_opened, 3u);
  EXPECT_EQ(h.calls.size(), 2u);
  EXPECT_EQ(h.calls.back().usage.output_tokens, 7);
}

}  // namespace
}  // namespace rein::pipeline

namespace rein::pipeline {
namespace {
// What the decoders drop reaches the stage's counters (and so sensor.health): a response
// body that is not JSON, and an HTTP/2 header block on a stream id a client may not use,
// counted when its connection closes.
TEST(LlmStage, DecoderDropsReachTheStageCounters) {
  Harness h;
  const std::string bad = "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":1";  // torn
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(bad.size()) + "\r\n\r\n" + bad;
  h.stage.on_data(h.k.rec(0x11, REIN_DIR_EGRESS, 0, kReq, 0, 3));
  h.stage.on_data(h.k.rec(0x11, REIN_DIR_INGRESS, 0, resp, 0, 3));
  EXPECT_EQ(h.stage.stats().body_json_invalid, 1u);

  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const std::string settings("\0\0\0\x04\0\0\0\0\0", 9);
  // HEADERS (END_STREAM | END_HEADERS) on stream 2: even ids are the server's
  const std::string headers("\0\0\x01\x01\x05\0\0\0\x02\x82", 10);
  h.stage.on_data(h.k.rec(0x22, REIN_DIR_EGRESS, 0, preface + settings + headers, 0, 4));
  EXPECT_EQ(h.stage.stats().http2_streams, 1u);
  EXPECT_EQ(h.stage.stats().http2_protocol_errors, 0u);  // counted at close
  h.stage.close_all(5000);
  EXPECT_EQ(h.stage.stats().http2_protocol_errors, 1u);
}
}  // namespace
}  // namespace rein::pipeline

namespace rein::pipeline {
namespace {
// One agent that fills the decode budget with a request body it never finishes leaves room
// for another agent's calls: an agent's connections hold at most half of it.
TEST(LlmStage, OneAgentCannotTakeTheWholeDecodeBudget) {
  auto& g = proto::DecodeBudget::global();
  const size_t saved = g.limit();
  g.set_limit(size_t{2} << 20);
  {
    Harness h;
    const std::string big_head = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
                                 "Content-Type: application/json\r\nContent-Length: 8000000\r\n\r\n";
    auto hog = h.k.rec(0x31, REIN_DIR_EGRESS, 0, big_head + std::string(size_t{3} << 20, 'x'), 0, 3);
    hog.h.tgid = hog.h.agent = 7;
    h.stage.on_data(hog);
    EXPECT_LE(g.owner_in_use(7), size_t{1} << 20);
    auto req = h.k.rec(0x32, REIN_DIR_EGRESS, 0, kReq, 0, 4);
    auto resp = h.k.rec(0x32, REIN_DIR_INGRESS, 0, kResp, 0, 4);
    req.h.tgid = req.h.agent = resp.h.tgid = resp.h.agent = 8;
    h.stage.on_data(req);
    h.stage.on_data(resp);
    ASSERT_EQ(h.calls.size(), 1u);
    EXPECT_FALSE(h.calls[0].usage_missing) << h.calls[0].usage_note;
    EXPECT_EQ(h.calls[0].usage.input_tokens, 11u);
    EXPECT_GT(g.owner_refusals(), 0u);
    h.stage.close_all(9000);
  }
  EXPECT_EQ(g.in_use(), 0u);
  g.set_limit(saved);
}
}  // namespace
}  // namespace rein::pipeline
