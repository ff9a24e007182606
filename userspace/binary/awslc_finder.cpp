#include "binary/awslc_finder.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>
#include <string_view>
#include <vector>

#include "binary/x86_decode.h"
#include "common/fast_find.h"

namespace rein::binary {
namespace {

// Prefilter: `mov eax, dword [rdi+0xf0]; cmp eax, 9` — the GCM entry loads the AES key
// schedule's round-count field (after 15 round keys x 16 bytes = 0xf0) and switches on it
// to pick the AES-128/192/256 code path. Few functions in any binary do exactly this.
constexpr uint8_t kRoundsProbe[] = {0x8b, 0x87, 0xf0, 0x00, 0x00, 0x00, 0x83, 0xf8, 0x09};
// Prefilter for the AES-NI GCM path: `cmp rdx, 0x120` (it refuses inputs under 3 x 96 bytes).
constexpr uint8_t kAesniLenProbe[] = {0x48, 0x81, 0xfa, 0x20, 0x01, 0x00, 0x00};
constexpr uint8_t kEndbr64[] = {0xf3, 0x0f, 0x1e, 0xfa};
// ... and for the AES-NI GCM decrypt: `cmp rdx, 0x60` (it refuses inputs under 96 bytes).
constexpr uint8_t kAesniDecProbe[] = {0x48, 0x83, 0xfa, 0x60};

// Prefilter for the ChaCha20-Poly1305 entries: `and eax, 0x120; xor eax, 0x120` (AVX2 and
// BMI2 both present picks their AVX2 code), after a prologue of ~45 bytes.
constexpr uint8_t kChachaCpuProbe[] = {0x25, 0x20, 0x01, 0x00, 0x00, 0x35, 0x20, 0x01, 0x00, 0x00};

// The probe sits after the prologue (at most endbr + 6 pushes + frame setup, ~32 bytes).
constexpr uint64_t kMaxProbeDepth = 64;
// OpenSSL ships the same perlasm module; its copy also contains a frameless IV-setup helper
// switching on the same field, a few KiB before the encrypt entry. aws-lc's does IV setup in
// C, so a helper this close marks the pair as OpenSSL's.
constexpr uint64_t kSiblingHelperWindow = 64 * 1024;
// The two entries of one module are ~330 KiB apart (fully unrolled per key size).
constexpr uint64_t kMaxPairDistance = 4 * 1024 * 1024;
// The AES-NI GCM code of the same library sits next to the AVX-512 module.
constexpr uint64_t kAesniWindow = 1024 * 1024;
// Bounds on candidates so a hostile binary cannot make us do unbounded work.
constexpr size_t kMaxCandidates = 64;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// capstone's operand text without spaces and lower-cased, so matches don't depend on spacing.
std::string norm(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ') out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  return out;
}

struct Range {
  uint64_t offset = 0, vaddr = 0;
  std::span<const uint8_t> bytes;
};

std::vector<Range> exec_ranges(const ElfFile& elf) {
  std::vector<Range> out;
  for (const auto& seg : elf.segments()) {
    if (seg.type != PT_LOAD || !(seg.flags & PF_X) || seg.offset >= elf.bytes().size()) continue;
    const uint64_t n = std::min<uint64_t>(seg.filesz, elf.bytes().size() - seg.offset);
    out.push_back({seg.offset, seg.vaddr, elf.bytes().subspan(seg.offset, n)});
  }
  return out;
}

// One occurrence of a probe and the .eh_frame function start that owns it.
struct Hit {
  uint64_t vaddr = 0, start = 0;
};

// A read-only descriptor on the very file `elf` maps (same device, inode, size; mapped from
// offset 0), or -1. Identity comes from /proc/self/maps, so a path that now names another
// file is refused.
int same_file_fd(const ElfFile& elf) {
  if (elf.name() == "<memory>" || elf.bytes().empty()) return -1;
  const auto addr = reinterpret_cast<uintptr_t>(elf.bytes().data());
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (!maps) return -1;
  bool found = false;
  unsigned long lo = 0, hi = 0, off = 1, ino = 0;
  unsigned maj = 0, mnr = 0;
  char line[4096];
  while (!found && std::fgets(line, sizeof line, maps))
    found = std::sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &mnr, &ino) == 6 && addr >= lo &&
            addr < hi;
  std::fclose(maps);
  if (!found || off != 0 || addr != lo || ino == 0) return -1;
  const int fd = ::open(elf.name().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino != ino || major(st.st_dev) != maj ||
      minor(st.st_dev) != mnr || static_cast<uint64_t>(st.st_size) != elf.bytes().size()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Gives the prefilter the few bytes it needs after each function start. Reading them through
// the mapping costs a first touch of every page of .text (~64k pages for Codex), which is the
// slowest part by far (page-table and TLB fills, worse under virtualisation); pread into one
// small reused buffer copies the same bytes from the page cache several times faster. Without
// a descriptor (from_bytes, or the path no longer names the mapped file) bytes come from the
// mapping. Only used to find probe hits: every hit is re-checked, and every decode is done, on
// the mapped bytes.
class WindowReader {
 public:
  explicit WindowReader(int fd) : fd_(fd) {
    if (fd_ >= 0) buf_.resize(kChunk);
  }
  ~WindowReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  WindowReader(const WindowReader&) = delete;
  WindowReader& operator=(const WindowReader&) = delete;

  // Bytes [v, v + len) of `r` (the caller keeps them inside r; len <= kChunk), valid until
  // the next call.
  const uint8_t* get(const Range& r, uint64_t v, size_t len) {
    const uint64_t rel = v - r.vaddr;
    if (fd_ < 0) return r.bytes.data() + rel;
    if (r.vaddr != buf_range_ || rel < buf_rel_ || rel + len > buf_rel_ + buf_len_) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, r.bytes.size() - rel));
      size_t got = 0;
      while (got < want) {
        const ssize_t n = pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(r.offset + rel + got));
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      if (got < len) {  // the file shrank or failed to read: use the mapping from now on
        ::close(fd_);
        fd_ = -1;
        return r.bytes.data() + rel;
      }
      buf_range_ = r.vaddr;
      buf_rel_ = rel;
      buf_len_ = got;
    }
    return buf_.data() + (rel - buf_rel_);
  }
  static constexpr size_t kChunk = 64 * 1024;

