#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "rein/abi/events.h"
#include "source/ring_source.h"

namespace rein::source {
namespace {

// A record that is only a header with its time: what the batch orders by.
std::vector<uint8_t> record(uint64_t ts) {
  std::vector<uint8_t> r(sizeof(rein_hdr), 0);
  std::memcpy(r.data() + offsetof(rein_hdr, ts_ns), &ts, sizeof(ts));
  return r;
}

// Two rings' records appended one ring after the other, each nearly in order, with many
// equal times: the batch must come out as stable_sort by time would put it.
TEST(RingSourceOrder, SortByTimeIsAStableSortByTime) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; round++) {
    RingSource::Batch b;
    const int n = int(rng() % 64);
    for (int i = 0; i < n; i++) {
      const uint64_t ts = (i < n / 2 ? i : i - n / 2) + rng() % 4;  // ties and small swaps
      auto r = record(ts);
      b.add(r.data(), r.size());
    }
    auto want = b.items;
    std::stable_sort(want.begin(), want.end(),
                     [](const auto& x, const auto& y) { return x.ts < y.ts; });
    b.sort_by_time();
    ASSERT_EQ(b.items.size(), want.size());
    for (size_t i = 0; i < want.size(); i++) {
      EXPECT_EQ(b.items[i].ts, want[i].ts) << "round " << round << " at " << i;
      EXPECT_EQ(b.items[i].off, want[i].off) << "round " << round << " at " << i;
    }
  }
}

TEST(RingSourceOrder, ARecordTooShortForAHeaderSortsAsTimeZero) {
  RingSource::Batch b;
  auto r = record(5);
  b.add(r.data(), r.size());
  const uint8_t stub[3] = {1, 2, 3};
  b.add(stub, sizeof(stub));
  b.sort_by_time();
  ASSERT_EQ(b.items.size(), 2u);
  EXPECT_EQ(b.items[0].size, 3u);
  EXPECT_EQ(b.items[1].ts, 5u);
}

}  // namespace
}  // namespace rein::source
