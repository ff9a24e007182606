#include "binary/boringssl_finder.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "binary/code_scan.h"
#include "binary/x86_decode.h"
#include "common/fast_find.h"

namespace rein::binary {
namespace {

constexpr std::string_view kFileSuffix{"ssl/ssl_lib.cc\0", 15};  // NUL: the path must END here
constexpr uint64_t kMaxStrings = 16;              // copies of the path string we accept
constexpr uint64_t kMaxPathBack = 512;            // longest path prefix walked back over
constexpr size_t kMaxRefs = 4096;                 // ssl_lib.cc has ~150 error sites
constexpr uint64_t kMaxFunctionSpan = 64 * 1024;  // entry-to-site distance we will decode
constexpr size_t kMaxExecRanges = 16;
constexpr uint64_t kScanWindow = 8 << 20;  // bytes swept before their pages are released
constexpr int kArgWindowBefore = 6;        // instructions before the file load that set up args
constexpr int kArgWindowAfter = 8;         // instructions after it, up to the ERR_put_error call
constexpr uint64_t kMaxCallScan = 16 * 1024;
// Total bytes linearly decoded across all proofs: crafted files with thousands of far-apart
// references must not turn into minutes of disassembly.
constexpr uint64_t kDecodeBudget = 16ull << 20;  // SSL_read body scanned for its ssl_read_impl call
constexpr int64_t kLibSsl = 16;
constexpr int64_t kReasonShouldNotBeCalled = 66, kReasonUninitialized = 226,
                  kReasonProtocolIsShutdown = 215, kReasonBadLength = 111;
constexpr int64_t kMaxReadWriteLineGap = 64;  // SSL_read's check precedes SSL_write's by ~20 lines

constexpr uint8_t kPrologue[4] = {0x55, 0x48, 0x89, 0xe5};  // push %rbp; mov %rsp,%rbp

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string hex(uint64_t v) {
  char buf[24];
  (void)std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct ExecRange {
  uint64_t vaddr = 0, offset = 0;
  std::span<const uint8_t> bytes;
  std::vector<uint64_t> entry_bits;     // 1 bit per 16-byte slot: proven call-target entry
  std::vector<uint64_t> prologue_bits;  // 1 bit per 16-byte slot: starts with kPrologue
  bool contains(uint64_t a, uint64_t len = 1) const {
    return a >= vaddr && a - vaddr <= bytes.size() && len <= bytes.size() - (a - vaddr);
  }
  bool has_prologue(uint64_t a) const {
    return contains(a, 4) && std::memcmp(bytes.data() + (a - vaddr), kPrologue, 4) == 0;
  }
  void mark(uint64_t a) {
    uint64_t slot = (a - vaddr) / 16;
    entry_bits[slot / 64] |= uint64_t{1} << (slot % 64);
  }
  bool is_entry(uint64_t a) const {
    if (!contains(a) || (a - vaddr) % 16) return false;
    uint64_t slot = (a - vaddr) / 16;
    return (entry_bits[slot / 64] >> (slot % 64)) & 1;
  }
  // Nearest marked entry at or below `a`, no further back than `limit` bytes.
  std::optional<uint64_t> entry_before(uint64_t a, uint64_t limit) const {
    if (!contains(a)) return std::nullopt;
    uint64_t first = (a - vaddr) > limit ? (a - vaddr) - limit : 0;
    for (uint64_t slot = (a - vaddr) / 16 + 1; slot-- > first / 16;)
      if ((entry_bits[slot / 64] >> (slot % 64)) & 1) return vaddr + slot * 16;
    return std::nullopt;
  }
};

struct Site {
  uint64_t entry = 0, addr = 0;
  int64_t reason = 0, line = 0;
  int args = 0;  // 4 or 5: ERR_put_error shape
};

struct Scan {
  std::vector<ExecRange> ranges;
  std::vector<uint64_t> targets;  // acceptable string addresses, sorted
  std::vector<uint64_t> refs;     // vaddr of 4-byte fields that may encode a target
};

// Read-only, allocated, non-executable data: where the compiler put the path literal.
std::vector<std::span<const uint8_t>> rodata_areas(const ElfFile& elf,
                                                   std::vector<uint64_t>& offsets) {
  std::vector<std::span<const uint8_t>> out;
  for (const auto& s : elf.sections()) {
    if (s.type != SHT_PROGBITS || !(s.flags & SHF_ALLOC) || (s.flags & (SHF_WRITE | SHF_EXECINSTR)))
      continue;
    out.push_back(elf.section_bytes(s));
    offsets.push_back(s.offset);
  }
  if (!out.empty() || !elf.sections().empty()) return out;
  for (const auto& p : elf.segments()) {  // section headers stripped
    if (p.type != PT_LOAD || (p.flags & (PF_W | PF_X))) continue;
    out.push_back(elf.bytes_at(p.offset, p.filesz));
    offsets.push_back(p.offset);
  }
  return out;
}

// Every address a reference to ".../ssl/ssl_lib.cc" may use: the start of the containing
// string, and the suffix itself (linkers tail-merge strings, so either can be referenced).
std::vector<uint64_t> find_path_strings(const ElfFile& elf, bool stop_at_first) {
  std::vector<uint64_t> out;
  std::vector<uint64_t> offs;
  auto areas = rodata_areas(elf, offs);
  for (size_t i = 0; i < areas.size() && out.size() < 2 * kMaxStrings; ++i) {
    auto a = areas[i];
    size_t pos = 0;
    while (pos < a.size() && out.size() < 2 * kMaxStrings) {
      const size_t at = fast_find(
          std::string_view(reinterpret_cast<const char*>(a.data()), a.size()), kFileSuffix, pos);
      if (at == std::string_view::npos) break;
      size_t start = at;
      while (start > 0 && at - start < kMaxPathBack && a[start - 1] != 0) --start;
      for (size_t s : {start, at}) {
        if (auto va = elf.offset_to_vaddr(offs[i] + s)) out.push_back(*va);
        if (s == at || start == at) break;
      }
      if (stop_at_first && !out.empty()) break;
      pos = at + 1;
    }
    elf.release_pages(a);
    if (stop_at_first && !out.empty()) return out;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<Scan> scan_code(const ElfFile& elf, bool* has_path_string) {
  Scan sc;
  sc.targets = find_path_strings(elf, false);
  if (has_path_string) *has_path_string = !sc.targets.empty();
  if (sc.targets.empty())
    return make_error(elf.name() + ": no \"ssl/ssl_lib.cc\" string in read-only data");
  for (const auto& p : elf.segments()) {
    if (p.type != PT_LOAD || !(p.flags & PF_X) || p.filesz == 0) continue;
    if (sc.ranges.size() >= kMaxExecRanges)
      return make_error(elf.name() + ": too many executable segments");
    ExecRange r;
    r.vaddr = p.vaddr;
    r.offset = p.offset;
    r.bytes = elf.bytes_at(p.offset, p.filesz);
    r.entry_bits.assign(r.bytes.size() / 16 / 64 + 1, 0);
    r.prologue_bits.assign(r.entry_bits.size(), 0);
    sc.ranges.push_back(std::move(r));
  }
  if (sc.ranges.empty()) return make_error(elf.name() + ": no executable PT_LOAD segment");

  const uint64_t tmin = sc.targets.front(), tmax = sc.targets.back();
  auto is_target = [&](uint64_t v) {
    return v >= tmin && v <= tmax && std::binary_search(sc.targets.begin(), sc.targets.end(), v);
  };
  // Pass 1 over each executable segment: 16-aligned direct-call targets (e8 rel32) as
  // candidate entries, and 4-byte fields that hold a string address either absolutely
  // (non-PIE imm32) or RIP-relative (a disp32 ending its instruction, as in lea). All are
  // only candidates; decoding proves them later. The sweep itself is vectorised
  // (code_scan.h); only the positions it returns are tested exactly here. Windows are
  // released as we go so RSS stays small on a 400 MB file.
  const uint64_t tspan = tmax - tmin;
  CodeScanHits hits;  // one window's candidates
  for (auto& r : sc.ranges) {
    const uint8_t* d = r.bytes.data();
    const uint64_t n = r.bytes.size();
    const uint64_t base = r.vaddr;
    for (uint64_t w = 0; w < n; w += kScanWindow) {
      const uint64_t wend = std::min(n, w + kScanWindow);
      hits.clear();
      elf.prefault_pages(r.bytes.subspan(w, wend - w));
      scan_code_window(r.bytes, base, tmin, tmax, w, wend, hits);
      for (uint64_t i : hits.prologues)
        r.prologue_bits[i / 16 / 64] |= uint64_t{1} << (i / 16 % 64);
      for (uint64_t i : hits.fields) {  // the exact test, in 64 bits
        const uint32_t v = load32(d + i);
        const uint64_t here = base + i;
        const uint64_t rip =
            here + 4 + static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
        if ((uint64_t{v} - tmin <= tspan && is_target(v)) ||
            (rip - tmin <= tspan && is_target(rip))) {
          if (sc.refs.size() >= kMaxRefs)
            return make_error(elf.name() + ": more than " + std::to_string(kMaxRefs) +
                              " candidate ssl_lib.cc references");
          sc.refs.push_back(here);
        }
      }
      for (uint64_t i : hits.calls) {
        if (i + 5 > n) continue;
        const uint64_t t =
            base + i + 5 +
            static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(load32(d + i + 1))));
        if (t % 16) continue;
        for (auto& dst : sc.ranges)
          if (dst.contains(t, 4) && (t - dst.vaddr) % 16 == 0) {
            dst.mark(t);
            break;
          }
      }
      elf.release_pages(r.bytes.subspan(w, wend - w));
    }
  }
  // Keep only candidates that start with the frame-pointer prologue: the sweep noted every
  // slot that does, so no page is read twice.
  for (auto& r : sc.ranges)
    for (size_t word = 0; word < r.entry_bits.size(); ++word)
      r.entry_bits[word] &= r.prologue_bits[word];
  return sc;
}

const ExecRange* range_of(const Scan& sc, uint64_t a) {
  for (const auto& r : sc.ranges)
    if (r.contains(a)) return &r;
  return nullptr;
}

// Immediate values of the argument registers at the ERR_put_error call following `idx`.
struct ArgRegs {
  std::map<Gpr, std::optional<int64_t>> val;
  bool terminated = false;
};

bool is_arg_reg(Gpr g) {
  return g == Gpr::rdi || g == Gpr::rsi || g == Gpr::rdx || g == Gpr::rcx || g == Gpr::r8;
}

void apply(ArgRegs& a, const Insn& in) {
  if (!is_arg_reg(in.dst)) return;
  const std::string& m = in.mnemonic;
  if (m == "cmp" || m == "test" || m == "push") return;  // read-only uses of the register
  if (m == "mov" && in.imm) {
    a.val[in.dst] = in.imm;
  } else if (m == "xor" && in.src_reg == in.dst) {
    a.val[in.dst] = 0;
  } else {
    a.val[in.dst] = std::nullopt;  // written with something we do not track
  }
}

class Prover {
 public:
  Prover(const ElfFile& elf, const Scan& sc) : elf_(elf), sc_(sc) {}
  bool ok() const { return dec_.ok(); }

  // Proves one candidate field. Returns the site, or nullopt with why_ set (unproven) or
  // with noise_ set (the bytes are not a string load: coincidental).
  std::optional<Site> prove(uint64_t field) {
    why_.clear();
    noise_ = false;
    const ExecRange* r = range_of(sc_, field);
    if (!r) return fail("reference outside code");
    auto entry = r->entry_before(field, kMaxFunctionSpan);
    if (!entry) return fail("no call-target entry within 64 KiB before " + hex(field));
    std::vector<Insn> insns;
    insns.reserve(256);
    // Decode one instruction at a time so we can stop at the one covering `field`.
    uint64_t a = *entry;
    size_t ref_idx = 0;
    bool found = false;
    if (!charge(field - *entry)) return fail("decode budget exhausted");
    while (a <= field) {
      size_t before = insns.size();
      if (!dec_.decode_range(r->bytes, r->vaddr, a, a + 1, insns) || insns.size() != before + 1)
        return fail("undecodable byte at " + hex(a) + " after entry " + hex(*entry));
      const Insn& in = insns.back();
      if (in.addr != *entry) {
        if (const char* why = boundary(*r, in.addr, insns[insns.size() - 2]))
          return fail(std::string(why) + " at " + hex(in.addr) + " after entry " + hex(*entry));
      }
      if (field < in.end()) {
        ref_idx = insns.size() - 1;
        found = true;
        break;
      }
      a = in.end();
    }
    if (!found) return fail("decode from " + hex(*entry) + " did not cover " + hex(field));
    const Insn& ref = insns[ref_idx];
    const bool loads_path =
        ref.loads_register && ((ref.imm && is_target(static_cast<uint64_t>(*ref.imm))) ||
                               (ref.rip_target && is_target(*ref.rip_target)));
    if (!loads_path) {
      noise_ = true;
      return std::nullopt;
    }
    // Arguments: the straight-line block around the load, up to the call (or the jmp to a
    // shared call) of ERR_put_error.
    ArgRegs regs;
    size_t lo = ref_idx;
    for (int k = 0; k < kArgWindowBefore && lo > 0; ++k) {
      const Insn& p = insns[lo - 1];
      if (p.is_call || p.is_jmp || p.is_jcc || p.is_ret || p.is_trap) break;
      --lo;
    }
    for (size_t k = lo; k <= ref_idx; ++k) apply(regs, insns[k]);
    a = ref.end();
    for (int k = 0; k < kArgWindowAfter; ++k) {
      auto in = dec_.decode(r->bytes.subspan(std::min<uint64_t>(a - r->vaddr, r->bytes.size())), a);
      if (!in) break;
      if (in->is_call || in->is_jmp) {
        regs.terminated = true;
        break;
      }
      if (in->is_jcc || in->is_ret || in->is_trap) break;
      apply(regs, *in);
      a = in->end();
    }
    if (!regs.terminated) return fail("no call after the ssl_lib.cc load at " + hex(ref.addr));
    Site s;
    s.entry = *entry;
    s.addr = ref.addr;
    Gpr reason_reg, line_reg;
    if (ref.dst == Gpr::rcx) {  // ERR_put_error(lib, func, reason, file, line)
      s.args = 5;
      reason_reg = Gpr::rdx;
      line_reg = Gpr::r8;
    } else if (ref.dst == Gpr::rdx) {  // (lib, reason, file, line) after LTO drops `func`
      s.args = 4;
      reason_reg = Gpr::rsi;
      line_reg = Gpr::rcx;
    } else {
      return fail("path loaded into an unexpected register at " + hex(ref.addr));
    }
    auto lib = regs.val[Gpr::rdi], reason = regs.val[reason_reg], line = regs.val[line_reg];
    if (!lib || *lib != kLibSsl || !reason || !line)
      return fail("error call at " + hex(ref.addr) + " lacks constant lib/reason/line");
    s.reason = *reason;
    s.line = *line;
    return s;
  }

  const std::string& why() const { return why_; }
  bool exhausted() const { return exhausted_; }
  bool noise() const { return noise_; }

  // Direct calls made by the function at `entry`, decoded up to the next proven entry.
  std::vector<uint64_t> direct_calls(uint64_t entry) {
    std::vector<uint64_t> out;
    const ExecRange* r = range_of(sc_, entry);
    if (!r || !charge(kMaxCallScan)) return out;
    uint64_t a = entry;
    std::vector<Insn> one;
    Insn prev;
    while (a - entry < kMaxCallScan) {
      one.clear();
      if (!dec_.decode_range(r->bytes, r->vaddr, a, a + 1, one) || one.size() != 1) break;
      const Insn& in = one.front();
      if (in.addr != entry && (r->is_entry(in.addr) || boundary(*r, in.addr, prev))) break;
      if (in.is_call_rel) out.push_back(in.target);
      prev = in;
      a = in.end();
    }
    return out;
  }

 private:
  // Evidence that a linear walk has left the function it started in: another function's
  // prologue, the int3 padding lld puts between functions, or an .eh_frame function start.
  const char* boundary(const ExecRange& r, uint64_t a, const Insn& prev) const {
    if (a % 16 == 0 && r.has_prologue(a)) return "passed another function prologue";
    if (a % 16 == 0 && prev.id != 0 && prev.is_trap && prev.mnemonic == "int3")
      return "passed int3 padding";
    if (elf_.is_function_start(a)) return "passed an .eh_frame function start";
    return nullptr;
  }

  std::optional<Site> fail(std::string why) {
    why_ = std::move(why);
    return std::nullopt;
  }
  bool is_target(uint64_t v) const {
    return std::binary_search(sc_.targets.begin(), sc_.targets.end(), v);
  }

  const ElfFile& elf_;
  const Scan& sc_;
  X86Decoder dec_;
  std::string why_;
  bool noise_ = false;
  uint64_t budget_ = kDecodeBudget;
  bool exhausted_ = false;

  bool charge(uint64_t bytes) {
    if (exhausted_ || budget_ < bytes) {
      exhausted_ = true;
      return false;
    }
    budget_ -= bytes;
    return true;
  }
};

struct FnInfo {
  std::vector<Site> sites;
  std::set<int64_t> reasons;
  int count(int64_t reason) const {
    return static_cast<int>(std::count_if(sites.begin(), sites.end(),
                                          [&](const Site& s) { return s.reason == reason; }));
  }
  const Site* first(int64_t reason) const {
    for (const auto& s : sites)
      if (s.reason == reason) return &s;
    return nullptr;
  }
};

std::string list(const std::vector<uint64_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < 4; ++i) out += (i ? "," : "") + hex(v[i]);
  if (v.size() > 4) out += ",...";
  return out;
}

}  // namespace

bool looks_like_bun_boringssl(const ElfFile& elf) {
  return !find_path_strings(elf, true).empty();
}

Result<BunSslFunctions> find_bun_boringssl(const ElfFile& elf, bool* has_path_string) {
  auto scan = scan_code(elf, has_path_string);
  if (!scan) return scan.error();
  const Scan& sc = *scan;
  Prover prover(elf, sc);
  if (!prover.ok()) return make_error("capstone initialisation failed");

  std::map<uint64_t, FnInfo> fns;
  size_t unproven = 0, noise = 0;
  std::string first_unproven;
  for (uint64_t field : sc.refs) {
    auto site = prover.prove(field);
    if (prover.exhausted())
      return make_error(
          elf.name() +
          ": gave up: too much code to decode between entries and ssl_lib.cc references");
    if (site) {
      auto& f = fns[site->entry];
      // A field can be matched twice (absolute and RIP-relative reading); keep one per insn.
      if (std::none_of(f.sites.begin(), f.sites.end(),
                       [&](const Site& s) { return s.addr == site->addr; })) {
        f.sites.push_back(*site);
        f.reasons.insert(site->reason);
      }
    } else if (prover.noise()) {
      ++noise;
    } else {
      if (first_unproven.empty()) first_unproven = prover.why();
      ++unproven;
    }
  }
  const std::string ctx = " (" + std::to_string(fns.size()) + " functions proven, " +
                          std::to_string(unproven) + " unproven refs" +
                          (first_unproven.empty() ? "" : ": " + first_unproven) + ")";

  // SSL_write: the only function with all four of its reasons; BAD_LENGTH occurs once.
  std::vector<uint64_t> writes;
  size_t bad_length_sites = 0;
  for (const auto& [entry, f] : fns) {
    bad_length_sites += static_cast<size_t>(f.count(kReasonBadLength));
    if (f.reasons.count(kReasonShouldNotBeCalled) && f.reasons.count(kReasonUninitialized) &&
        f.reasons.count(kReasonProtocolIsShutdown) && f.reasons.count(kReasonBadLength))
      writes.push_back(entry);
  }
  if (writes.size() != 1)
    return make_error(elf.name() + ": " + std::to_string(writes.size()) +
                      " functions carry SSL_write's reasons {66,226,215,111} [" + list(writes) +
                      "]" + ctx);
  if (bad_length_sites != 1)
    return make_error(elf.name() + ": " + std::to_string(bad_length_sites) +
                      " BAD_LENGTH (111) sites, expected 1" + ctx);
  const uint64_t w = writes.front();
  const FnInfo& wf = fns[w];
  if (wf.count(kReasonShouldNotBeCalled) != 1)
    return make_error(elf.name() + ": SSL_write candidate " + hex(w) +
                      " has several reason-66 sites");
  const int64_t write_line = wf.first(kReasonShouldNotBeCalled)->line;

  // ssl_read_impl: 226 and 215 without SSL_write's own reasons.
  std::set<uint64_t> impls;
  for (const auto& [entry, f] : fns)
    if (entry != w && f.reasons.count(kReasonUninitialized) &&
        f.reasons.count(kReasonProtocolIsShutdown) && !f.reasons.count(kReasonShouldNotBeCalled) &&
        !f.reasons.count(kReasonBadLength))
      impls.insert(entry);
  if (impls.empty())
    return make_error(elf.name() + ": no ssl_read_impl candidate (reasons 226+215)" + ctx);

  // SSL_read: one reason-66 site shortly before SSL_write's in the source, and a direct call
  // to ssl_read_impl.
  std::vector<uint64_t> reads;
  uint64_t read_impl = 0;
  for (const auto& [entry, f] : fns) {
    if (entry == w || f.count(kReasonShouldNotBeCalled) != 1 || f.reasons.count(kReasonBadLength))
      continue;
    const int64_t gap = write_line - f.first(kReasonShouldNotBeCalled)->line;
    if (gap <= 0 || gap > kMaxReadWriteLineGap) continue;
    for (uint64_t t : prover.direct_calls(entry))
      if (impls.count(t)) {
        reads.push_back(entry);
        read_impl = t;
        break;
      }
  }
  if (prover.exhausted())
    return make_error(elf.name() + ": gave up: too much code to decode while looking for SSL_read");
  if (reads.size() != 1)
    return make_error(
        elf.name() + ": " + std::to_string(reads.size()) +
        " SSL_read candidates (reason 66 within " + std::to_string(kMaxReadWriteLineGap) +
        " lines before SSL_write's, calling ssl_read_impl) [" + list(reads) + "]" + ctx);
  const uint64_t rd = reads.front();
  const FnInfo& rf = fns[rd];

  BunSslFunctions out;
  auto wo = elf.vaddr_to_offset(w), ro = elf.vaddr_to_offset(rd);
  if (!wo || !ro) return make_error(elf.name() + ": entry not file-backed");
  // The uprobe goes where the FILE says: the prologue must be at that file offset too (a
  // crafted file can map one address from two places).
  static const uint8_t kPrologue[4] = {0x55, 0x48, 0x89, 0xe5};
  for (uint64_t off : {*wo, *ro}) {
    auto at = elf.bytes_at(off, sizeof(kPrologue));
    if (at.size() != sizeof(kPrologue) || std::memcmp(at.data(), kPrologue, sizeof(kPrologue)) != 0)
      return make_error(elf.name() + ": entry bytes at the file offset are not the proven prologue");
  }
  out.ssl_write_vaddr = w;
  out.ssl_read_vaddr = rd;
  out.ssl_write_offset = *wo;
  out.ssl_read_offset = *ro;
  out.evidence = "SSL_write@" + hex(w) + " (call target, 16-aligned, push rbp;mov rbp,rsp; " +
                 std::to_string(wf.sites.size()) +
                 " ssl_lib.cc sites on insn boundaries, reasons 66/226/215/111, " +
                 std::to_string(wf.sites.front().args) + "-arg ERR_put_error, reason-66 line " +
                 std::to_string(write_line) + "); SSL_read@" + hex(rd) + " (reason-66 line " +
                 std::to_string(rf.first(kReasonShouldNotBeCalled)->line) +
                 ", calls ssl_read_impl@" + hex(read_impl) + " with 226/215); " +
                 std::to_string(fns.size()) + " functions proven, " + std::to_string(unproven) +
                 " refs unproven" +
                 (first_unproven.empty() ? "" : " (first: " + first_unproven + ")") + ", " +
                 std::to_string(noise) + " byte matches not loads";
  return out;
}

}  // namespace rein::binary
