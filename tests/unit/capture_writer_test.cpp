// CaptureWriter: round trip, rotation by size and age, retention, drops by reason, modes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>

#include <fmt/format.h>

#include "capture_test_util.h"
#include "temp_dir.h"

namespace rein::capture {
namespace {

using ::rein::testutil::TempDir;
using namespace ::rein::capture::testutil;

CaptureWriterOptions small_opts(TestClock& clock) {
  CaptureWriterOptions o;
  o.clock = clock.fn();
  o.block_bytes = 2048;
  return o;
}

TEST(CaptureWriter, RoundTripKeepsOrderAndNumbersEntries) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  {
    auto w = CaptureWriter::open(dir, test_key(), small_opts(clock));
    ASSERT_TRUE(w) << w.error().message;
    Entry ctx;
    ctx.mutable_context()->set_rein_version("test");
    ctx.mutable_context()->add_argv("rein");
    EXPECT_TRUE((*w)->append(ctx));
    for (int i = 0; i < 500; i++)
      EXPECT_TRUE((*w)->append(record_entry("rec" + std::to_string(i))));
    (*w)->flush();
    auto s = (*w)->stats();
    EXPECT_EQ(s.entries_written, 501u);
    EXPECT_GT(s.blocks_written, 1u);  // 2 KiB blocks
    EXPECT_EQ(s.dropped_queue_full + s.dropped_write_error + s.dropped_too_large, 0u);
  }
  std::string err;
  auto entries = read_entries(dir, test_key(), &err);
  ASSERT_EQ(entries.size(), 501u) << err;
  EXPECT_EQ(entries[0].context().rein_version(), "test");
  for (size_t i = 0; i < entries.size(); i++) EXPECT_EQ(entries[i].seq(), i + 1);
  for (int i = 0; i < 500; i++)
    EXPECT_EQ(entries[i + 1].record().data(), "rec" + std::to_string(i));
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
  EXPECT_EQ(rep.entries, 501u);
}

// Entries are framed into block-sized buffers that the writer hands back for reuse: an
// entry larger than a block gets a block of its own, and what comes after it is unharmed.
TEST(CaptureWriter, AnEntryLargerThanABlockHasItsOwnBlock) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  {
    auto w = CaptureWriter::open(dir, test_key(), small_opts(clock));
    ASSERT_TRUE(w) << w.error().message;
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 40; i++) EXPECT_TRUE((*w)->append(record_entry(fmt::format("r{}-{}", round, i))));
      EXPECT_TRUE((*w)->append(record_entry(std::string(10000, char('a' + round)))));
      (*w)->flush();
    }
    EXPECT_EQ((*w)->stats().entries_written, 123u);
  }
  auto entries = read_entries(dir, test_key());
  ASSERT_EQ(entries.size(), 123u);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 40; i++)
      EXPECT_EQ(entries[size_t(round * 41 + i)].record().data(), fmt::format("r{}-{}", round, i));
    EXPECT_EQ(entries[size_t(round * 41 + 40)].record().data(), std::string(10000, char('a' + round)));
  }
  for (size_t i = 0; i < entries.size(); i++) EXPECT_EQ(entries[i].seq(), i + 1);
  EXPECT_TRUE(verify_capture(dir, test_key()).ok);
}

TEST(CaptureWriter, RotatesBySizeAndEverySegmentStaysUnderTheLimit) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  auto o = small_opts(clock);
  o.max_segment_bytes = 8192;
  o.max_total_bytes = 1 << 30;
  o.max_segments = 1000;
  {
    auto w = CaptureWriter::open(dir, test_key(), o);
    ASSERT_TRUE(w) << w.error().message;
    for (int i = 0; i < 200; i++) (*w)->append(record_entry(noise(300, i)));
  }
  auto files = list_segments(dir);
  ASSERT_TRUE(files);
  EXPECT_GE(files->size(), 6u);
  for (const auto& f : *files) EXPECT_LE(f.size, 8192u) << f.name;
  EXPECT_EQ(read_entries(dir, test_key()).size(), 200u);
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
}

TEST(CaptureWriter, RotatesByAge) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  auto o = small_opts(clock);
  o.max_segment_age_ns = 60'000'000'000;
  auto w = CaptureWriter::open(dir, test_key(), o);
  ASSERT_TRUE(w) << w.error().message;
  (*w)->append(record_entry("a"));
  (*w)->flush();
  EXPECT_EQ((*w)->stats().segments_created, 1u);
  clock.now += 30'000'000'000;
  (*w)->append(record_entry("b"));
  (*w)->flush();
  EXPECT_EQ((*w)->stats().segments_created, 1u);  // 30 s old: not yet
  clock.now += 31'000'000'000;
  (*w)->append(record_entry("c"));
  (*w)->flush();
  EXPECT_EQ((*w)->stats().segments_created, 2u);
  EXPECT_EQ((*w)->stats().current_segment, 1u);
  (*w)->close();
  auto entries = read_entries(dir, test_key());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].record().data(), "c");
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
  EXPECT_EQ(rep.segments, 2u);
}

