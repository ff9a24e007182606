// The code sweep's vector forms against its plain one, on arbitrary bytes, ranges and windows:
// the finder trusts the sweep's lists to name every candidate (a missed one is a hook not
// found, a wrong one costs a decode), so any difference aborts. The plain form is checked
// against the definition too, and every list must be in order and inside the window.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "binary/code_scan.h"
#include "common/fast_find.h"

namespace {

using rein::binary::CodeScanHits;

uint64_t take64(const uint8_t*& p, size_t& n) {
  uint64_t v = 0;
  const size_t k = n < 8 ? n : 8;
  std::memcpy(&v, p, k);
  p += k;
  n -= k;
  return v;
}

bool same(const CodeScanHits& a, const CodeScanHits& b) {
  return a.fields == b.fields && a.calls == b.calls && a.prologues == b.prologues;
}

// Every position the definition in code_scan.h names, one at a time.
void definition(std::span<const uint8_t> b, uint64_t base, uint64_t lo, uint64_t hi, uint64_t from,
                uint64_t to, CodeScanHits& out) {
  const uint32_t lo32 = uint32_t(lo);
  const uint32_t span32 = hi - lo > 0xffffffffu ? 0xffffffffu : uint32_t(hi - lo);
  for (uint64_t i = from; i < to && i < b.size(); ++i) {
    if (i + 4 <= b.size()) {
      uint32_t v;
      std::memcpy(&v, b.data() + i, 4);
      const uint32_t rel = uint32_t(base + i + 4) + v;
      if (uint32_t(v - lo32) <= span32 || uint32_t(rel - lo32) <= span32) out.fields.push_back(i);
      if (i % 16 == 0 && v == 0xe5894855u) out.prologues.push_back(i);
    }
    if (b[i] == 0xe8) out.calls.push_back(i);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* p = data;
  size_t n = size;
  const uint64_t base = take64(p, n);
  const uint64_t lo = take64(p, n);
  // The finder asks for ranges of a few kilobytes; wider ones (past 4 GiB: every field is a
  // candidate) are legal too.
  const uint64_t wide = take64(p, n);
  const uint64_t width = (wide >> 63) ? wide : wide & 0xffffffffu;
  const uint64_t hi = lo + width;
  const uint64_t w = take64(p, n);
  const std::span<const uint8_t> bytes(p, n);
  const uint64_t from = n ? (w & 0xffff) % (n + 1) : 0;
  const uint64_t to = (w >> 63) ? UINT64_MAX : from + ((w >> 16) & 0xffff);

  CodeScanHits ref, plain, sse2, avx2;
  definition(bytes, base, lo, hi, from, to, ref);
  rein::binary::detail::scan_code_window_scalar(bytes, base, lo, hi, from, to, plain);
  rein::binary::detail::scan_code_window_sse2(bytes, base, lo, hi, from, to, sse2);
  if (!same(ref, plain) || !same(plain, sse2)) abort();
  if (rein::detail::have_avx2()) {
    rein::binary::detail::scan_code_window_avx2(bytes, base, lo, hi, from, to, avx2);
    if (!same(plain, avx2)) abort();
  }
  // Appending: a second window continues the lists of the first.
  CodeScanHits joined;
  const uint64_t mid = from + (to - from) / 2;
  rein::binary::scan_code_window(bytes, base, lo, hi, from, mid, joined);
  rein::binary::scan_code_window(bytes, base, lo, hi, mid, to, joined);
  if (!same(joined, plain)) abort();
  return 0;
}
