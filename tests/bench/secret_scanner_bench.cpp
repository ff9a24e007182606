// Secret-scanner throughput on a 1 MiB request body shaped like a coding agent's: prose,
// code and logs in tool results, one base64 screenshot, and a few secrets and PII among
// them (issue 11 asks for >= 1 GB/s per core). Each run checks the scan found them, so a
// scanner that silently does nothing cannot post a good figure.
#include <benchmark/benchmark.h>

#include <string>

#include "detect/secret_scanner.h"

namespace {

std::string rnd(size_t n, uint32_t seed, std::string_view alphabet) {
  std::string out;
  uint32_t x = seed * 2654435761u + 1u;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out.push_back(alphabet[x % alphabet.size()]);
  }
  return out;
}
constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

const char* kProse =
    "The retry loop in billing/charge.py backs off exponentially, but the jitter is computed "
    "before the sleep, so two workers that fail together retry together. Version 1.21.0-rc.1 "
    "fixed the cache key (sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855) "
    "and request 123e4567-e89b-12d3-a456-426614174000 was replayed at 2024-01-15T10:30:00+00:00. ";
const char* kCode =
    "def charge(customer, amount_cents):\\n    @retry(times=3)\\n    def _once():\\n        "
    "resp = client.post(\\\"/v1/charges\\\", json={\\\"amount\\\": amount_cents, \\\"currency\\\": "
    "\\\"eur\\\"})\\n        if resp.status_code >= 500:\\n            raise "
    "Transient(resp.text)\\n"
    "        return resp.json()[\\\"id\\\"]\\n    for i in range(0, n+1):\\n        total += "
    "items[i+1]"
    "\\n    return _once()\\n";
const char* kLog =
    "2024-01-15 10:30:01.123 INFO  worker-3 charge ok id=ch_3OaBc2 latency_ms=182 retries=0\\n"
    "2024-01-15 10:30:02.456 WARN  worker-1 upstream 503 after 2013 ms, retrying in 400 ms\\n";

std::string make_body() {
  std::string secrets_turn =
      "Here is my .env, why does it fail?\\nOPENAI_API_KEY=sk-proj-" + rnd(120, 1, kAlnum) +
      "\\nDATABASE_URL=postgres://app:Tr0ub4dor3xq@db.internal:5432/app\\nSUPPORT_EMAIL="
      "oncall@acme-corp.com\\nGH_TOKEN=ghp_" +
      rnd(36, 2, kAlnum) + "\\n";
  std::string body = R"({"model":"claude-sonnet-4-5","max_tokens":8192,"stream":true,)"
                     R"("system":"You are a careful coding agent. )";
  for (int i = 0; i < 20; i++) body += kProse;
  body += R"(","messages":[)";
  int turn = 0;
  auto add_turn = [&](const std::string& role, const std::string& content) {
    if (turn++ > 0) body += ',';
    body += R"({"role":")" + role + R"(","content":[{"type":"text","text":")" + content + R"("}]})";
  };
  add_turn("user", secrets_turn);
  // a pasted screenshot
  body +=
      R"(,{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":")" +
      rnd(256 * 1024, 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") +
      R"("}}]})";
  turn++;
  while (body.size() < (1u << 20) - 4096) {
    std::string t;
    for (int i = 0; i < 6; i++) t += kProse;
    add_turn("assistant", t);
    std::string tool;
    for (int i = 0; i < 10; i++) tool += kCode;
    for (int i = 0; i < 10; i++) tool += kLog;
    add_turn("user", tool);
  }
  add_turn("user", "Call me at +44 20 7946 0958 if the card 4539 1488 0343 6467 is declined.");
  body +=
      R"(],"tools":[{"name":"read_file","description":"Read a file","input_schema":{"type":"object"}}]})";
  return body;
}

void BM_SecretScan1MiB(benchmark::State& state) {
  auto s = rein::detect::SecretScanner::create(rein::llm::Fingerprinter(std::array<uint8_t, 32>{}));
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  std::string body = make_body();
  size_t findings = 0;
  for (auto _ : state) {
    auto r = s->scan(body, "anthropic");
    findings = r.findings.size();
    benchmark::DoNotOptimize(r);
  }
  // openai key, url password, email, github token, phone, card
  if (findings < 6) state.SkipWithError("the scan did not find the planted secrets");
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(body.size()));
  state.counters["findings"] = double(findings);
  state.counters["body_bytes"] = double(body.size());
}
BENCHMARK(BM_SecretScan1MiB)->Unit(benchmark::kMicrosecond);

// The common case: nothing to report, so no JSON walk at all.
void BM_SecretScanClean1MiB(benchmark::State& state) {
  auto s = rein::detect::SecretScanner::create(rein::llm::Fingerprinter(std::array<uint8_t, 32>{}));
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  std::string body = R"({"messages":[{"role":"user","content":")";
  while (body.size() < (1u << 20)) {
    body += kProse;
    body += kCode;
    body += kLog;
  }
  body += R"("}]})";
  size_t findings = 0;
  for (auto _ : state) {
    auto r = s->scan(body, "anthropic");
    findings += r.findings.size();
    benchmark::DoNotOptimize(r);
  }
  if (findings != 0) state.SkipWithError("false positives in the clean body");
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(body.size()));
}
BENCHMARK(BM_SecretScanClean1MiB)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
