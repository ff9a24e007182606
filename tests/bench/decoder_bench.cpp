// Decoder throughput on recorded-shape streams: plaintext of an LLM connection pushed
// through HTTP/1.1 reassembly, body decoding and the LLM analyzer, as the sensor does.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "detect/llm_content.h"
#include "llm/key_fingerprint.h"
#include "llm/llm_analyzer.h"
#include "llm/price_table.h"
#include "proto/http1_connection.h"

namespace {

// A keep-alive connection with `n` streamed chat completions of `deltas` SSE chunks each.
struct Recording {
  std::string requests, responses;
};

Recording make_sse_connection(int n, int deltas) {
  Recording r;
  for (int i = 0; i < n; i++) {
    std::string body = R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
                       R"("messages":[{"role":"user","content":"hello there"}]})";
    r.requests += fmt::format(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer "
        "sk-proj-benchmarkkey0123456789\r\nContent-Type: application/json\r\nContent-Length: "
        "{}\r\n\r\n{}",
        body.size(), body);
    std::string events;
    for (int d = 0; d < deltas; d++)
      events += R"(data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"token )" +
                std::to_string(d) + R"( "}}],"usage":null})" "\n\n";
    events += R"(data: {"id":"c","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":)" +
              std::to_string(deltas) + R"(,"prompt_tokens_details":{"cached_tokens":10}}})" "\n\ndata: [DONE]\n\n";
    std::string chunked;
    for (size_t off = 0; off < events.size(); off += 400) {
      auto piece = events.substr(off, 400);
      chunked += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
    }
    chunked += "0\r\n\r\n";
    r.responses += "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked;
  }
  return r;
}

void BM_DecodeStreamedCalls(benchmark::State& state) {
  auto rec = make_sse_connection(20, static_cast<int>(state.range(0)));
  auto prices = rein::llm::PriceTable::load_file(std::string(REIN_SOURCE_DIR) + "/data/prices.json");
  if (!prices) {
    state.SkipWithError(prices.error().message.c_str());
    return;
  }
  rein::llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  size_t calls = 0;
  for (auto _ : state) {
    rein::proto::Http1Connection conn([&](rein::proto::HttpExchange&& ex, uint64_t) {
      if (rein::llm::analyze(ex, *prices, fp)) calls++;
    });
    // TLS records arrive in pieces of at most 16 KiB
    auto feed = [&](int dir, const std::string& s) {
      for (size_t off = 0; off < s.size(); off += 16384) {
        auto n = std::min<size_t>(16384, s.size() - off);
        conn.feed(dir, off, {reinterpret_cast<const uint8_t*>(s.data() + off), n}, off);
      }
    };
    feed(0, rec.requests);
    feed(1, rec.responses);
    conn.close(1);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(rec.requests.size() + rec.responses.size()));
  state.counters["calls"] = benchmark::Counter(double(calls), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeStreamedCalls)->Arg(10)->Arg(200)->Unit(benchmark::kMillisecond);

// What the detections take from one coding-agent-sized request (Claude Code sends its whole
// conversation, system prompt and tool list with every call: hundreds of KB): the
// near-identity hash, the prompt and tool-list shapes and the conversation hash, with a
// small buffered response (the secret/PII scan has its own benchmark). Args: messages in the conversation; 1 =
// one extractor for all iterations (an agent's later calls: the prompt and tool-list shapes
// come from its cache), 0 = a new one each time (a first call).
void BM_DetectContentLargeRequest(benchmark::State& state) {
  std::string tools, msgs;
  for (int t = 0; t < 30; t++)
    tools += fmt::format(
        R"({}{{"name":"tool_{}","description":"{}","input_schema":{{"type":"object","properties":{{"path":{{"type":"string","description":"{}"}}}}}}}})",
        t ? "," : "", t, std::string(300, 'd'), std::string(200, 'p'));
  for (int m = 0; m < state.range(0); m++)
    msgs += fmt::format(R"({}{{"role":"{}","content":"{} line {}\nsee src/file_{}.c and run make test"}})",
                        m ? "," : "", m % 2 ? "assistant" : "user", std::string(1800, 'x'), m, m);
  rein::proto::HttpExchange ex;
  ex.request.method = "POST";
  ex.request.target = "/v1/messages";
  ex.request.host = "api.anthropic.com";
  ex.request.body = fmt::format(
      R"({{"model":"claude-sonnet-4-5","max_tokens":8192,"system":"{}","tools":[{}],"messages":[{}],"metadata":{{"user_id":"u"}},"stream":false}})",
      std::string(12000, 's'), tools, msgs);
  auto& resp = ex.response.emplace();
  resp.status = 200;
  resp.complete = true;
  resp.headers.push_back({"content-type", "application/json"});
  resp.body = R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Done: see https://example.com/x"}],"usage":{"input_tokens":50000,"output_tokens":20}})";
  rein::detect::LlmContentExtractor extractor;
  const bool warm = state.range(1) != 0;
  size_t hashed = 0;
  for (auto _ : state) {
    if (warm) {
      hashed += extractor.extract(ex).request_hash != 0;
    } else {
      rein::detect::LlmContentExtractor cold;
      hashed += cold.extract(ex).request_hash != 0;
    }
  }
  if (int64_t(hashed) != int64_t(state.iterations())) state.SkipWithError("request not parsed");
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(ex.request.body.size()));
  state.counters["request_kib"] = double(ex.request.body.size()) / 1024;
}
BENCHMARK(BM_DetectContentLargeRequest)
    ->Args({20, 1})
    ->Args({200, 1})
    ->Args({20, 0})
    ->Args({200, 0})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