 private:
  int fd_;
  std::vector<uint8_t> buf_;
  uint64_t buf_range_ = 0, buf_rel_ = 0, buf_len_ = 0;
};

template <size_t N>
std::vector<Hit> anchored_scan(const std::vector<uint64_t>& starts, const std::vector<Range>& rs, WindowReader& rd,
                               const uint8_t (&needle)[N], uint64_t lo, uint64_t hi, uint64_t depth, size_t limit) {
  static_assert(N > 0 && N < WindowReader::kChunk / 2);
  constexpr uint64_t kMax = ~uint64_t{0};
  auto sat_add = [](uint64_t a, uint64_t b) { return a > kMax - b ? kMax : a + b; };
  std::vector<Hit> out;
  for (const auto& r : rs) {
    // usable bytes [rb, re): the probe must end by `re`, like a memmem over that span
    const uint64_t rb = std::max(lo, r.vaddr), re = std::min(hi, sat_add(r.vaddr, r.bytes.size()));
    if (rb >= re || re - rb < N) continue;
    const uint64_t last_hit = re - N;  // inclusive
    // starts below rb - depth own nothing in reach of rb
    auto it = std::lower_bound(starts.begin(), starts.end(), rb >= depth ? rb - depth : 0);
    for (; it != starts.end() && *it <= last_hit; ++it) {
      const uint64_t s = *it;
      const uint64_t next = it + 1 != starts.end() ? *(it + 1) : kMax;  // s owns [s, next)
      const uint64_t from = std::max(s, rb);
      const uint64_t to = std::min({sat_add(s, depth), next - 1, last_hit});  // inclusive
      if (from > to) continue;
      const size_t n = to - from + 1;  // candidate positions; each has N bytes in range
      if (n + N - 1 > WindowReader::kChunk) return out;  // depth is a small constant: cannot happen
      const uint8_t* p = rd.get(r, from, n + N - 1);
      for (size_t i = 0; i < n;) {
        const void* q = std::memchr(p + i, needle[0], n - i);
        if (!q) break;
        i = static_cast<const uint8_t*>(q) - p;
        // a hit must also be in the mapped bytes that all later decoding reads
        if (std::memcmp(p + i, needle, N) == 0 && std::memcmp(r.bytes.data() + (from + i - r.vaddr), needle, N) == 0) {
          out.push_back({from + i, s});
          if (out.size() >= limit) return out;
        }
        ++i;
      }
    }
  }
  return out;
}

