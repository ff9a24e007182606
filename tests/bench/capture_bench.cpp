// Capture (issue 9): how fast `rein run --capture` can write ring records, how well they
// compress, and how fast `rein replay` reads them back through the same SensorPipeline
// (pipeline/capture_replay). The records are built byte for byte from the kernel ABI
// (tests/unit/abi_record_builder.h) in two shapes (kShapes): a coding session (large
// records) and the LLM benchmark's small streamed chat completions (small records).
// Targets (printed, never enforced): write >= 100 MB/s of records, replay >= 500k records/s.
// Exit status 1 only when the work was not done (drops, records lost, no events).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../unit/abi_record_builder.h"
#include "capture/capture_reader.h"
#include "capture/capture_writer.h"
#include "capture/segment_format.h"
#include "llm/key_fingerprint.h"
#include "llm/price_table.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/capture_replay.h"
#include "pipeline/selectors.h"
#include "pipeline/sensor_pipeline.h"

namespace {

using namespace rein::testrec;
namespace fs = std::filesystem;

// Two shapes of traffic. coding: 8 agents x 40 calls of a coding session (request bodies
// growing to ~64 KiB, 20-60 SSE events, a tool run between calls): large records.
// chat_loop: the record shape of tests/bench/llm_overhead.py's tracked loop: one client, 2000
// small streamed chat completions ("hi", 10 deltas) on one connection: small records.
struct Shape {
  const char* name;
  int agents, calls;
  bool coding;
};
constexpr Shape kShapes[] = {{"coding", 8, 40, true}, {"chat_loop", 1, 2000, false}};
constexpr uint32_t kAgentClass = 62;
const std::string kAgentExe = "/usr/bin/agent";

bool g_failed = false;
void fail(benchmark::State& state, const std::string& why) {
  g_failed = true;
  fmt::print(stderr, "capture_bench: FAILED: {}\n", why);
  state.SkipWithError(why.c_str());
}

// ---- the workload ---------------------------------------------------------------------------

struct Rng {
  uint64_t x;
  uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  size_t below(size_t n) { return size_t(next() % n); }
};

const char* kWords[] = {
    "the",      "function", "returns", "value",   "when",     "file",      "config", "test",
    "error",    "request",  "handler", "module",  "should",   "update",    "import", "class",
    "because",  "fails",    "with",    "state",   "parser",   "missing",   "path",   "check",
    "user",     "session",  "token",   "cache",   "build",    "compile",   "output", "input",
    "we",       "need",     "to",      "change",  "this",     "line",      "so",     "that",
    "it",       "works",    "again",   "after",   "refactor", "interface", "layer",  "async",
    "response", "stream",   "retry",   "timeout", "buffer",   "length",    "index",  "record"};

std::string prose(Rng& r, size_t bytes) {
  std::string s;
  while (s.size() < bytes) {
    s += kWords[r.below(std::size(kWords))];
    s += r.below(12) == 0 ? ". " : " ";
  }
  return s;
}

// Source and log lines as a tool result carries them (JSON-escaped newlines and quotes).
std::string code(Rng& r, size_t bytes) {
  std::string s;
  int n = 0;
  while (s.size() < bytes) {
    switch (r.below(4)) {
      case 0:
        s += fmt::format("def {}_{}(self, {}):\\n", kWords[r.below(56)], n, kWords[r.below(56)]);
        break;
      case 1:
        s += fmt::format("    if self.{} is None:\\n        raise ValueError(\\\"{} {}\\\")\\n",
                         kWords[r.below(56)], kWords[r.below(56)], kWords[r.below(56)]);
        break;
      case 2:
        s += fmt::format("2026-11-30 14:{:02}:{:02}.{:03} INFO worker-{} {} {} id={:x} ms={}\\n",
                         r.below(60), r.below(60), r.below(1000), r.below(8), kWords[r.below(56)],
                         kWords[r.below(56)], r.next() & 0xffffff, r.below(900));
        break;
      default:
        s += fmt::format("    return {}.{}({}[{}])\\n", kWords[r.below(56)], kWords[r.below(56)],
                         kWords[r.below(56)], r.below(100));
    }
    n++;
  }
  return s;
}

struct Workload {
  std::vector<Bytes> records;
  uint64_t record_bytes = 0;
  uint64_t calls = 0;
  uint64_t last_ts = 0;
};

Bytes data_rec(const Hdr& h, uint8_t dir, uint64_t conn, uint64_t offset, std::string_view piece,
               uint32_t call_len) {
  rein_data d{};
  fill(d.h, REIN_REC_DATA, h);
  d.conn = conn;
  d.offset = offset;
  d.len = uint32_t(piece.size());
  d.call_len = call_len;
  d.fd = 7;
  d.dir = dir;
  d.source = REIN_SRC_OPENSSL;
  d.peer_family = AF_INET;
  d.peer_port = 443;
  d.peer_addr[10] = d.peer_addr[11] = 0xff;
  d.peer_addr[12] = 10;
  d.peer_addr[13] = 1;
  d.peer_addr[14] = 2;
  d.peer_addr[15] = 3;
  return assemble(d, {piece});
}

struct AgentState {
  uint32_t tgid;
  uint64_t conn;
  uint64_t out_off = 0, in_off = 0;
  std::string system;
  std::vector<std::string> turns;  // JSON message objects
};

Workload make_workload(const Shape& shape) {
  Workload w;
  Rng r{0x9E3779B97F4A7C15ULL};
  uint64_t ts = 1'000'000'000;
  auto push = [&](Bytes b) {
    w.record_bytes += b.size();
    w.records.push_back(std::move(b));
  };
  std::vector<AgentState> agents;
  for (int a = 0; a < shape.agents; a++) {
    AgentState s;
    s.tgid = 10'000 + uint32_t(a) * 1000;
    s.conn = 0xffff888000100000ULL + uint64_t(a) * 0x1000;
    s.system = "You are a careful coding agent working in a repository. " + prose(r, 3000);
    s.turns.push_back(R"({"role":"user","content":"Fix the failing test in the parser module. )" +
                      prose(r, 400) + "\"}");
    Hdr h{ts += 1'000'000, s.tgid, s.tgid};
    Exec x;
    x.h = h;
    x.flags = REIN_F_NEW_AGENT;
    x.comm = "agent";
    x.exe = kAgentExe;
    x.args = {"agent", "--model", "gpt-4o", "--cwd", "/work/proj"};
    x.cwd = "/work/proj";
    push(exec_rec(x));
    Dns q;
    q.h = Hdr{ts += 100'000, s.tgid, s.tgid};
    q.cookie = 0x5000 + uint64_t(a);
    push(dns_rec(q, dns_message(uint16_t(0x100 + a), false, "api.openai.com", 1)));
    q.h.ts = ts += 2'000'000;
    q.ingress = true;
    push(dns_rec(q, dns_message(uint16_t(0x100 + a), true, "api.openai.com", 1,
                                {{1, ipv4_bytes("10.1.2.3")}})));
    push(connect_rec(Hdr{ts += 100'000, s.tgid, s.tgid}, sockaddr_v4("10.1.2.3", 443), 0, 7));
    agents.push_back(std::move(s));
  }
  for (int c = 0; c < shape.calls; c++) {
    for (auto& s : agents) {
      Hdr h{ts, s.tgid, s.tgid};
      // The request: the conversation so far, oldest turns dropped past ~64 KiB (compaction).
      std::string body =
          R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
          R"("messages":[{"role":"system","content":")" +
          s.system + "\"}";
      size_t keep = s.turns.size();
      size_t total = 0;
      while (keep > 0 && total + s.turns[keep - 1].size() < 60'000) total += s.turns[--keep].size();
      for (size_t i = keep; i < s.turns.size(); i++) body += "," + s.turns[i];
      body +=
          R"(],"tools":[{"type":"function","function":{"name":"run_shell","parameters":{"type":"object"}}}]})";
      if (!shape.coding)
        body = R"({"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},)"
               R"("messages":[{"role":"user","content":"hi"}]})";
      std::string head = fmt::format(
          "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nAccept-Encoding: "
          "identity\r\n"
          "Content-Type: application/json\r\nAuthorization: Bearer "
          "sk-proj-BENCHkey0123456789abcdefghijklmnop"
          "\r\nUser-Agent: agent/1.0\r\nContent-Length: {}\r\n\r\n",
          body.size());
      h.ts = ts += 50'000;
      push(data_rec(h, REIN_DIR_EGRESS, s.conn, s.out_off, head, uint32_t(head.size())));
      s.out_off += head.size();
      for (size_t off = 0; off < body.size(); off += REIN_DATA_CHUNK) {
        auto piece = std::string_view(body).substr(off, REIN_DATA_CHUNK);
        push(data_rec(h, REIN_DIR_EGRESS, s.conn, s.out_off + off, piece, uint32_t(body.size())));
      }
      s.out_off += body.size();
      // The response: headers, then one SSE event per TLS read (chunked encoding).
      auto in = [&](const std::string& piece) {
        h.ts = ts += shape.coding ? 20'000'000 : 100'000;
        push(data_rec(h, REIN_DIR_INGRESS, s.conn, s.in_off, piece, uint32_t(piece.size())));
        s.in_off += piece.size();
      };
      in("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
         "x-request-id: req_" +
         std::to_string(r.next() & 0xffffffff) + "\r\n\r\n");
      const std::string id = fmt::format("chatcmpl-{:016x}", r.next());
      const int deltas = shape.coding ? 20 + int(r.below(40)) : 10;
      std::string reply;
      for (int d = 0; d < deltas; d++) {
        std::string tok = prose(r, 12);
        reply += tok;
        std::string ev = fmt::format(
            R"(data: {{"id":"{}","object":"chat.completion.chunk","created":1764511200,"model":"gpt-4o-2024-08-06","choices":[{{"index":0,"delta":{{"content":"{}"}},"finish_reason":null}}],"usage":null}})"
            "\n\n",
            id, tok);
        in(fmt::format("{:x}\r\n{}\r\n", ev.size(), ev));
      }
      std::string usage = fmt::format(
          R"(data: {{"id":"{}","object":"chat.completion.chunk","choices":[],"usage":{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}}})"
          "\n\ndata: [DONE]\n\n",
          id, body.size() / 4, deltas, body.size() / 4 + size_t(deltas));
      in(fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", usage.size(), usage));
      w.calls++;
      ts += shape.coding ? 0 : 1'000'000;
      if (!shape.coding) continue;
      s.turns.push_back(R"({"role":"assistant","content":")" + reply + "\"}");
      // The tool the model asked for: a child runs, writes a file, exits; its output is the
      // next turn.
      const uint32_t child = s.tgid + 1 + uint32_t(c);
      Hdr ch{ts += 1'000'000, child, s.tgid};
      push(fork_rec(ch, s.tgid, "agent"));
      Exec x;
      x.h = Hdr{ts += 500'000, child, s.tgid};
      x.ppid = s.tgid;
      bool git = r.below(2) == 0;
      x.comm = git ? "git" : "python3";
      x.exe = git ? "/usr/bin/git" : "/usr/bin/python3";
      x.args =
          git ? std::vector<std::string>{"git", "diff", "--stat"}
              : std::vector<std::string>{"python3", "-m", "pytest", "-q", "tests/test_parser.py"};
      x.cwd = "/work/proj";
      push(exec_rec(x));
      FileOpen fo;
      fo.h = Hdr{ts += 2'000'000, child, s.tgid};
      fo.file_id = 0xffff888000200000ULL + uint64_t(child);
      fo.path = fmt::format("/work/proj/src/{}_{}.py", kWords[r.below(56)], c);
      push(file_open_rec(fo));
      push(file_close_rec(Hdr{ts += 1'000'000, child, s.tgid}, fo.file_id, fo.fd, 3, 2400));
      push(exit_rec(Hdr{ts += 5'000'000, child, s.tgid}, 0, s.tgid));
      s.turns.push_back(R"({"role":"user","content":"Tool output:\n)" +
                        code(r, 800 + r.below(3000)) + "\"}");
      ts += 200'000'000;
    }
  }
  for (auto& s : agents) push(exit_rec(Hdr{ts += 1'000'000, s.tgid, s.tgid}, 0));
  w.last_ts = ts;
  return w;
}

const Workload& workload(int shape) {
  static const Workload w[] = {make_workload(kShapes[0]), make_workload(kShapes[1])};
  return w[shape];
}

rein::capture::HostKey bench_key() {
  rein::capture::HostKey k;
  k.fill(0x5a);
  return k;
}

rein::llm::Fingerprinter make_fp() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); i++) k[i] = uint8_t(i * 7 + 1);
  return rein::llm::Fingerprinter(k);
}

