#include "binary/go_tls_finder.h"

#include <elf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "binary/gopclntab.h"
#include "binary/x86_decode.h"

namespace rein::binary {
namespace {

constexpr std::string_view kBuildInfoMagic = "\xff Go buildinf:";  // 14 bytes
// The linker puts buildinfo at the very start of the first writable segment.
constexpr uint64_t kBuildInfoScan = 64 * 1024;
// No version string is this long ("go1.22.3 X:boringcrypto" is the long kind).
constexpr uint64_t kMaxVersionLen = 128;
// (*Conn).Read/Write are a few hundred bytes; anything far larger is a corrupt table.
constexpr uint64_t kMaxFuncSize = 1 << 20;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The buildinfo blob, wherever it is: the named section, else scanned for in writable
// PT_LOADs (16-byte aligned, as the linker emits it).
std::span<const uint8_t> buildinfo_blob(const ElfFile& elf) {
  if (const auto* s = elf.section(".go.buildinfo")) {
    auto b = elf.section_bytes(*s);
    if (b.size() >= 32 && std::memcmp(b.data(), kBuildInfoMagic.data(), kBuildInfoMagic.size()) == 0) return b;
  }
  for (const auto& seg : elf.segments()) {
    if (seg.type != PT_LOAD || !(seg.flags & PF_W)) continue;
    auto b = elf.bytes().subspan(0, 0);
    if (seg.offset <= elf.bytes().size()) {
      const uint64_t n = std::min<uint64_t>({seg.filesz, kBuildInfoScan, elf.bytes().size() - seg.offset});
      b = elf.bytes().subspan(seg.offset, n);
    }
    for (uint64_t off = 0; off + 32 <= b.size(); off += 16)
      if (std::memcmp(b.data() + off, kBuildInfoMagic.data(), kBuildInfoMagic.size()) == 0) return b.subspan(off);
  }
  return {};
}

// Reads a Go string header {ptr, len} at `vaddr` and the bytes it points to.
std::string go_string_at(const ElfFile& elf, uint64_t vaddr) {
  auto read64 = [&](uint64_t va) -> std::optional<uint64_t> {
    auto off = elf.vaddr_to_offset(va);
    if (!off || *off > elf.bytes().size() || elf.bytes().size() - *off < 8) return std::nullopt;
    uint64_t v;
    std::memcpy(&v, elf.bytes().data() + *off, 8);
    return v;
  };
  auto ptr = read64(vaddr);
  auto len = read64(vaddr + 8);
  if (!ptr || !len || *len == 0 || *len > kMaxVersionLen) return "";
  auto off = elf.vaddr_to_offset(*ptr);
  if (!off || *off > elf.bytes().size() || elf.bytes().size() - *off < *len) return "";
  return std::string(reinterpret_cast<const char*>(elf.bytes().data() + *off), *len);
}

bool plausible_version(std::string_view v) {
  if (v.size() < 3 || v.substr(0, 2) != "go") return false;
  for (unsigned char c : v)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

// The pclntab: the named section if present, else found by magic in a non-executable
// PT_LOAD (read-only ones first; external linking puts it in RELRO .data.rel.ro). Also
// returns the table's virtual address, needed to resolve a relocated textStart.
Result<GoPclntab> locate_pclntab(const ElfFile& elf, std::string& where, uint64_t& vaddr) {
  if (const auto* s = elf.section(".gopclntab")) {
    where = ".gopclntab section";
    vaddr = s->addr;
    return GoPclntab::parse(elf.section_bytes(*s));
  }
  for (bool writable : {false, true}) {
    for (const auto& seg : elf.segments()) {
      if (seg.type != PT_LOAD || (seg.flags & PF_X) || bool(seg.flags & PF_W) != writable) continue;
      if (seg.offset > elf.bytes().size()) continue;
      auto region = elf.bytes().subspan(seg.offset, std::min<uint64_t>(seg.filesz, elf.bytes().size() - seg.offset));
      if (auto off = find_pclntab_by_magic(region)) {
        where = "pclntab magic at file offset " + hex(seg.offset + *off);
        vaddr = seg.vaddr + *off;
        return GoPclntab::parse(region.subspan(*off));
      }
    }
  }
  return make_error("no .gopclntab section and no Go 1.18+ pclntab magic in a non-executable segment");
}

// PIE builds leave textStart 0 in the file and let an R_X86_64_RELATIVE relocation fill it
// in; its addend is the link-time runtime.text.
std::optional<uint64_t> relocated_word(const ElfFile& elf, uint64_t word_vaddr) {
  constexpr uint32_t kRelative = 8;  // R_X86_64_RELATIVE
  for (const auto& s : elf.sections()) {
    if (s.type != SHT_RELA) continue;
    auto b = elf.section_bytes(s);
    for (uint64_t off = 0; off + sizeof(Elf64_Rela) <= b.size(); off += sizeof(Elf64_Rela)) {
      Elf64_Rela r;
      std::memcpy(&r, b.data() + off, sizeof r);
      if (r.r_offset == word_vaddr && ELF64_R_TYPE(r.r_info) == kRelative) return static_cast<uint64_t>(r.r_addend);
    }
  }
  return std::nullopt;
}

struct Located {
  uint64_t entry = 0;
  std::vector<uint64_t> rets;
};

// Decodes the whole function linearly: Go on amd64 puts no data in text, so every byte up
// to the next function (including int3 padding) must decode; a failure means our idea of the
// range is wrong and no RET list from it can be trusted.
Result<Located> locate(const ElfFile& elf, const GoPclntab& tab, uint64_t text_base, std::string_view name,
                       const X86Decoder& dec) {
  auto f = tab.find(name);
  if (!f) return f.error();
  const uint64_t start = text_base + f->entry_off, end = text_base + f->end_off;
  if (end <= start || end - start > kMaxFuncSize || start < text_base)
    return make_error(std::string(name) + ": implausible range " + hex(start) + "-" + hex(end));
  auto off = elf.vaddr_to_offset(start);
  auto last = elf.vaddr_to_offset(end - 1);
  if (!off || !last || *last - *off != end - 1 - start)
    return make_error(std::string(name) + ": range " + hex(start) + "-" + hex(end) + " is not file-backed");
  auto code = elf.bytes().subspan(*off, end - start);
  std::vector<Insn> insns;
  if (!dec.decode_range(code, start, start, end, insns)) {
    const uint64_t at = insns.empty() ? start : insns.back().addr + insns.back().size;
    return make_error(std::string(name) + ": undecodable byte at " + hex(at) + " before the function end " + hex(end));
  }
  Located out;
  out.entry = *off;
  for (const auto& in : insns)
    // only the plain near return (c3); Go never emits `ret imm16`
    if (in.mnemonic == "ret" && in.size == 1 && code[in.addr - start] == 0xc3) out.rets.push_back(*off + (in.addr - start));
  if (out.rets.empty()) return make_error(std::string(name) + ": no RET found");
  return out;
}

}  // namespace

std::string go_build_version(const ElfFile& elf) {
  auto b = buildinfo_blob(elf);
  if (b.size() < 32) return "";
  const uint8_t ptr_size = b[14], flags = b[15];
  if (flags & 2) {
    // Go 1.18+: inline strings after the 32-byte header, each a uvarint length + bytes.
    uint64_t len = 0, pos = 32;
    for (int shift = 0; pos < b.size() && shift < 64; shift += 7) {
      const uint8_t c = b[pos++];
      len |= uint64_t(c & 0x7f) << shift;
      if (!(c & 0x80)) break;
    }
    if (len == 0 || len > kMaxVersionLen || len > b.size() - pos) return "";
    std::string v(reinterpret_cast<const char*>(b.data() + pos), len);
    return plausible_version(v) ? v : "";
  }
  // Before 1.18: two pointers to string headers (version, modinfo); little-endian only.
  if (ptr_size != 8 || (flags & 1)) return "";
  uint64_t vptr;
  std::memcpy(&vptr, b.data() + 16, 8);
  std::string v = go_string_at(elf, vptr);
  return plausible_version(v) ? v : "";
}

bool looks_like_go(const ElfFile& elf) {
  for (const char* s : {".gopclntab", ".go.buildinfo", ".note.go.buildid"})
    if (elf.section(s)) return true;
  return buildinfo_blob(elf).size() >= 32;
}

Result<GoTls> find_go_tls(const ElfFile& elf) {
  if (!looks_like_go(elf)) return make_error("not a Go binary (no Go sections, no buildinfo)");
  std::string where;
  uint64_t tab_vaddr = 0;
  auto tab = locate_pclntab(elf, where, tab_vaddr);
  if (!tab) return tab.error();

  uint64_t text_base = tab->text_start();
  std::string base_from = "pclntab textStart";
  if (text_base == 0) {
    constexpr uint64_t kTextStartWord = 8 + 2 * 8;  // header word 2
    if (auto v = relocated_word(elf, tab_vaddr + kTextStartWord)) {
      text_base = *v;
      base_from = "relocated pclntab textStart (PIE)";
    } else if (auto sym = elf.symbol("runtime.text")) {
      text_base = *sym;
      base_from = "runtime.text symbol";
    } else {
      return make_error("pclntab textStart is 0 (PIE) and neither its relocation nor runtime.text was found");
    }
  }

  X86Decoder dec;
  auto rd = locate(elf, *tab, text_base, "crypto/tls.(*Conn).Read", dec);
  if (!rd) return rd.error();
  auto wr = locate(elf, *tab, text_base, "crypto/tls.(*Conn).Write", dec);
  if (!wr) return wr.error();

  GoTls out;
  out.read_entry = rd->entry;
  out.write_entry = wr->entry;
  out.read_rets = std::move(rd->rets);
  out.write_rets = std::move(wr->rets);
  out.go_version = go_build_version(elf);
  out.evidence = "pclntab (" + std::string(tab->go_range()) + ") from " + where + ", " + std::to_string(tab->nfunc()) +
                 " functions, text base " + hex(text_base) + " from " + base_from + "; (*Conn).Read at " +
                 hex(out.read_entry) + " with " + std::to_string(out.read_rets.size()) + " RETs, (*Conn).Write at " +
                 hex(out.write_entry) + " with " + std::to_string(out.write_rets.size()) + " RETs";
  return out;
}

}  // namespace rein::binary
