#include "stream/reassembler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace {

using rein::stream::Reassembler;
using rein::stream::ReassemblerLimits;

// Rebuilds the stream as the consumer sees it: delivered bytes at their positions, gaps as
// '#' runs, so a test can compare against the original with the lost ranges masked.
struct Recorder : rein::stream::StreamConsumer {
  std::string stream;
  std::vector<uint64_t> gaps;
  std::vector<uint64_t> data_ts;
  void on_data(std::span<const uint8_t> d, uint64_t ts) override {
    stream.append(reinterpret_cast<const char*>(d.data()), d.size());
    data_ts.push_back(ts);
  }
  void on_gap(uint64_t len, uint64_t) override {
    gaps.push_back(len);
    if (len < (1u << 20)) stream.append(len, '#');  // huge test gaps are only recorded
  }
};

std::span<const uint8_t> sp(const std::string& s, size_t off = 0, size_t len = std::string::npos) {
  len = std::min(len, s.size() - off);
  return {reinterpret_cast<const uint8_t*>(s.data()) + off, len};
}

std::string make_stream(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

TEST(StreamReassembler, InOrderIsPassedThrough) {
  Recorder rec;
  Reassembler r(rec);
  const std::string s = make_stream(100);
  r.push(0, sp(s, 0, 40), 1);
  r.push(40, sp(s, 40, 60), 2);
  EXPECT_EQ(rec.stream, s);
  EXPECT_EQ(r.stats().bytes_delivered, 100u);
  EXPECT_EQ(r.stats().gaps, 0u);
  EXPECT_EQ(r.next_offset(), 100u);
  EXPECT_EQ(rec.data_ts, (std::vector<uint64_t>{1, 2}));
}

TEST(StreamReassembler, OutOfOrderChunksAreReordered) {
  Recorder rec;
  Reassembler r(rec);
  const std::string s = make_stream(1000);
  std::vector<size_t> order;
  for (size_t i = 0; i < 10; ++i) order.push_back(i);
  std::reverse(order.begin(), order.end());
  for (size_t i : order) r.push(i * 100, sp(s, i * 100, 100), i);
  EXPECT_EQ(rec.stream, s);
  EXPECT_EQ(r.pending_chunks(), 0u);
  EXPECT_EQ(r.stats().gaps, 0u);
  EXPECT_EQ(r.stats().duplicate_bytes, 0u);
}

TEST(StreamReassembler, OverlapsAndDuplicatesAreTrimmed) {
  Recorder rec;
  Reassembler r(rec);
  const std::string s = make_stream(300);
  r.push(100, sp(s, 100, 100), 1);  // held
  r.push(150, sp(s, 150, 100), 2);  // overlaps the held chunk by 50
  r.push(120, sp(s, 120, 10), 3);   // entirely inside a held chunk
  r.push(0, sp(s, 0, 120), 4);      // delivers, overlapping held bytes 100..120
  r.push(0, sp(s, 0, 50), 5);       // already delivered
  r.push(240, sp(s, 240, 60), 6);
  EXPECT_EQ(rec.stream, s);
  EXPECT_EQ(r.stats().bytes_delivered, 300u);
  EXPECT_EQ(r.stats().duplicate_bytes, 50u + 10u + 20u + 50u + 10u);
  EXPECT_EQ(r.pending_bytes(), 0u);
}

TEST(StreamReassembler, ChunkBoundIsReachedAndHoleReportedAsGap) {
  Recorder rec;
  ReassemblerLimits lim;
  lim.max_pending_chunks = 4;
  Reassembler r(rec, lim);
  const std::string s = make_stream(100);
  r.push(0, sp(s, 0, 10), 0);
  // bytes 10..20 never arrive
  for (size_t i = 2; i <= 5; ++i) r.push(i * 10, sp(s, i * 10, 10), i);
  EXPECT_TRUE(rec.gaps.empty());
  EXPECT_EQ(r.pending_chunks(), 4u);
  r.push(60, sp(s, 60, 10), 6);  // fifth held chunk: over the bound
  ASSERT_EQ(rec.gaps, (std::vector<uint64_t>{10}));
  EXPECT_EQ(rec.stream, s.substr(0, 10) + std::string(10, '#') + s.substr(20, 50));
  EXPECT_EQ(r.stats().gap_bytes, 10u);
  EXPECT_EQ(r.pending_chunks(), 0u);
  r.push(70, sp(s, 70, 30), 7);  // delivery resumes normally
  EXPECT_EQ(rec.stream.substr(70), s.substr(70));
}

TEST(StreamReassembler, ByteBoundIsEnforced) {
  Recorder rec;
  ReassemblerLimits lim;
  lim.max_pending_bytes = 1000;
  Reassembler r(rec, lim);
  const std::string s = make_stream(5000);
  r.push(500, sp(s, 500, 600), 1);  // held, 600 bytes
  EXPECT_TRUE(rec.gaps.empty());
  r.push(1100, sp(s, 1100, 600), 2);  // 1200 held: the hole 0..500 is given up
  ASSERT_EQ(rec.gaps, (std::vector<uint64_t>{500}));
  EXPECT_EQ(r.next_offset(), 1700u);
  EXPECT_LE(r.pending_bytes(), lim.max_pending_bytes);
}

TEST(StreamReassembler, OversizedOutOfOrderChunkNeverStaysHeld) {
  Recorder rec;
  ReassemblerLimits lim;
  lim.max_pending_bytes = 100;
  Reassembler r(rec, lim);
  const std::string s = make_stream(1000);
  r.push(10, sp(s, 10, 500), 1);
  EXPECT_EQ(rec.gaps, (std::vector<uint64_t>{10}));
  EXPECT_EQ(r.pending_bytes(), 0u);
  EXPECT_EQ(rec.stream.substr(10), s.substr(10, 500));
}

TEST(StreamReassembler, SkipHoleAndFlush) {
  Recorder rec;
  Reassembler r(rec);
  const std::string s = make_stream(100);
  EXPECT_FALSE(r.skip_hole(0));
  r.push(20, sp(s, 20, 10), 1);
  r.push(50, sp(s, 50, 10), 2);
  EXPECT_TRUE(r.skip_hole(3));
  EXPECT_EQ(rec.gaps, (std::vector<uint64_t>{20}));
  r.flush(4);
  EXPECT_EQ(rec.gaps, (std::vector<uint64_t>{20, 20}));
  EXPECT_EQ(rec.stream, std::string(20, '#') + s.substr(20, 10) + std::string(20, '#') + s.substr(50, 10));
  EXPECT_EQ(r.stats().gaps, 2u);
  EXPECT_EQ(r.stats().gap_bytes, 40u);
}

TEST(StreamReassembler, HoleAgeRule) {
  Recorder rec;
  ReassemblerLimits lim;
  lim.max_hole_age_ns = 1000;
  Reassembler r(rec, lim);
  const std::string s = make_stream(100);
  r.push(10, sp(s, 10, 10), 100);
  r.push(30, sp(s, 30, 10), 500);
  EXPECT_TRUE(rec.gaps.empty());
  r.expire(1099);
  EXPECT_TRUE(rec.gaps.empty());
  r.expire(1100);  // the chunk held since t=100 has waited 1000 ns
  EXPECT_EQ(rec.gaps, (std::vector<uint64_t>{10}));
  r.expire(1499);
  EXPECT_EQ(rec.gaps.size(), 1u);
  r.push(45, sp(s, 45, 5), 1500);  // its own arrival ages the chunk from t=500 out
  EXPECT_EQ(rec.gaps, (std::vector<uint64_t>{10, 10}));
}

TEST(StreamReassembler, AnchorsAtFirstChunkWhenAsked) {
  Recorder rec;
  Reassembler r(rec, {}, std::nullopt);
  const std::string s = make_stream(100);
  r.push(1'000'000, sp(s, 0, 50), 1);
  r.push(1'000'050, sp(s, 50, 50), 2);
  EXPECT_EQ(rec.stream, s);
  EXPECT_TRUE(rec.gaps.empty());
}

TEST(StreamReassembler, HostileOffsetsDoNotWedgeOrOverflow) {
  Recorder rec;
  Reassembler r(rec);
  const std::string s = make_stream(100);
  r.push(UINT64_MAX - 10, sp(s, 0, 50), 1);  // offset + size overflows
  EXPECT_EQ(r.stats().dropped_chunks, 1u);
  EXPECT_EQ(r.stats().dropped_bytes, 50u);
  EXPECT_EQ(r.pending_chunks(), 0u);
  r.push(0, sp(s, 0, 0), 1);  // empty
  r.push(0, sp(s), 2);
  EXPECT_EQ(rec.stream, s);
  r.push(uint64_t{1} << 60, sp(s, 0, 10), 3);  // a far jump is held, then flushed as one gap
  r.flush(4);
  ASSERT_EQ(rec.gaps.size(), 1u);
  EXPECT_EQ(rec.gaps[0], (uint64_t{1} << 60) - 100);
}

TEST(StreamReassembler, ResetDropsHeldBytes) {
  Recorder rec;
  Reassembler r(rec);
  const std::string s = make_stream(100);
  r.push(10, sp(s, 10, 30), 1);
  r.reset();
  EXPECT_EQ(r.stats().dropped_bytes, 30u);
  EXPECT_EQ(r.pending_bytes(), 0u);
  r.flush(2);
  EXPECT_TRUE(rec.gaps.empty());
}

// Random slicing, local reordering, duplication and loss: every delivered byte must be the
// original byte at that position, and delivered + gap bytes must cover the stream exactly.
TEST(StreamReassembler, RandomisedDeliveryMatchesOriginal) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    const std::string s = make_stream(2000 + rng() % 3000);
    struct Chunk {
      uint64_t off;
      size_t len;
    };
    std::vector<Chunk> chunks;
    for (size_t off = 0; off < s.size();) {
      const size_t len = std::min<size_t>(1 + rng() % 200, s.size() - off);
      chunks.push_back({off, len});
      off += len;
    }
    // Lose a few (never the last, so the stream length is known) and duplicate a few with
    // shifted boundaries.
    std::vector<Chunk> sent;
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i + 1 < chunks.size() && rng() % 10 == 0) continue;
      sent.push_back(chunks[i]);
      if (rng() % 8 == 0) {
        const uint64_t off = chunks[i].off > 5 ? chunks[i].off - 5 : 0;
        sent.push_back({off, std::min<size_t>(chunks[i].len + 10, s.size() - off)});
      }
    }
    for (size_t i = 0; i + 1 < sent.size(); ++i)
      if (rng() % 3 == 0) std::swap(sent[i], sent[i + 1 + rng() % std::min<size_t>(4, sent.size() - i - 1)]);

    Recorder rec;
    ReassemblerLimits lim;
    lim.max_pending_chunks = 1 + rng() % 16;
    Reassembler r(rec, lim);
    for (const auto& c : sent) r.push(c.off, sp(s, c.off, c.len), 0);
    r.flush(0);
    ASSERT_EQ(rec.stream.size(), s.size()) << "round " << round;
    uint64_t gap_total = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (rec.stream[i] == '#') {
        gap_total++;
        continue;
      }
      ASSERT_EQ(rec.stream[i], s[i]) << "round " << round << " byte " << i;
    }
    EXPECT_EQ(r.stats().gap_bytes, gap_total);
    EXPECT_EQ(r.stats().bytes_delivered + r.stats().gap_bytes, s.size());
  }
}

}  // namespace