std::string prices_path() {
  return std::string(REIN_SOURCE_DIR) + "/data/prices.json";
}

struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/rein-capture-bench-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
  }
  ~TempRoot() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};
TempRoot& temp_root() {
  static TempRoot t;
  return t;
}

class CountingSink final : public rein::pipeline::LineSink {
 public:
  void write_line(std::string_view line) override {
    lines++;
    llm_calls += line.find("\"type\":\"llm.call\"") != std::string_view::npos;
  }
  void flush() override {}
  uint64_t lines = 0, llm_calls = 0;
};

// Figures of the last run, for the summary after the benchmarks (rates: the Reporter).
struct Summary {
  double ratio = 0;
  uint64_t on_disk = 0, replay_records = 0, replay_lines = 0;
} g_sum[2];

double cpu_now(clockid_t which) {
  timespec t{};
  clock_gettime(which, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// The block compressor's choice: the records in 1 MiB blocks (the writer's block size), compressed
// with zstd at the writer's level (capture::kZstdLevel) and its fast levels -1, -3 and -5, and zlib levels 1 (before format version 2) and 6 (zlib's default);
// ratio and MB of records per CPU-second of each. Records only (no entry framing).
void print_compressor_choice(const Workload& w) {
  std::vector<std::string> blocks(1);
  for (const auto& r : w.records) {
    if (blocks.back().size() + r.size() > (1u << 20)) blocks.emplace_back();
    blocks.back().append(reinterpret_cast<const char*>(r.data()), r.size());
  }
  auto run = [&](const char* name, auto&& compress) {
    std::string out;
    uint64_t in = 0, outb = 0;
    // An untimed pass first: the first codec run in the process paid for faulting in its
    // buffers and the compressor's tables, and came out slowest whichever it was.
    for (const auto& b : blocks) compress(b, out);
    const double c0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
    for (const auto& b : blocks) {
      in += b.size();
      outb += compress(b, out);
    }
    const double cpu = cpu_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    fmt::print("  {}: ratio {:.2f}, {:.0f} MB of records per CPU-second\n", name,
               double(in) / double(std::max<uint64_t>(outb, 1)), double(in) / 1e6 / cpu);
  };
  auto zlib_at = [](int level) {
    return [level](const std::string& b, std::string& out) -> uint64_t {
      uLongf n = compressBound(uLong(b.size()));
      out.resize(n);
      if (compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                    reinterpret_cast<const Bytef*>(b.data()), uLong(b.size()), level) != Z_OK)
        return b.size();
      return n;
    };
  };
  for (int level : {rein::capture::kZstdLevel, -1, -3, -5}) {
    const std::string name = fmt::format("zstd level {}{}", level,
                                         level == rein::capture::kZstdLevel ? " (the writer's)" : "");
    run(name.c_str(), [level](const std::string& b, std::string& out) -> uint64_t {
      out.resize(ZSTD_compressBound(b.size()));
      size_t n = ZSTD_compress(out.data(), out.size(), b.data(), b.size(), level);
      return ZSTD_isError(n) ? b.size() : n;
    });
  }
  run("zlib level 1 (the writer's before format version 2)", zlib_at(1));
  run("zlib level 6 (zlib's default)", zlib_at(6));
}

// ---- write ------------------------------------------------------------------------------------

// The writer alone (what its thread can sustain): every record as a RingRecord entry,
// appended as the recorder appends it (append_record), then close() (everything compressed, MAC'd,
// written and the segment closed). The records fit in the writer's 32 MiB queue, so a drop is a
// failure, not back-pressure. scrub: through CaptureRecorder as `rein run --capture` does
// (credentials replaced on the appending thread first).
void run_write(benchmark::State& state, bool scrub) {
  const auto& w = workload(int(state.range(0)));
  uint64_t on_disk = 0;
  int n = 0;
  double cpu_s = 0;  // both threads: the appending one and the writer
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir =
        fmt::format("{}/write-{}-{}-{}", temp_root().path, state.range(0), scrub, n++);
    const double cpu0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
    state.ResumeTiming();
    auto wr = rein::capture::CaptureWriter::open(dir, bench_key());
    if (!wr) return fail(state, "open: " + wr.error().message);
    if (scrub) {
      auto fp = make_fp();
      rein::pipeline::CaptureWriterJournal j(**wr);
      rein::pipeline::CaptureRecorder rec(j, fp);
      for (const auto& b : w.records) rec.record(b);
    } else {
      for (const auto& b : w.records)
        (*wr)->append_record({reinterpret_cast<const char*>(b.data()), b.size()});
    }
    (*wr)->close();
    state.PauseTiming();
    cpu_s += cpu_now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    auto st = (*wr)->stats();
    on_disk = st.bytes_written;
    // The recorder adds a SecretFingerprint entry for the bearer token.
    if (st.entries_written != st.entries_appended || st.entries_written < w.records.size() ||
        st.dropped_queue_full || st.dropped_write_error || st.dropped_too_large)
      return fail(state,
                  fmt::format("{} entries written for {} records, {} appended (drops: queue {}, "
                              "write {}, too large {})",
                              st.entries_written, w.records.size(), st.entries_appended,
                              st.dropped_queue_full, st.dropped_write_error, st.dropped_too_large));
    wr->reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.record_bytes));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(w.records.size()));
  const double ratio = double(w.record_bytes) / double(on_disk);
  state.counters["compression_ratio"] = ratio;
  state.counters["record_MB"] = double(w.record_bytes) / 1e6;
  state.counters["disk_MB"] = double(on_disk) / 1e6;
  state.counters["records"] = double(w.records.size());
  state.counters["MB_per_s"] = benchmark::Counter(double(w.record_bytes) / 1e6,
                                                  benchmark::Counter::kIsIterationInvariantRate);
  // Wall time suffers from whatever else runs on the machine; CPU seconds do much less.
  state.counters["MB_per_cpu_s"] =
      double(w.record_bytes) / 1e6 * double(state.iterations()) / cpu_s;
  g_sum[state.range(0)].ratio = ratio;
  g_sum[state.range(0)].on_disk = on_disk;
  state.SetLabel(kShapes[state.range(0)].name);
}

