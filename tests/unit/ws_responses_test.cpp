#include "llm/ws_responses.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <memory>
#include <optional>

#include <string>
#include <vector>

#include "proto/http1_connection.h"

namespace {

using rein::llm::Fingerprinter;
using rein::llm::LlmCall;
using rein::llm::PriceTable;
using rein::llm::WsResponsesSession;
using rein::proto::HttpExchange;
using rein::proto::WsMessage;

PriceTable prices() {
  auto t = PriceTable::parse(
      R"({"models":[{"model":"gpt-5-codex","input":1.25,"output":10,"cache_read":0.125}]})", "t.json");
  EXPECT_TRUE(t.ok());
  return std::move(t).value();
}

HttpExchange handshake(std::string host = "api.openai.com") {
  HttpExchange ex;
  ex.request.method = "GET";
  ex.request.target = "/v1/responses";
  ex.request.host = host;
  ex.request.headers = {{"host", host},
                        {"authorization", "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"},
                        {"upgrade", "websocket"}};
  ex.response.emplace();
  ex.response->status = 101;
  ex.response->headers = {{"upgrade", "websocket"}};
  return ex;
}

WsMessage msg(bool from_client, std::string payload, uint64_t ts) {
  WsMessage m;
  m.from_client = from_client;
  m.opcode = 1;
  m.payload = std::move(payload);
  m.ts_first_ns = ts;
  m.ts_last_ns = ts;
  return m;
}

std::string completed(const std::string& id, int in, int cached, int out, int reasoning) {
  return R"({"type":"response.completed","sequence_number":9,"response":{"id":")" + id +
         R"(","object":"response","model":"gpt-5-codex","status":"completed","usage":{"input_tokens":)" +
         std::to_string(in) + R"(,"input_tokens_details":{"cached_tokens":)" + std::to_string(cached) +
         R"(},"output_tokens":)" + std::to_string(out) +
         R"(,"output_tokens_details":{"reasoning_tokens":)" + std::to_string(reasoning) +
         R"(},"total_tokens":)" + std::to_string(in + out) + "}}}";
}

struct Fixture {
  PriceTable table = prices();
  Fingerprinter fp{std::array<uint8_t, 32>{1, 2, 3}};
  std::vector<LlmCall> calls;
  std::vector<uint64_t> ts;
  WsResponsesSession session;
  explicit Fixture(HttpExchange hs = handshake())
      : session(hs, table, fp, [this](LlmCall&& c, uint64_t t) {
          calls.push_back(std::move(c));
          ts.push_back(t);
        }) {}
};

constexpr uint64_t kMs = 1'000'000;

TEST(LlmWsResponses, TwoCreatesOnOneSocket) {
  Fixture f;
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex","instructions":"x","input":[],"stream":true})", 1000 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.created","response":{"id":"resp_1","model":"gpt-5-codex"}})", 1100 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.in_progress","response":{"id":"resp_1"}})", 1110 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.output_text.delta","delta":"Hi"})", 1300 * kMs));
  f.session.on_message(msg(false, completed("resp_1", 1000, 800, 50, 20), 1500 * kMs));
  f.session.on_message(msg(true, R"({"type":"response.processed","response_id":"resp_1"})", 1501 * kMs));
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex","previous_response_id":"resp_1","input":[]})", 2000 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.reasoning_summary_text.delta","delta":"."})", 2400 * kMs));
  f.session.on_message(msg(false, completed("resp_2", 2000, 1900, 10, 0), 2600 * kMs));
  f.session.close(3000 * kMs);

  ASSERT_EQ(f.calls.size(), 2u);
  const LlmCall& a = f.calls[0];
  EXPECT_EQ(a.provider, "openai");
  EXPECT_EQ(a.api, "openai.responses");
  EXPECT_EQ(a.operation, "chat");
  EXPECT_EQ(a.method, "GET");
  EXPECT_EQ(a.path, "/v1/responses");
  EXPECT_EQ(a.host, "api.openai.com");
  EXPECT_TRUE(a.stream);
  EXPECT_EQ(a.request_model, "gpt-5-codex");
  EXPECT_EQ(a.response_model, "gpt-5-codex");
  EXPECT_EQ(a.response_id, "resp_1");
  EXPECT_EQ(a.usage.input_tokens, 1000);
  EXPECT_EQ(a.usage.cache_read_input_tokens, 800);
  EXPECT_EQ(a.usage.output_tokens, 50);
  EXPECT_EQ(a.usage.reasoning_tokens, 20);
  EXPECT_FALSE(a.usage_missing);
  ASSERT_TRUE(a.latency_ms);
  EXPECT_DOUBLE_EQ(*a.latency_ms, 500.0);
  ASSERT_TRUE(a.ttft_ms);
  EXPECT_DOUBLE_EQ(*a.ttft_ms, 300.0);
  ASSERT_TRUE(a.cost_usd);
  // 200 uncached * 1.25 + 800 cached * 0.125 + 50 * 10, per million.
  EXPECT_NEAR(*a.cost_usd, (200 * 1.25 + 800 * 0.125 + 50 * 10) / 1e6, 1e-12);
  EXPECT_EQ(a.api_key_class, "sk-proj");
  EXPECT_FALSE(a.api_key_fingerprint.empty());
  EXPECT_EQ(a.api_key_fingerprint.find("abcdefgh"), std::string::npos);
  EXPECT_EQ(f.ts[0], 1500 * kMs);

  const LlmCall& b = f.calls[1];
  EXPECT_EQ(b.response_id, "resp_2");
  EXPECT_EQ(b.usage.input_tokens, 2000);
  EXPECT_EQ(b.usage.cache_read_input_tokens, 1900);
  ASSERT_TRUE(b.ttft_ms);
  EXPECT_DOUBLE_EQ(*b.ttft_ms, 400.0);
  EXPECT_EQ(f.session.stats().creates, 2u);
  EXPECT_EQ(f.session.stats().other_client_messages, 1u);
}

