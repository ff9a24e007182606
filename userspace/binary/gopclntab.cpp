#include "binary/gopclntab.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace rein::binary {
namespace {

// Header layout for Go 1.18+: magic u32, two zero pad bytes, the PC quantum (1 on x86) and
// the pointer size, then eight pointer-sized words. Offsets in the words are relative to the
// start of the table.
constexpr uint64_t kWordsAt = 8;
constexpr uint64_t kHeaderSize = kWordsAt + 8 * 8;
enum Word : uint64_t { kNfunc = 0, kNfiles, kTextStart, kFuncnameOff, kCuOff, kFiletabOff, kPctabOff, kPclnOff };

// A Go function name is a symbol, never this long; bounds the scan for the terminating NUL.
constexpr uint64_t kMaxNameLen = 4096;
// Far above any real binary (a 400 MB Go program has ~200k functions); a header claiming
// more is hostile.
constexpr uint64_t kMaxFuncs = 1u << 24;

uint32_t rd32(std::span<const uint8_t> d, uint64_t off) {
  uint32_t v;
  std::memcpy(&v, d.data() + off, 4);
  return v;
}
uint64_t rd64(std::span<const uint8_t> d, uint64_t off) {
  uint64_t v;
  std::memcpy(&v, d.data() + off, 8);
  return v;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Result<GoPclntab> GoPclntab::parse(std::span<const uint8_t> data) {
  if (data.size() < 8) return make_error("pclntab: shorter than its header");
  GoPclntab t;
  t.magic_ = rd32(data, 0);
  if (t.magic_ == kPclntabGo12 || t.magic_ == kPclntabGo116)
    return make_error("pclntab: unsupported Go version (magic " + hex(t.magic_) +
                      ", Go 1.2-1.17); only Go 1.18+ tables are read");
  if (t.magic_ != kPclntabGo118 && t.magic_ != kPclntabGo120)
    return make_error("pclntab: bad magic " + hex(t.magic_));
  if (data[4] != 0 || data[5] != 0) return make_error("pclntab: nonzero header padding");
  if (data[6] != 1) return make_error("pclntab: PC quantum " + std::to_string(data[6]) + " is not x86's 1");
  if (data[7] != 8) return make_error("pclntab: pointer size " + std::to_string(data[7]) + " is not 8");
  if (data.size() < kHeaderSize) return make_error("pclntab: truncated header");

  auto word = [&](Word w) { return rd64(data, kWordsAt + 8 * w); };
  t.nfunc_ = word(kNfunc);
  t.text_start_ = word(kTextStart);
  t.funcname_off_ = word(kFuncnameOff);
  t.functab_off_ = word(kPclnOff);
  const uint64_t size = data.size();
  if (t.nfunc_ == 0 || t.nfunc_ > kMaxFuncs) return make_error("pclntab: implausible function count " + std::to_string(t.nfunc_));
  // Function names live in [funcnametab, cutab): the next table in the header bounds it.
  const uint64_t cu_off = word(kCuOff);
  if (t.funcname_off_ < kHeaderSize || t.funcname_off_ >= size || cu_off <= t.funcname_off_ || cu_off > size)
    return make_error("pclntab: function-name table out of range");
  t.funcname_end_ = cu_off;
  // functab holds nfunc+1 (entry, funcdata) u32 pairs: the extra one is the end of text.
  if (t.functab_off_ < kHeaderSize || t.functab_off_ >= size || (t.nfunc_ + 1) * 8 > size - t.functab_off_)
    return make_error("pclntab: function table out of range");
  t.data_ = data;
  return t;
}

std::string_view GoPclntab::go_range() const { return magic_ == kPclntabGo120 ? "1.20+" : "1.18-1.19"; }

std::optional<std::string_view> GoPclntab::name_at(uint64_t name_off) const {
  if (name_off >= funcname_end_ - funcname_off_) return std::nullopt;
  const uint64_t start = funcname_off_ + name_off;
  const uint64_t limit = std::min<uint64_t>(funcname_end_ - start, kMaxNameLen);
  const auto* p = data_.data() + start;
  const void* nul = std::memchr(p, 0, limit);
  if (!nul) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
}

Result<GoFunc> GoPclntab::func(uint64_t index) const {
  if (index >= nfunc_) return make_error("pclntab: function index out of range");
  const uint64_t pair = functab_off_ + index * 8;  // in range: checked in parse()
  const uint32_t entry = rd32(data_, pair);
  const uint32_t funcoff = rd32(data_, pair + 4);
  const uint32_t next = rd32(data_, pair + 8);
  if (next <= entry) return make_error("pclntab: function table not sorted at index " + std::to_string(index));
  // The _func record (entryOff u32, nameOff i32, ...) sits at functab + funcoff.
  const uint64_t rec = functab_off_ + funcoff;
  if (rec > data_.size() || data_.size() - rec < 8) return make_error("pclntab: function record out of range");
  if (rd32(data_, rec) != entry) return make_error("pclntab: function record disagrees with the table");
  const int32_t name_off = static_cast<int32_t>(rd32(data_, rec + 4));
  if (name_off < 0) return make_error("pclntab: negative name offset");
  auto name = name_at(static_cast<uint64_t>(name_off));
  if (!name) return make_error("pclntab: function name out of range");
  return GoFunc{*name, entry, next};
}

Result<GoFunc> GoPclntab::find(std::string_view name) const {
  uint64_t bad = 0;
  for (uint64_t i = 0; i < nfunc_; ++i) {
    auto f = func(i);
    if (!f) {
      ++bad;
      continue;
    }
    if (f->name == name) return f;
  }
  std::string msg = "pclntab: no function named " + std::string(name);
  if (bad) msg += " (" + std::to_string(bad) + " unreadable entries)";
  return make_error(std::move(msg));
}

std::optional<uint64_t> find_pclntab_by_magic(std::span<const uint8_t> region) {
  // The table is pointer-aligned in every Go linker output; the pad/quantum/ptrsize bytes
  // after the magic and a successful parse make false positives negligible.
  for (uint64_t off = 0; off + kHeaderSize <= region.size(); off += 8) {
    const uint8_t* p = region.data() + off;
    if (p[0] != 0xf0 && p[0] != 0xf1) continue;
    if (p[1] != 0xff || p[2] != 0xff || p[3] != 0xff || p[4] || p[5] || p[6] != 1 || p[7] != 8) continue;
    auto t = GoPclntab::parse(region.subspan(off));
    if (t && t->func(0)) return off;
  }
  return std::nullopt;
}

}  // namespace rein::binary