void BM_CaptureWrite(benchmark::State& state) {
  run_write(state, false);
}
void BM_CaptureRecordAndWrite(benchmark::State& state) {
  run_write(state, true);
}
BENCHMARK(BM_CaptureWrite)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_CaptureRecordAndWrite)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

// ---- the capture replay reads: made once by a live pipeline, as `rein run --capture` does ----

struct Captured {
  std::string dir;
  uint64_t live_lines = 0, live_calls = 0;
  std::string error;
};

Captured make_captured(int shape) {
  {
    Captured out;
    const auto& w = workload(shape);
    out.dir = fmt::format("{}/replay-{}", temp_root().path, shape);
    auto prices = rein::llm::PriceTable::load(prices_path(), "");
    if (!prices) {
      out.error = "prices: " + prices.error().message;
      return out;
    }
    auto fp = make_fp();
    auto wr = rein::capture::CaptureWriter::open(out.dir, bench_key());
    if (!wr) {
      out.error = "open: " + wr.error().message;
      return out;
    }
    CountingSink live;
    {
      rein::pipeline::CaptureWriterJournal j(**wr);
      rein::pipeline::CaptureRecorder rec(j, fp);
      rein::capture::Context ctx;
      ctx.set_abi_version(REIN_ABI_VERSION);
      ctx.set_realtime_minus_boottime_ns(1'764'500'000'000'000'000LL);
      auto* spec = ctx.add_selector_specs();
      spec->set_kind(uint32_t(rein::pipeline::SelectorKind::Exe));
      spec->set_value(kAgentExe);
      spec->set_name("agent");
      spec->set_agent_class(kAgentClass);
      ctx.set_prices_path(prices_path());
      rec.context(ctx);
      auto sels = rein::pipeline::SelectorSet::build(
          {{rein::pipeline::SelectorKind::Exe, kAgentExe, "agent", kAgentClass}});
      if (!sels) {
        out.error = "selectors: " + sels.error().message;
        return out;
      }
      rein::pipeline::SensorPipeline pipe(std::move(*sels), live,
                                          rec.wrap(rein::pipeline::TrackFn{}), nullptr,
                                          rein::pipeline::LlmConfig{&*prices, &fp});
      pipe.set_input_journal(rec.inputs());
      pipe.set_clock_offset(ctx.realtime_minus_boottime_ns());
      pipe.set_tls_coverage(rec.wrap(rein::pipeline::TlsCoverageFn{}));
      rec.health(pipe, 500'000'000, "started", {{"ring_drops", 0}});
      uint64_t next_tick = 0;
      for (const auto& b : w.records) {
        pipe.on_record(b);
        rec.record(b);
        uint64_t ts = reinterpret_cast<const rein_hdr*>(b.data())->ts_ns;
        if (ts >= next_tick) {  // the live loop ticks about every 100 ms
          pipe.tick(ts);
          rec.tick(ts);
          next_tick = ts + 100'000'000;
        }
      }
      pipe.finish(w.last_ts + 1'000'000);
      rec.finish(w.last_ts + 1'000'000);
      rec.health(pipe, w.last_ts + 2'000'000, "stopped", {{"ring_drops", 0}});
    }
    (*wr)->close();
    auto st = (*wr)->stats();
    if (st.dropped_queue_full || st.dropped_write_error || st.dropped_too_large)
      out.error = fmt::format("the live capture dropped entries (queue {}, write {}, too large {})",
                              st.dropped_queue_full, st.dropped_write_error, st.dropped_too_large);
    out.live_lines = live.lines;
    out.live_calls = live.llm_calls;
    return out;
  }
}

