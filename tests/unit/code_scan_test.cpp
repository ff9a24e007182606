#include "binary/code_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "common/fast_find.h"

namespace {

using rein::binary::CodeScanHits;
namespace detail = rein::binary::detail;

using ScanFn = void (*)(std::span<const uint8_t>, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                        CodeScanHits&);

// The forms this CPU can run, each against the plain one.
std::vector<std::pair<const char*, ScanFn>> vector_forms() {
  std::vector<std::pair<const char*, ScanFn>> f{{"sse2", detail::scan_code_window_sse2}};
  if (rein::detail::have_avx2()) f.emplace_back("avx2", detail::scan_code_window_avx2);
  return f;
}

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  std::memcpy(b.data() + at, &v, 4);
}

// Code-like bytes with planted absolute and RIP-relative references to [lo, hi], calls and
// prologues, at aligned and unaligned places.
std::vector<uint8_t> planted(size_t n, uint64_t base, uint64_t lo, uint64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  for (size_t k = 0; n >= 8 && k < n / 64 + 1; ++k) {
    const size_t at = rng() % (n - 7);
    const uint64_t target = lo + rng() % (hi - lo + 1);
    switch (rng() % 4) {
      case 0:
        put32(b, at, static_cast<uint32_t>(target));
        break;
      case 1:
        put32(b, at, static_cast<uint32_t>(target - (base + at + 4)));
        break;
      case 2:
        b[at] = 0xe8;
        break;
      default:
        put32(b, at & ~size_t{15}, 0xe5894855u);
        break;
    }
  }
  return b;
}

bool same(const CodeScanHits& a, const CodeScanHits& b) {
  return a.fields == b.fields && a.calls == b.calls && a.prologues == b.prologues;
}

TEST(CodeScan, EveryFormGivesThePlainAnswerAtEveryLengthAndStart) {
  const uint64_t base = 0x211cd00, lo = 0x3a00123, hi = lo + 40;
  for (size_t n : {0, 1, 3, 4, 5, 15, 16, 19, 20, 31, 32, 35, 36, 63, 64, 100, 257, 4099}) {
    const auto bytes = planted(n, base, lo, hi, static_cast<uint32_t>(n) + 7);
    for (uint64_t from : {uint64_t{0}, uint64_t{1}, uint64_t{5}, uint64_t{16}, uint64_t{33}}) {
      for (uint64_t to : {n, n > 3 ? n - 3 : 0, n / 2 + 1, uint64_t{1} << 40}) {
        CodeScanHits want;
        detail::scan_code_window_scalar(bytes, base, lo, hi, from, to, want);
        for (auto [name, fn] : vector_forms()) {
          CodeScanHits got;
          fn(bytes, base, lo, hi, from, to, got);
          EXPECT_TRUE(same(got, want))
              << name << " n=" << n << " from=" << from << " to=" << to << ": fields "
              << got.fields.size() << "/" << want.fields.size() << " calls " << got.calls.size()
              << "/" << want.calls.size() << " prologues " << got.prologues.size() << "/"
              << want.prologues.size();
        }
      }
    }
  }
}

// The plain answer itself, against the 64-bit test the finder makes on what it returns.
TEST(CodeScan, ReturnsEveryExactReferenceEveryCallAndEveryAlignedPrologue) {
  const uint64_t base = 0x7f00001000, lo = 0x7f00400010, hi = lo + 3;  // base above 4 GiB
  const auto bytes = planted(1 << 16, base, lo, hi, 99);
  CodeScanHits hits;
  rein::binary::scan_code_window(bytes, base, lo, hi, 0, bytes.size(), hits);
  size_t refs = 0;
  for (size_t i = 0; i + 4 <= bytes.size(); ++i) {
    int32_t v;
    std::memcpy(&v, bytes.data() + i, 4);
    const uint64_t rip = base + i + 4 + static_cast<uint64_t>(static_cast<int64_t>(v));
    const uint64_t abs = static_cast<uint32_t>(v);
    const bool exact = (abs >= lo && abs <= hi) || (rip >= lo && rip <= hi);
    const bool returned = std::binary_search(hits.fields.begin(), hits.fields.end(), i);
    if (exact) {
      ++refs;
      EXPECT_TRUE(returned) << "reference at " << i << " missed";
    }
    // What comes back is exactly what passes the test modulo 2^32 (here also the planted
    // absolute values, which cannot reach a range above 4 GiB).
    const auto lo32 = static_cast<uint32_t>(lo);
    const bool mod32 = static_cast<uint32_t>(abs) - lo32 <= hi - lo ||
                       static_cast<uint32_t>(rip) - lo32 <= hi - lo;
    EXPECT_EQ(returned, mod32) << i;
    EXPECT_EQ(std::binary_search(hits.calls.begin(), hits.calls.end(), i), bytes[i] == 0xe8) << i;
    const bool prologue = i % 16 == 0 && std::memcmp(bytes.data() + i, "\x55\x48\x89\xe5", 4) == 0;
    EXPECT_EQ(std::binary_search(hits.prologues.begin(), hits.prologues.end(), i), prologue) << i;
  }
  EXPECT_GT(refs, 100u);  // the planting worked
  EXPECT_FALSE(hits.prologues.empty());
}

TEST(CodeScan, ARangeWiderThan32BitsKeepsEveryField) {
  std::vector<uint8_t> bytes(100, 0x90);
  CodeScanHits hits;
  rein::binary::scan_code_window(bytes, 0x1000, 0, uint64_t{1} << 33, 0, bytes.size(), hits);
  EXPECT_EQ(hits.fields.size(), 97u);  // every i with i + 4 <= 100
  EXPECT_TRUE(hits.calls.empty());
}

}  // namespace