TEST(CaptureWriter, RetentionByCountKeepsAVerifiableChain) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  auto o = small_opts(clock);
  o.max_segment_bytes = 4096;
  o.max_segments = 3;
  {
    auto w = CaptureWriter::open(dir, test_key(), o);
    ASSERT_TRUE(w) << w.error().message;
    for (int i = 0; i < 300; i++) (*w)->append(record_entry(noise(300, i)));
    (*w)->flush();
    EXPECT_GT((*w)->stats().segments_deleted, 0u);
  }
  auto files = list_segments(dir);
  ASSERT_TRUE(files);
  EXPECT_EQ(files->size(), 3u);
  EXPECT_GT(files->front().index, 0u);
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
  ASSERT_EQ(rep.notes.size(), 1u) << describe(rep);
  EXPECT_NE(rep.notes[0].find("removed by retention"), std::string::npos);
  // the reader starts at the oldest kept segment
  auto entries = read_entries(dir, test_key());
  ASSERT_FALSE(entries.empty());
  EXPECT_GT(entries.front().seq(), 1u);
  EXPECT_EQ(entries.back().seq(), 300u);
}

TEST(CaptureWriter, RetentionByTotalSize) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  auto o = small_opts(clock);
  o.max_segment_bytes = 4096;
  o.max_total_bytes = 4 * 4096;
  o.max_segments = 1000;
  {
    auto w = CaptureWriter::open(dir, test_key(), o);
    ASSERT_TRUE(w) << w.error().message;
    for (int i = 0; i < 300; i++) (*w)->append(record_entry(noise(300, i)));
  }
  auto files = list_segments(dir);
  ASSERT_TRUE(files);
  uint64_t total = 0;
  for (const auto& f : *files) total += f.size;
  EXPECT_LE(total, 4u * 4096u);
  EXPECT_GE(files->size(), 3u);
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
}

TEST(CaptureWriter, FullQueueDropsAndCountsWithoutBlocking) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  auto o = small_opts(clock);
  o.max_queue_bytes = 16 * 1024;
  auto w = CaptureWriter::open(dir, test_key(), o);
  ASSERT_TRUE(w) << w.error().message;
  clock.stall(true);  // the writer thread cannot finish a round: nothing drains
  (*w)->append(record_entry(std::string(4096, 'x')));  // wakes it into the stall
  auto t0 = std::chrono::steady_clock::now();
  int accepted = 0;
  for (int i = 0; i < 200; i++) accepted += (*w)->append(record_entry(std::string(1000, 'y')));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(1));  // appends never waited for the disk
  auto s = (*w)->stats();
  EXPECT_GT(s.dropped_queue_full, 150u);
  EXPECT_EQ(s.dropped_queue_full + accepted, 200u);
  EXPECT_LE(s.queued_bytes, 16u * 1024);
  clock.stall(false);
  (*w)->flush();
  s = (*w)->stats();
  EXPECT_EQ(s.entries_written, s.entries_appended);
  EXPECT_TRUE((*w)->append(record_entry("after")));
  (*w)->close();
  // the dropped entries show as a gap in seq before the next one written
  auto entries = read_entries(dir, test_key());
  ASSERT_EQ(entries.size(), s.entries_written + 1);
  EXPECT_EQ(entries.back().seq(), 202u);
  EXPECT_LT(entries[entries.size() - 2].seq(), 201u);
}

TEST(CaptureWriter, TooLargeEntryIsDroppedAndCounted) {
  TempDir tmp("capw");
  TestClock clock;
  auto w = CaptureWriter::open(tmp.path() + "/cap", test_key(), small_opts(clock));
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_FALSE((*w)->append(record_entry(std::string(kMaxEntryBytes + 1, 'z'))));
  EXPECT_TRUE((*w)->append(record_entry("fine")));
  (*w)->flush();
  EXPECT_EQ((*w)->stats().dropped_too_large, 1u);
  EXPECT_EQ((*w)->stats().entries_written, 1u);
}

// A write that fails (here EFBIG from RLIMIT_FSIZE, as ENOSPC would) drops that block,
// counts it, and leaves the segment verifiable: the partial block is cut off.
TEST(CaptureWriter, WriteErrorDropsTheBlockAndKeepsTheSegmentVerifiable) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  auto w = CaptureWriter::open(dir, test_key(), small_opts(clock));
  ASSERT_TRUE(w) << w.error().message;
  (*w)->append(record_entry("before"));
  (*w)->flush();
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ign, &old);
  struct rlimit saved {};
  getrlimit(RLIMIT_FSIZE, &saved);
  struct rlimit tight = saved;
  tight.rlim_cur = 1024;
  setrlimit(RLIMIT_FSIZE, &tight);
  (*w)->append(record_entry(noise(3000, 7)));
  (*w)->flush();
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &old, nullptr);
  auto s = (*w)->stats();
  EXPECT_EQ(s.dropped_write_error, 1u);
  EXPECT_NE(s.last_error.find("write"), std::string::npos) << s.last_error;
  (*w)->append(record_entry("after"));
  (*w)->close();
  auto entries = read_entries(dir, test_key());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].record().data(), "before");
  EXPECT_EQ(entries[1].record().data(), "after");
  EXPECT_EQ(entries[1].seq(), 3u);
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
}

