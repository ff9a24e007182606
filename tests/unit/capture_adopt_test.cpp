// The /proc snapshot of adopt_existing in a capture: split over Adopt entries when it is
// larger than one entry may be (the writer drops an entry over 4 MiB), joined again in
// replay, so the adopted processes replay the same.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "capture/segment_format.h"
#include "capture_pipeline_util.h"
#include "llm/price_table.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/capture_replay.h"

namespace {

namespace fs = std::filesystem;
using rein::pipeline::CaptureRecorder;
using rein::pipeline::MemoryJournal;

struct Lines : rein::pipeline::LineSink {
  void write_line(std::string_view l) override { lines.emplace_back(l); }
  void flush() override {}
  std::vector<std::string> lines;
};

void write_file(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// pid's stat line with the given comm, ppid and start time (ticks)
std::string stat_line(uint32_t pid, std::string_view comm, uint32_t ppid, uint64_t start) {
  std::string s = std::to_string(pid) + " (" + std::string(comm) + ") S " + std::to_string(ppid);
  for (int f = 5; f <= 21; ++f) s += " 0";
  s += " " + std::to_string(start);
  for (int f = 23; f <= 52; ++f) s += " 0";
  return s + "\n";
}

TEST(CaptureAdopt, LargeSnapshotIsSplitAndReplaysTheSame) {
  char tmpl[] = "/tmp/rein-adopt-XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  const std::string proc = std::string(tmpl) + "/proc";
  for (uint32_t pid = 200; pid < 240; pid++) {
    const std::string d = proc + "/" + std::to_string(pid);
    fs::create_directories(d);
    const bool agent = pid == 220;
    write_file(d + "/stat", stat_line(pid, agent ? "agent" : "sh", 1, 100 + pid));
    write_file(d + "/status", "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n");
    std::string cmd = agent ? std::string("/usr/bin/agent\0--x\0", 19) : std::string("sh\0", 3);
    cmd += std::string(600, 'a') + '\0';  // makes the snapshot span several chunks
    write_file(d + "/cmdline", cmd);
    write_file(d + "/cgroup", "0::/\n");
    fs::create_symlink(agent ? "/usr/bin/agent" : "/bin/sh", d + "/exe");
    fs::create_symlink("/", d + "/cwd");
  }
  auto prices_path = std::string(REIN_SOURCE_DIR) + "/data/prices.json";
  auto prices = rein::llm::PriceTable::load(prices_path, "");
  ASSERT_TRUE(prices);
  rein::llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  MemoryJournal mem;
  Lines live;
  {
    CaptureRecorder rec(mem, fp);
    rec.set_adopt_chunk_bytes(4096);
    const auto ctx = rein::pipeline::testutil::agent_context(prices_path);
    rec.context(ctx);
    auto sels = rein::pipeline::testutil::agent_selectors();
    ASSERT_TRUE(sels);
    rein::pipeline::SensorPipeline pipe(std::move(*sels), live, rec.wrap(rein::pipeline::TrackFn{}),
                                        nullptr, rein::pipeline::LlmConfig{&*prices, &fp});
    pipe.set_input_journal(rec.inputs());
    pipe.set_clock_offset(ctx.realtime_minus_boottime_ns());
    rec.health(pipe, 900'000'000, "started", {});
    EXPECT_EQ(rec.adopt(pipe, proc, std::string(tmpl) + "/work"), 1u);
    rec.finish(5'000'000'000);
    pipe.finish(5'000'000'000);
  }
  int parts = 0, continued = 0;
  for (const auto& e : mem.entries)
    if (e.has_adopt()) {
      parts++;
      continued += e.adopt().continued();
      EXPECT_LT(e.ByteSizeLong(), 4096u + 1024u);
    }
  EXPECT_GT(parts, 3);
  EXPECT_EQ(continued, parts - 1);
  bool adopted = false;
  for (const auto& l : live.lines) adopted |= l.find("\"existing\":true") != std::string::npos;
  EXPECT_TRUE(adopted);

  Lines replay;
  rein::pipeline::ReplayOptions o;
  o.default_prices_path = prices_path;
  rein::pipeline::Replayer r(replay, o);
  for (const auto& e : mem.entries) ASSERT_TRUE(r.feed(e));
  r.end();
  ASSERT_EQ(replay.lines.size(), live.lines.size());
  for (size_t i = 0; i < live.lines.size(); i++) EXPECT_EQ(replay.lines[i], live.lines[i]);
  fs::remove_all(tmpl);
}

}  // namespace