TEST(LlmWsResponses, FailedAndErrorEvents) {
  Fixture f;
  f.session.on_message(msg(true, R"({"type":"response.create","response":{"model":"gpt-5-codex"}})", 1 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.failed","response":{"id":"resp_f","model":"gpt-5-codex","status":"failed","error":{"code":"server_error","message":"boom"},"usage":null}})", 2 * kMs));
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex"})", 3 * kMs));
  f.session.on_message(msg(false, R"({"type":"error","status":429,"error":{"type":"usage_limit_reached","code":"rate_limit_exceeded","message":"slow down"}})", 4 * kMs));
  f.session.close(5 * kMs);
  ASSERT_EQ(f.calls.size(), 2u);
  EXPECT_EQ(f.calls[0].request_model, "gpt-5-codex");  // under "response"
  EXPECT_EQ(f.calls[0].response_id, "resp_f");
  ASSERT_TRUE(f.calls[0].error_type);
  EXPECT_EQ(*f.calls[0].error_type, "server_error");
  EXPECT_TRUE(f.calls[0].usage_missing);
  ASSERT_TRUE(f.calls[1].error_type);
  EXPECT_EQ(f.calls[1].status, 429);
  EXPECT_TRUE(f.calls[1].usage_missing);
}

TEST(LlmWsResponses, CutCallOnClose) {
  Fixture f;
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex"})", 1 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.created","response":{"id":"resp_c"}})", 2 * kMs));
  f.session.on_message(msg(false, R"({"type":"response.output_text.delta","delta":"partial"})", 3 * kMs));
  f.session.close(9 * kMs);
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_TRUE(f.calls[0].usage_missing);
  EXPECT_FALSE(f.calls[0].usage_note.empty());
  EXPECT_EQ(f.calls[0].response_id, "resp_c");
  EXPECT_EQ(f.ts[0], 9 * kMs);
  EXPECT_EQ(f.session.stats().cut_calls, 1u);
}

TEST(LlmWsResponses, ServerEventsSeenBeforeTheCreateAreReplayed) {
  Fixture f;
  f.session.on_message(msg(false, R"({"type":"response.created","response":{"id":"r"}})", 20 * kMs));
  f.session.on_message(msg(false, completed("r", 10, 0, 5, 0), 30 * kMs));
  EXPECT_TRUE(f.calls.empty());
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex"})", 10 * kMs));
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].usage.output_tokens, 5);
  EXPECT_DOUBLE_EQ(*f.calls[0].latency_ms, 20.0);
}

TEST(LlmWsResponses, PendingCreatesAreBounded) {
  Fixture f;
  for (size_t i = 0; i < WsResponsesSession::kMaxPending + 3; ++i)
    f.session.on_message(msg(true, R"({"type":"response.create","model":"m"})", (i + 1) * kMs));
  EXPECT_EQ(f.calls.size(), 3u);
  EXPECT_EQ(f.session.stats().evicted, 3u);
  f.session.close(1000 * kMs);
  EXPECT_EQ(f.calls.size(), WsResponsesSession::kMaxPending + 3);
}

TEST(LlmWsResponses, AzureHostIsDetected) {
  HttpExchange hs = handshake("myres.openai.azure.com");
  hs.request.target = "/openai/v1/responses?api-version=preview&api-key=secret";
  Fixture f(hs);
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex"})", 1 * kMs));
  f.session.close(2 * kMs);
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].provider, "azure.ai.openai");
  EXPECT_EQ(f.calls[0].path.find("secret"), std::string::npos);
}