TEST(CaptureWriter, DirectoryIs0700AndFiles0600WhateverTheUmask) {
  TempDir tmp("capw");
  TestClock clock;
  mode_t old = ::umask(0);
  {
    auto w = CaptureWriter::open(tmp.path() + "/cap", test_key(), small_opts(clock));
    ASSERT_TRUE(w) << w.error().message;
    (*w)->append(record_entry("x"));
  }
  ::umask(old);
  EXPECT_EQ(mode_of(tmp.path() + "/cap"), 0700u);
  auto files = list_segments(tmp.path() + "/cap");
  ASSERT_TRUE(files);
  ASSERT_FALSE(files->empty());
  for (const auto& f : *files) EXPECT_EQ(mode_of(f.path), 0600u) << f.name;
  // an existing, too-open directory is tightened
  ASSERT_EQ(::mkdir((tmp.path() + "/open").c_str(), 0777), 0);
  ::chmod((tmp.path() + "/open").c_str(), 0777);
  auto w2 = CaptureWriter::open(tmp.path() + "/open", test_key(), small_opts(clock));
  ASSERT_TRUE(w2) << w2.error().message;
  EXPECT_EQ(mode_of(tmp.path() + "/open"), 0700u);
}

TEST(CaptureWriter, UnwritableDirectoryIsAnErrorAtOpen) {
  TempDir tmp("capw");
  write_all_file(tmp.path() + "/file", "x");
  auto w = CaptureWriter::open(tmp.path() + "/file/cap", test_key());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("capture directory"), std::string::npos) << w.error().message;
}

TEST(CaptureWriter, KeyFileIsCreated0600AndReadBack) {
  TempDir tmp("capw");
  EXPECT_FALSE(load_capture_key(tmp.path()));  // verify/replay never create one
  auto k1 = load_or_create_capture_key(tmp.path());
  ASSERT_TRUE(k1) << k1.error().message;
  EXPECT_EQ(mode_of(capture_key_path(tmp.path())), 0600u);
  auto k2 = load_capture_key(tmp.path());
  ASSERT_TRUE(k2);
  EXPECT_EQ(*k1, *k2);
  write_all_file(capture_key_path(tmp.path()), "short");
  EXPECT_FALSE(load_capture_key(tmp.path()));
}

TEST(CaptureWriter, ANewRunContinuesTheChain) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  for (int run = 0; run < 3; run++) {
    auto w = CaptureWriter::open(dir, test_key(), small_opts(clock));
    ASSERT_TRUE(w) << w.error().message;
    (*w)->append(record_entry("run" + std::to_string(run)));
  }
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
  EXPECT_EQ(rep.segments, 3u);
  auto entries = read_entries(dir, test_key());
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].record().data(), "run2");
}

// A run that crashed leaves its segment without a trailer; the next run chains to it as it
// is on disk, so verify accepts it (and would catch any later change to it).
TEST(CaptureWriter, ACrashedRunsSegmentIsCoveredByTheNextRun) {
  TempDir tmp("capw");
  const std::string dir = tmp.path() + "/cap";
  TestClock clock;
  {
    auto w = CaptureWriter::open(dir, test_key(), small_opts(clock));
    ASSERT_TRUE(w);
    (*w)->append(record_entry("first"));
  }
  auto files = list_segments(dir);
  ASSERT_TRUE(files);
  std::string bytes = read_all(files->front().path);
  write_all_file(files->front().path, bytes.substr(0, bytes.size() - kTrailerSize - 5));
  {
    auto w = CaptureWriter::open(dir, test_key(), small_opts(clock));
    ASSERT_TRUE(w);
    (*w)->append(record_entry("second"));
  }
  auto rep = verify_capture(dir, test_key());
  EXPECT_TRUE(rep.ok) << describe(rep);
  EXPECT_NE(describe(rep).find("crashed run"), std::string::npos) << describe(rep);
  // ... and a later change to the crashed segment breaks the chain
  std::string cut = read_all(files->front().path);
  cut[cut.size() - 1] ^= 1;
  write_all_file(files->front().path, cut);
  rep = verify_capture(dir, test_key());
  EXPECT_FALSE(rep.ok) << describe(rep);
}

}  // namespace
}  // namespace rein::capture