namespace {
struct CountingBudget : rein::stream::HoldBudget {
  size_t limit = 0, in_use = 0, refusals = 0;
  bool take(size_t n) override {
    if (in_use + n > limit) return ++refusals, false;
    in_use += n;
    return true;
  }
  void give_back(size_t n) override { in_use -= n; }
};
}  // namespace

// Bytes held behind a hole are charged to the shared budget and given back when they are
// delivered, discarded or the reassembler goes; what the budget refuses is dropped and
// counted, and the stream goes on past it as a gap.
TEST(StreamReassembler, HeldBytesAreChargedToTheBudget) {
  CountingBudget budget;
  budget.limit = 300;
  const std::string s = make_stream(1000);
  Recorder rec;
  {
    ReassemblerLimits lim;
    lim.budget = &budget;
    Reassembler r(rec, lim);
    r.push(100, sp(s, 100, 200), 1);  // held: 200
    EXPECT_EQ(budget.in_use, 200u);
    r.push(400, sp(s, 400, 200), 2);  // 200 more do not fit: refused whole
    EXPECT_EQ(budget.in_use, 200u);
    EXPECT_EQ(r.stats().refused_chunks, 1u);
    EXPECT_EQ(r.stats().dropped_bytes, 200u);
    r.push(0, sp(s, 0, 100), 3);  // fills the hole: the first 300 go out and are given back
    EXPECT_EQ(rec.stream, s.substr(0, 300));
    EXPECT_EQ(budget.in_use, 0u);
    r.push(700, sp(s, 700, 50), 4);
    EXPECT_EQ(budget.in_use, 50u);
    r.flush(5);  // the refused bytes are a gap like any other
    EXPECT_EQ(rec.stream, s.substr(0, 300) + std::string(400, '#') + s.substr(700, 50));
    EXPECT_EQ(budget.in_use, 0u);
    r.push(800, sp(s, 800, 10), 6);
  }
  EXPECT_EQ(budget.in_use, 0u);  // what was still held went back with the reassembler
  Reassembler r2(rec, ReassemblerLimits{.budget = &budget});
  r2.push(10, sp(s, 10, 100), 1);
  r2.reset();
  EXPECT_EQ(budget.in_use, 0u);
}