const Captured& captured(int shape) {
  static const Captured c[] = {make_captured(0), make_captured(1)};
  return c[shape];
}

// Reading alone: inflate, HMAC chain, parse every entry.
void BM_CaptureRead(benchmark::State& state) {
  const int shape = int(state.range(0));
  const auto& c = captured(shape);
  if (!c.error.empty()) return fail(state, c.error);
  uint64_t records = 0;
  for (auto _ : state) {
    records = 0;
    auto r = rein::capture::CaptureReader::open(c.dir, bench_key());
    if (!r) return fail(state, "reader: " + r.error().message);
    for (;;) {
      auto e = (*r)->next();
      if (!e) return fail(state, "read: " + e.error().message);
      if (!*e) break;
      records += (*e)->has_record();
    }
  }
  if (records != workload(shape).records.size())
    return fail(state,
                fmt::format("read {} records of {}", records, workload(shape).records.size()));
  state.SetLabel(kShapes[shape].name);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(records));
  state.counters["records_per_s"] =
      benchmark::Counter(double(records), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CaptureRead)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Read + replay through the same pipeline `rein replay` builds (pipeline/capture_replay).
void BM_CaptureReplay(benchmark::State& state) {
  const int shape = int(state.range(0));
  const auto& c = captured(shape);
  if (!c.error.empty()) return fail(state, c.error);
  uint64_t records = 0, lines = 0, calls = 0;
  double startup_s = 0, steady_s = 0;  // this thread's CPU: building the pipeline / the rest
  for (auto _ : state) {
    const double t0 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
    double t_built = 0;
    CountingSink out;
    rein::pipeline::ReplayOptions o;
    o.default_prices_path = prices_path();
    rein::pipeline::Replayer rp(out, o);
    auto r = rein::capture::CaptureReader::open(c.dir, bench_key());
    if (!r) return fail(state, "reader: " + r.error().message);
    for (;;) {
      auto e = (*r)->next();
      if (!e) return fail(state, "read: " + e.error().message);
      if (!*e) break;
      if (auto ok = rp.feed(**e); !ok) return fail(state, "replay: " + ok.error().message);
      // The pipeline (prices, the secret scanner's Hyperscan database) is built at the
      // first input: a fixed cost per replay, apart from the per-record rate.
      if (!t_built && rp.stats().records + rp.stats().ticks + rp.stats().health > 0)
        t_built = cpu_now(CLOCK_THREAD_CPUTIME_ID);
    }
    rp.end();
    const double t1 = cpu_now(CLOCK_THREAD_CPUTIME_ID);
    startup_s += t_built - t0;
    steady_s += t1 - t_built;
    records = rp.stats().records;
    lines = out.lines;
    calls = out.llm_calls;
  }
  const auto& w = workload(shape);
  if (records != w.records.size())
    return fail(state, fmt::format("replayed {} records of {} written", records, w.records.size()));
  if (lines == 0 || calls != w.calls)
    return fail(state, fmt::format("replay printed {} lines, {} llm.call of {} calls", lines, calls,
                                   w.calls));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(records));
  state.counters["records"] = double(records);
  state.counters["events_out"] = double(lines);
  state.counters["live_events"] = double(c.live_lines);
  state.counters["llm_calls"] = double(calls);
  state.counters["records_per_s"] =
      benchmark::Counter(double(records), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["startup_ms"] = startup_s * 1e3 / double(state.iterations());
  state.counters["steady_records_per_s"] = double(records) * double(state.iterations()) / steady_s;
  state.counters["steady_MB_per_s"] =
      double(w.record_bytes) / 1e6 * double(state.iterations()) / steady_s;
  g_sum[shape].replay_records = records;
  g_sum[shape].replay_lines = lines;
  state.SetLabel(kShapes[shape].name);
}
// CPU time (one thread): the rate is the work's, not the machine's load.
BENCHMARK(BM_CaptureReplay)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Collects the rates Google Benchmark computed, for the targets line.
class Reporter : public benchmark::ConsoleReporter {
 public:
  struct Figures {
    double write_mbps = 0, write_cpu_mbps = 0, record_write_mbps = 0, record_write_cpu_mbps = 0;
    double read_rps = 0, replay_rps = 0, steady_rps = 0, steady_mbps = 0, startup_ms = 0;
  };
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      auto get = [&](const char* k) {
        auto it = r.counters.find(k);
        return it == r.counters.end() ? 0.0 : double(it->second);
      };
      const std::string name = r.benchmark_name();
      auto& f = fig[name.find("/1") != std::string::npos ? 1 : 0];
      auto is = [&](const char* b) { return name.rfind(std::string(b) + "/", 0) == 0; };
      if (is("BM_CaptureWrite")) {
        f.write_mbps = get("MB_per_s");
        f.write_cpu_mbps = get("MB_per_cpu_s");
      }
      if (is("BM_CaptureRecordAndWrite")) {
        f.record_write_mbps = get("MB_per_s");
        f.record_write_cpu_mbps = get("MB_per_cpu_s");
      }
      if (is("BM_CaptureRead")) f.read_rps = get("records_per_s");
      if (is("BM_CaptureReplay")) {
        f.replay_rps = get("records_per_s");
        f.steady_rps = get("steady_records_per_s");
        f.steady_mbps = get("steady_MB_per_s");
        f.startup_ms = get("startup_ms");
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  Figures fig[2];
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (temp_root().path.empty()) {
    fmt::print(stderr, "capture_bench: no temp dir\n");
    return 1;
  }
  for (int i = 0; i < 2; i++) {
    const auto& w = workload(i);
    fmt::print(
        "workload {} ({}): {} agent(s) x {} streamed chat completions, {} ring records, "
        "{:.1f} MB ({:.0f} bytes/record)\n",
        i, kShapes[i].name, kShapes[i].agents, kShapes[i].calls, w.records.size(),
        double(w.record_bytes) / 1e6, double(w.record_bytes) / double(w.records.size()));
  }
  Reporter rep;
  benchmark::RunSpecifiedBenchmarks(&rep);
  benchmark::Shutdown();
  for (int i = 0; i < 2; i++) {
    const auto& w = workload(i);
    const auto& f = rep.fig[i];
    const auto& g = g_sum[i];
    fmt::print("\n{} ({:.0f} bytes/record):\n", kShapes[i].name,
               double(w.record_bytes) / double(w.records.size()));
    fmt::print(
        "  capture write (queue, zstd, HMAC chain, segment file): {:.0f} MB/s of records "
        "wall, {:.0f} MB per CPU-second (target >= 100 MB/s)\n",
        f.write_mbps, f.write_cpu_mbps);
    fmt::print(
        "  with the credential scrubber first, as rein run --capture: {:.0f} MB/s wall, {:.0f} MB "
        "per CPU-second\n",
        f.record_write_mbps, f.record_write_cpu_mbps);
    fmt::print(
        "  compression ratio (record bytes / bytes on disk): {:.2f} ({:.1f} MB -> {:.2f} MB)\n",
        g.ratio, double(w.record_bytes) / 1e6, double(g.on_disk) / 1e6);
    print_compressor_choice(w);
    fmt::print("  capture read alone (inflate, MACs, parse; CPU time): {:.0f}k records/s\n",
               f.read_rps / 1e3);
    fmt::print(
        "  read + replay through the SensorPipeline (CPU time): {:.0f}k records/s whole run, "
        "{:.0f}k "
        "records/s ({:.0f} MB/s) once the pipeline is built ({:.0f} ms) (target >= 500k "
        "records/s); {} records replayed of {} written, {} events out\n",
        f.replay_rps / 1e3, f.steady_rps / 1e3, f.steady_mbps, f.startup_ms, g.replay_records,
        w.records.size(), g.replay_lines);
  }
  if (g_failed) {
    fmt::print("capture_bench: the work was not done (see above)\n");
    return 1;
  }
  return 0;
}