// Decodes sequential instructions from `start` (mapped in `r`), at most `max` of them.
std::vector<Insn> decode_some(const X86Decoder& dec, const Range& r, uint64_t start, size_t max) {
  std::vector<Insn> out;
  uint64_t a = start;
  while (out.size() < max && a >= r.vaddr && a - r.vaddr < r.bytes.size()) {
    auto in = dec.decode(r.bytes.subspan(a - r.vaddr), a);
    if (!in) break;
    a += in->size;
    out.push_back(std::move(*in));
  }
  return out;
}

bool is(const Insn& in, std::string_view mnem, std::string_view ops) {
  return in.mnemonic == mnem && norm(in.operands) == ops;
}

bool starts_with_endbr(const Range& r, uint64_t vaddr) {
  const uint64_t o = vaddr - r.vaddr;
  return r.bytes.size() - o >= sizeof kEndbr64 && std::memcmp(r.bytes.data() + o, kEndbr64, sizeof kEndbr64) == 0;
}

// `mov eax,[rdi+0xf0]` then the three-way switch on 9 / 11 / 13 (rounds of AES-128/192/256
// as this code stores them) at insns[i..].
bool rounds_switch_at(const std::vector<Insn>& v, size_t i) {
  if (v.size() < i + 7) return false;
  return is(v[i], "mov", "eax,dwordptr[rdi+0xf0]") && is(v[i + 1], "cmp", "eax,9") && v[i + 2].mnemonic == "je" &&
         is(v[i + 3], "cmp", "eax,0xb") && v[i + 4].mnemonic == "je" && is(v[i + 5], "cmp", "eax,0xd") &&
         v[i + 6].mnemonic == "je";
}

enum class Shape { none, frame, helper };

// frame:  [endbr64] push rbx,rbp,r12-r15 (any order); rbp = rsp; sub rsp, N; and rsp, -64
//         (64-byte aligned zmm spill area); rounds switch. The GCM encrypt/decrypt entries.
// helper: [endbr64] at most three non-push instructions, then the rounds switch; no frame.
Shape classify(const std::vector<Insn>& v, bool endbr) {
  size_t i = endbr && !v.empty() && v[0].mnemonic == "endbr64" ? 1 : 0;
  if (endbr && i == 0 && !v.empty()) i = v[0].size == 4 ? 1 : 0;  // decoder may not name endbr64
  std::vector<std::string> pushed;
  while (i < v.size() && v[i].mnemonic == "push") pushed.push_back(norm(v[i++].operands));
  if (pushed.empty()) {
    for (size_t k = i; k <= i + 3 && k < v.size(); ++k)
      if (v[k].mnemonic == "push") return Shape::none;
      else if (rounds_switch_at(v, k)) return Shape::helper;
    return Shape::none;
  }
  std::sort(pushed.begin(), pushed.end());
  if (pushed != std::vector<std::string>{"r12", "r13", "r14", "r15", "rbp", "rbx"}) return Shape::none;
  if (i + 3 >= v.size()) return Shape::none;
  if (!is(v[i], "lea", "rbp,[rsp]") && !is(v[i], "mov", "rbp,rsp")) return Shape::none;
  if (v[i + 1].mnemonic != "sub" || norm(v[i + 1].operands).rfind("rsp,", 0) != 0) return Shape::none;
  if (!is(v[i + 2], "and", "rsp,0xffffffffffffffc0")) return Shape::none;
  return rounds_switch_at(v, i + 3) ? Shape::frame : Shape::none;
}