TEST(LlmWsResponses, ChatGptBackendIsOpenAI) {
  HttpExchange hs = handshake("chatgpt.com");
  hs.request.target = "/backend-api/codex/responses";
  Fixture f(hs);
  f.session.on_message(msg(true, R"({"type":"response.create","model":"gpt-5-codex"})", 1 * kMs));
  f.session.on_message(msg(false, completed("r", 3, 0, 1, 0), 2 * kMs));
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].provider, "openai");
  EXPECT_EQ(f.calls[0].path, "/backend-api/codex/responses");
}

// The whole path the pipeline takes: captured bytes -> Http1Connection hand-off ->
// WsDecoder per direction (permessage-deflate negotiated) -> WsResponsesSession.
std::string ws_frame(std::string_view payload, bool masked, bool rsv1) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | (rsv1 ? 0x40 : 0) | 1));
  const uint8_t m = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(m | payload.size()));
  } else {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  }
  const char key[4] = {0x5a, 0x01, 0x7e, 0x33};
  if (masked) f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
  return f;
}

struct RawDeflate {
  z_stream zs{};
  RawDeflate() { deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY); }
  ~RawDeflate() { deflateEnd(&zs); }
  std::string operator()(std::string in) {
    std::string out(in.size() + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_SYNC_FLUSH);
    out.resize(out.size() - zs.avail_out - 4);  // strip 00 00 ff ff
    return out;
  }
};

TEST(LlmWsResponses, EndToEndFromCapturedBytes) {
  using rein::proto::Http1Connection;
  using rein::proto::WsDecoder;
  PriceTable table = prices();
  Fingerprinter fp{std::array<uint8_t, 32>{7}};
  std::vector<LlmCall> calls;
  std::unique_ptr<WsResponsesSession> session;
  std::unique_ptr<WsDecoder> dec[2];
  Http1Connection conn([](HttpExchange&&, uint64_t) {});
  conn.set_upgrade_handlers(
      [&](const HttpExchange& hs) {
        session = std::make_unique<WsResponsesSession>(
            hs, table, fp, [&](LlmCall&& c, uint64_t) { calls.push_back(std::move(c)); });
        const rein::proto::WsOptions opt = rein::proto::negotiate(hs.request, *hs.response);
        for (int d : {0, 1})
          dec[d] = std::make_unique<WsDecoder>(d == 0, opt, [&](WsMessage&& m) { session->on_message(m); });
      },
      [&](int d, std::span<const uint8_t> b, uint64_t ts, bool gap) {
        if (gap) {
          dec[d]->gap(ts);
        } else {
          dec[d]->feed(b, ts);
        }
      });
  uint64_t off[2] = {0, 0};
  auto send = [&](int d, const std::string& s, uint64_t ts) {
    conn.feed(d, off[d], {reinterpret_cast<const uint8_t*>(s.data()), s.size()}, ts);
    off[d] += s.size();
  };
  RawDeflate cz, sz;
  send(0,
       "GET /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-proj-zzzzzzzzzzzzzzzzzzzzzzzz\r\n"
       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
       1 * kMs);
  send(1,
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n" +
           ws_frame(sz(R"({"type":"codex.rate_limits","plan_type":"plus"})"), false, true),
       2 * kMs);
  for (int turn = 0; turn < 2; ++turn) {
    const uint64_t t0 = (100 + 100 * turn) * kMs;
    send(0, ws_frame(cz(R"({"type":"response.create","model":"gpt-5-codex","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}],"stream":true})"), true, true), t0);
    send(1, ws_frame(sz(R"({"type":"response.created","response":{"id":"resp_)" + std::to_string(turn) + R"("}})"), false, true), t0 + 10 * kMs);
    send(1, ws_frame(sz(R"({"type":"response.output_text.delta","delta":"Hello"})"), false, true), t0 + 20 * kMs);
    send(1, ws_frame(sz(completed("resp_" + std::to_string(turn), 100 + turn, 0, 7, 0)), false, true), t0 + 50 * kMs);
  }
  conn.close(1000 * kMs);
  for (auto& d : dec) d->finish(1000 * kMs);
  session->close(1000 * kMs);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].usage.input_tokens, 100);
  EXPECT_EQ(calls[1].usage.input_tokens, 101);
  EXPECT_EQ(calls[1].response_id, "resp_1");
  EXPECT_DOUBLE_EQ(*calls[1].latency_ms, 50.0);
  EXPECT_DOUBLE_EQ(*calls[1].ttft_ms, 20.0);
  EXPECT_EQ(dec[1]->stats().compressed_messages, 7u);
  EXPECT_EQ(dec[0]->stats().inflate_errors + dec[1]->stats().inflate_errors, 0u);
}

}  // namespace
