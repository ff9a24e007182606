// The /proc snapshot of adopt_existing in a capture: split over Adopt entries when it is
// larger than one entry may be (the writer drops an entry over 4 MiB), joined again in
// replay, so the adopted processes replay the same.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <string>

#include "capture/segment_format.h"
#include "capture_pipeline_util.h"
#include "llm/price_table.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/capture_replay.h"
#include "pipeline/proc_snapshot_source.h"
#include "process/proc_reader.h"
#include "process/process_table.h"

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
    EXPECT_EQ(rec.adopt(pipe, proc), 1u);
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

// The in-memory snapshot seeds the table exactly as the directory it was taken from does
// (the owner fallback aside: a snapshot keeps no owners, so a process without a readable
// status line gets uid 0 there and the directory owner here).
TEST(CaptureAdopt, SnapshotSeedsLikeTheDirectoryItWasTakenFrom) {
  char tmpl[] = "/tmp/rein-snap-XXXXXX";
  ASSERT_TRUE(mkdtemp(tmpl));
  const std::string proc = tmpl;
  for (uint32_t pid : {300u, 301u, 302u}) {
    const std::string d = proc + "/" + std::to_string(pid);
    fs::create_directories(d);
    write_file(d + "/stat", stat_line(pid, pid == 302 ? "a b) c" : "w", 300, 50 + pid));
    write_file(d + "/status", "Name:\tx\nUid:\t" + std::to_string(1000 + pid) + "\t0\t0\t0\n");
    write_file(d + "/cmdline", pid == 301 ? std::string(rein::process::kMaxCmdlineBytes + 9, 'z')
                                          : std::string("/bin/w\0-v\0", 10));
    write_file(d + "/cgroup", "0::/user.slice/x\n");
    fs::create_symlink("/usr/bin/w" + std::to_string(pid), d + "/exe");
    fs::create_symlink("/srv (deleted)", d + "/cwd");
  }
  fs::create_directories(proc + "/303");  // no stat: not a process, skipped by both
  write_file(proc + "/303/cmdline", "x");
  fs::create_directories(proc + "/self");

  google::protobuf::RepeatedPtrField<rein::capture::ProcFile> files;
  for (auto& f : rein::pipeline::snapshot_proc(proc, nullptr, nullptr)) *files.Add() = f;
  auto snap = rein::pipeline::ProcSnapshotSource::from(files);
  ASSERT_TRUE(snap) << snap.error().message;

  rein::process::ProcessTable from_dir, from_snap;
  std::vector<std::string> cgroups_dir, cgroups_snap;
  auto note = [](std::vector<std::string>& v) {
    return [&v](std::string_view p) -> std::optional<uint64_t> {
      v.emplace_back(p);
      return 7;
    };
  };
  EXPECT_EQ(from_dir.seed_from_proc(proc, note(cgroups_dir), 1), 3u);
  EXPECT_EQ(from_snap.seed_from_proc(*snap, note(cgroups_snap), 1), 3u);
  std::sort(cgroups_dir.begin(), cgroups_dir.end());
  std::sort(cgroups_snap.begin(), cgroups_snap.end());
  EXPECT_EQ(cgroups_dir, cgroups_snap);
  for (uint32_t pid : {300u, 301u, 302u}) {
    const auto* a = from_dir.find(pid);
    const auto* b = from_snap.find(pid);
    ASSERT_TRUE(a && b) << pid;
    EXPECT_EQ(a->comm, b->comm);
    EXPECT_EQ(a->ppid, b->ppid);
    EXPECT_EQ(a->uid, b->uid);
    EXPECT_EQ(a->uid, 1000 + pid);
    EXPECT_EQ(a->exe, b->exe);
    EXPECT_EQ(a->cwd, "/srv");
    EXPECT_EQ(a->cwd, b->cwd);
    EXPECT_EQ(a->args, b->args);
    EXPECT_EQ(a->start_ns, b->start_ns);
    EXPECT_EQ(a->cgroup_id, 7u);
    EXPECT_EQ(a->cgroup_id, b->cgroup_id);
  }
  EXPECT_EQ(from_snap.find(302)->comm, "a b) c");
  EXPECT_EQ(from_snap.find(301)->args.at(0).size(), rein::process::kMaxCmdlineBytes);
  EXPECT_EQ(from_snap.find(303), nullptr);
  fs::remove_all(tmpl);
}

TEST(CaptureAdopt, SnapshotWithABadPathIsRefusedWhole) {
  for (const char* bad : {"../1/stat", "1", "1/", "abc/stat", "1/a/b", "/stat", "0/stat",
                          "01/stat", "99999999999/stat"}) {
    google::protobuf::RepeatedPtrField<rein::capture::ProcFile> files;
    auto* good = files.Add();
    good->set_path("5/stat");
    good->set_content("5 (x) S 1 0");
    files.Add()->set_path(bad);
    EXPECT_FALSE(rein::pipeline::ProcSnapshotSource::from(files)) << bad;
  }
  // a file read as a link (or the reverse) is not there, as with readlink on a regular file
  google::protobuf::RepeatedPtrField<rein::capture::ProcFile> files;
  auto* exe = files.Add();
  exe->set_path("5/exe");
  exe->set_content("/bin/x");
  auto snap = rein::pipeline::ProcSnapshotSource::from(files);
  ASSERT_TRUE(snap);
  EXPECT_FALSE(snap->read_link(5, "exe"));
  EXPECT_EQ(snap->read(5, "exe", 100, nullptr).value_or(""), "/bin/x");
  bool cut = false;
  EXPECT_EQ(snap->read(5, "exe", 3, &cut).value_or(""), "/bi");
  EXPECT_TRUE(cut);
  EXPECT_FALSE(snap->read(6, "exe", 100, nullptr));
  // a link target no readlink of /proc could give is not taken
  google::protobuf::RepeatedPtrField<rein::capture::ProcFile> links;
  for (size_t len : {size_t(10), size_t(PATH_MAX)}) {
    auto* l = links.Add();
    l->set_path(std::to_string(7 + len) + "/exe");
    l->set_content("/" + std::string(len - 1, 'x'));
    l->set_symlink(true);
  }
  auto lsnap = rein::pipeline::ProcSnapshotSource::from(links);
  ASSERT_TRUE(lsnap);
  EXPECT_EQ(lsnap->read_link(17, "exe").value_or("").size(), 10u);
  EXPECT_FALSE(lsnap->read_link(7 + PATH_MAX, "exe"));
}

}  // namespace