const Range* range_of(const std::vector<Range>& rs, uint64_t vaddr) {
  for (const auto& r : rs)
    if (vaddr >= r.vaddr && vaddr - r.vaddr < r.bytes.size()) return &r;
  return nullptr;
}

// The stitched AES-NI GCM entries, aesni_gcm_{en,de}crypt(in, out, len, key, ivec, Xi):
// [endbr64] xor reg,reg (zeroes the return count); cmp rdx,<least input it takes>; jb. aws-lc
// calls them with every record's whole length and they take the bulk (encrypt from 0x120
// bytes, decrypt from 0x60), leaving the rest to C code. Exactly one in the window, or none.
template <size_t N>
std::optional<uint64_t> aesni_entry(const ElfFile& elf, const std::vector<Range>& rs, WindowReader& rd,
                                    const X86Decoder& dec, uint64_t lo, uint64_t hi, const uint8_t (&probe)[N],
                                    std::string_view cmp_ops) {
  std::vector<uint64_t> found;
  // only the window: the same probe also hits other libraries' copies elsewhere
  for (const Hit& h : anchored_scan(elf.eh_frame_starts(), rs, rd, probe, lo, hi, 16, kMaxCandidates)) {
    const Range* r = range_of(rs, h.start);
    if (!r) continue;
    auto v = decode_some(dec, *r, h.start, 4);
    size_t i = starts_with_endbr(*r, h.start) ? 1 : 0;
    if (v.size() < i + 3 || v[i].mnemonic != "xor") continue;
    const std::string ops = norm(v[i].operands);
    const size_t comma = ops.find(',');
    if (comma == std::string::npos || ops.substr(0, comma) != ops.substr(comma + 1)) continue;
    if (is(v[i + 1], "cmp", cmp_ops) && v[i + 2].mnemonic == "jb") found.push_back(h.start);
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  if (found.size() == 1) return found.front();
  return std::nullopt;
}

enum class Chacha { none, open, seal };

// aws-lc's chacha20_poly1305_{open,seal}(out, in, len, ad, ad_len, data): [endbr64]
// push rbp, rbx, r12, r13, r14, r15, r9; sub rsp,0x140; lea rbp,[rsp+0x20]; and rbp,-32;
// then open: mov rbx,rdx (the length); seal: mov rbx,[r9+0x38] (data's extra ciphertext
// length, which only seal has); then, within a few instructions, the AVX2+BMI2 test
// (and eax,0x120; xor eax,0x120; je). Anything else is none.
Chacha chacha_shape(const std::vector<Insn>& v, bool endbr) {
  size_t i = endbr && !v.empty() && (v[0].mnemonic == "endbr64" || v[0].size == 4) ? 1 : 0;
  static constexpr std::string_view kPushes[] = {"rbp", "rbx", "r12", "r13", "r14", "r15", "r9"};
  for (std::string_view reg : kPushes)
    if (i >= v.size() || !is(v[i++], "push", reg)) return Chacha::none;
  if (v.size() < i + 4 || !is(v[i], "sub", "rsp,0x140") || !is(v[i + 1], "lea", "rbp,[rsp+0x20]") ||
      !is(v[i + 2], "and", "rbp,0xffffffffffffffe0"))
    return Chacha::none;
  i += 3;
  const Chacha kind = is(v[i], "mov", "rbx,rdx")                    ? Chacha::open
                      : is(v[i], "mov", "rbx,qwordptr[r9+0x38]") ? Chacha::seal
                                                                   : Chacha::none;
  if (kind == Chacha::none) return kind;
  for (size_t k = i + 1; k + 2 < v.size() && k <= i + 8; ++k)
    if (is(v[k], "and", "eax,0x120") && is(v[k + 1], "xor", "eax,0x120") && v[k + 2].mnemonic == "je")
      return kind;
  return Chacha::none;
}

// The one open and the one seal entry in [lo, hi), or nothing: two of either is ambiguous.
std::optional<std::pair<uint64_t, uint64_t>> chacha_entries(const ElfFile& elf, const std::vector<Range>& rs,
                                                            WindowReader& rd, const X86Decoder& dec, uint64_t lo,
                                                            uint64_t hi) {
  std::vector<uint64_t> opens, seals;
  for (const Hit& h : anchored_scan(elf.eh_frame_starts(), rs, rd, kChachaCpuProbe, lo, hi, kMaxProbeDepth,
                                    kMaxCandidates)) {
    const Range* r = range_of(rs, h.start);
    if (!r) continue;
    switch (chacha_shape(decode_some(dec, *r, h.start, 24), starts_with_endbr(*r, h.start))) {
      case Chacha::open: opens.push_back(h.start); break;
      case Chacha::seal: seals.push_back(h.start); break;
      case Chacha::none: break;
    }
  }
  for (auto* v : {&opens, &seals}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  if (opens.size() != 1 || seals.size() != 1) return std::nullopt;
  return std::make_pair(opens.front(), seals.front());
}

}  // namespace

bool looks_like_awslc(const ElfFile& elf) {
  static constexpr char kMarker[] = "AWS-LC";
  for (const auto& seg : elf.segments()) {
    if (seg.type != PT_LOAD || (seg.flags & (PF_X | PF_W)) || seg.offset >= elf.bytes().size()) continue;
    const uint64_t n = std::min<uint64_t>(seg.filesz, elf.bytes().size() - seg.offset);
    const std::string_view area(reinterpret_cast<const char*>(elf.bytes().data() + seg.offset), n);
    if (fast_find(area, std::string_view(kMarker, sizeof kMarker - 1)) != std::string_view::npos)
      return true;
  }
  return false;
}

Result<AwsLcGcm> find_awslc_gcm(const ElfFile& elf) {
  if (elf.eh_frame_starts().empty())
    return make_error("no .eh_frame_hdr function table: cannot anchor GCM entries on function starts");
  const auto ranges = exec_ranges(elf);
  // Probes more than kMaxProbeDepth past their function start can never classify, so only
  // those near a start are looked for (and counted against the cap).
  WindowReader rd(same_file_fd(elf));
  const auto hits = anchored_scan(elf.eh_frame_starts(), ranges, rd, kRoundsProbe, 0, ~uint64_t{0}, kMaxProbeDepth,
                                  kMaxCandidates + 1);
  if (hits.size() > kMaxCandidates)
    return make_error("more than " + std::to_string(kMaxCandidates) + " AES round-count switches: refusing to guess");

  X86Decoder dec;
  std::vector<uint64_t> frames, helpers;
  std::optional<std::pair<uint64_t, Shape>> last;  // a function's hits are adjacent: decode it once
  for (const Hit& h : hits) {
    const Range* r = range_of(ranges, h.start);
    if (!r) continue;
    if (!last || last->first != h.start)
      last.emplace(h.start, classify(decode_some(dec, *r, h.start, 24), starts_with_endbr(*r, h.start)));
    switch (last->second) {
      case Shape::frame: frames.push_back(h.start); break;
      case Shape::helper: helpers.push_back(h.start); break;
      case Shape::none: break;
    }
  }
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  if (frames.empty()) return make_error("no AVX-512 GCM entry shape found (" + std::to_string(hits.size()) + " round-count switches checked)");
  if (frames.size() % 2)
    return make_error(std::to_string(frames.size()) + " AVX-512 GCM entry shapes: odd count, cannot pair encrypt/decrypt");

  // Entries come in (encrypt, decrypt) pairs per copy of the module, encrypt first.
  std::string evidence = std::to_string(hits.size()) + " round-count switches, " + std::to_string(frames.size()) +
                         " GCM entry shapes, " + std::to_string(helpers.size()) + " frameless helpers";
  std::vector<std::pair<uint64_t, uint64_t>> awslc;
  for (size_t i = 0; i < frames.size(); i += 2) {
    const uint64_t enc = frames[i], decr = frames[i + 1];
    if (decr - enc > kMaxPairDistance)
      return make_error("GCM entry shapes at " + hex(enc) + " and " + hex(decr) + " are too far apart to be one module");
    bool openssl = false;
    for (uint64_t hp : helpers)
      if (hp < enc && enc - hp <= kSiblingHelperWindow) openssl = true;
    evidence += "; pair " + hex(enc) + "/" + hex(decr) + (openssl ? " skipped (IV helper nearby: OpenSSL's copy)" : " kept");
    if (!openssl) awslc.emplace_back(enc, decr);
  }
  if (awslc.size() != 1)
    return make_error(std::to_string(awslc.size()) + " candidate aws-lc AVX-512 GCM pairs, need exactly one: " + evidence);

  const auto [enc, decr] = awslc.front();
  auto eo = elf.vaddr_to_offset(enc), dof = elf.vaddr_to_offset(decr);
  if (!eo || !dof) return make_error("GCM entries are not file-backed");
  AwsLcGcm out;
  out.encrypt_offset = *eo;
  out.decrypt_offset = *dof;
  const uint64_t lo = enc > kAesniWindow ? enc - kAesniWindow : 0, hi = decr + kAesniWindow;
  const auto aesni_enc = aesni_entry(elf, ranges, rd, dec, lo, hi, kAesniLenProbe, "rdx,0x120");
  const auto aesni_dec = aesni_entry(elf, ranges, rd, dec, lo, hi, kAesniDecProbe, "rdx,0x60");
  out.has_aesni_gcm = aesni_enc.has_value();
  out.evidence = evidence + "; encrypt " + hex(enc) + " (file " + hex(*eo) + "), decrypt " + hex(decr) + " (file " +
                 hex(*dof) + ")";
  if (aesni_enc && aesni_dec) {
    auto ao = elf.vaddr_to_offset(*aesni_enc), bo = elf.vaddr_to_offset(*aesni_dec);
    if (ao && bo) {
      out.aesni_encrypt_offset = *ao;
      out.aesni_decrypt_offset = *bo;
      out.evidence += "; AES-NI GCM encrypt " + hex(*aesni_enc) + ", decrypt " + hex(*aesni_dec);
    }
  } else {
    out.evidence += std::string("; AES-NI GCM entries: encrypt ") + (aesni_enc ? "found" : "not proven") +
                    ", decrypt " + (aesni_dec ? "found" : "not proven");
  }
  if (auto cc = chacha_entries(elf, ranges, rd, dec, lo, hi)) {
    auto oo = elf.vaddr_to_offset(cc->first), so = elf.vaddr_to_offset(cc->second);
    if (oo && so) {
      out.has_chacha20_poly1305 = true;
      out.chacha_open_offset = *oo;
      out.chacha_seal_offset = *so;
      out.evidence += "; ChaCha20-Poly1305 open " + hex(cc->first) + ", seal " + hex(cc->second);
    }
  } else {
    out.evidence += "; ChaCha20-Poly1305 entries not proven";
  }
  return out;
}

}  // namespace rein::binary
