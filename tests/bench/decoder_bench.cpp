// Decoder throughput on recorded-shape streams: plaintext of an LLM connection pushed
// through HTTP/1.1 reassembly, body decoding and the LLM analyzer, as the sensor does.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>
#include <vector>

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

}  // namespace

BENCHMARK_MAIN();
