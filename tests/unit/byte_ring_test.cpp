// ByteRing: strings pushed at the head and given back oldest first never overlap one
// another, stay contiguous, and the ring refuses what it cannot hold without eating the
// oldest.
#include "detect/byte_ring.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <random>
#include <string>

namespace rein::detect {
namespace {

TEST(ByteRing, WrapsToTheStartAndGivesTheGapBack) {
  ByteRing r(100);
  auto a = r.push(40), b = r.push(40);
  ASSERT_TRUE(a && b);
  // mapped on a huge-page boundary, so THP (where it is on) can back it
  EXPECT_EQ(reinterpret_cast<uintptr_t>(r.data(*a)) % (uintptr_t{2} << 20), 0u);
  EXPECT_EQ(b->off, 40u);
  EXPECT_FALSE(r.push(30));  // 20 left before the end, and the start is held
  r.pop(*a);
  auto c = r.push(30);  // does not fit before the end: starts again at 0
  ASSERT_TRUE(c);
  EXPECT_EQ(c->off, 0u);
  EXPECT_EQ(c->span, 50u);  // the 20 skipped at the end come back with it
  EXPECT_EQ(r.used(), 90u);
  EXPECT_FALSE(r.push(11));  // between c's end (30) and b (40): 10 free
  auto d = r.push(10);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->off, 30u);
  r.pop(*b);
  r.pop(*c);
  r.pop(*d);
  EXPECT_EQ(r.used(), 0u);
  EXPECT_EQ(r.push(100)->off, 0u);  // empty again: all of it in one run
  EXPECT_FALSE(ByteRing(100).push(101));
  EXPECT_EQ(r.touched(), 100u);
}

// Random sizes, the oldest given back whenever a push is refused: every held string keeps
// its bytes, and giving back the oldest always makes room in the end.
TEST(ByteRing, HeldStringsKeepTheirBytes) {
  ByteRing r(4096);
  std::mt19937 rng(7);
  struct Held {
    ByteRing::Slot s;
    char fill;
  };
  std::deque<Held> held;
  size_t pushes = 0, wraps = 0;
  for (int i = 0; i < 20000; i++) {
    const size_t n = 1 + rng() % 700;
    std::optional<ByteRing::Slot> s;
    while (!(s = r.push(n))) {
      ASSERT_FALSE(held.empty()) << "refused " << n << " with nothing held";
      r.pop(held.front().s);
      held.pop_front();
    }
    const char fill = char('a' + i % 26);
    std::memset(r.data(*s), fill, n);
    if (s->span > s->len) wraps++;
    held.push_back({*s, fill});
    pushes++;
    size_t sum = 0;
    for (const auto& h : held) {
      const auto v = r.view(h.s);
      ASSERT_EQ(v.find_first_not_of(h.fill), std::string_view::npos) << "overwritten at " << i;
      ASSERT_LE(size_t(h.s.off) + h.s.len, r.capacity());
      sum += h.s.span;
    }
    ASSERT_EQ(sum, r.used());
    ASSERT_LE(r.used(), r.capacity());
  }
  EXPECT_GT(wraps, 100u);
  EXPECT_EQ(pushes, 20000u);
}

}  // namespace
}  // namespace rein::detect
