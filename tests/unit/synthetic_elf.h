// Test-only builders for tiny synthetic x86_64 ELF executables and hand-assembled code, so the
// binary finders are tested without shipping third-party bytes.
#pragma once
#include <elf.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace rein::testing {

// Minimal x86-64 assembler for the instructions the finder tests need. Labels are absolute
// virtual addresses; rel32 fixups are resolved in finish().
class Asm {
 public:
  explicit Asm(uint64_t base) : base_(base) {}
  uint64_t here() const { return base_ + b_.size(); }
  std::vector<uint8_t>& bytes() { return b_; }

  Asm& raw(std::initializer_list<uint8_t> v) {
    b_.insert(b_.end(), v);
    return *this;
  }
  Asm& align16(uint8_t fill = 0xcc) {
    while (b_.size() % 16) b_.push_back(fill);
    return *this;
  }
  Asm& prologue() { return raw({0x55, 0x48, 0x89, 0xe5}); }  // push %rbp; mov %rsp,%rbp
  Asm& epilogue() { return raw({0x5d, 0xc3}); }              // pop %rbp; ret
  // mov $imm32, %r32 for reg number 0..15 (eax=0 ecx=1 edx=2 ebx=3 esi=6 edi=7 r8d=8)
  Asm& mov_imm(int reg, uint32_t imm) {
    if (reg >= 8) b_.push_back(0x41);
    b_.push_back(static_cast<uint8_t>(0xb8 + (reg & 7)));
    return u32(imm);
  }
  Asm& xor_self(int reg) {  // 32-bit xor, low registers only
    return raw({0x31, static_cast<uint8_t>(0xc0 | (reg << 3) | reg)});
  }
  Asm& lea_rip(int reg, uint64_t target) {  // lea target(%rip), %r64 (low registers)
    raw({0x48, 0x8d, static_cast<uint8_t>(0x05 | (reg << 3))});
    uint64_t end = here() + 4;
    return u32(static_cast<uint32_t>(target - end));
  }
  Asm& call(uint64_t target) {
    b_.push_back(0xe8);
    uint64_t end = here() + 4;
    return u32(static_cast<uint32_t>(target - end));
  }
  Asm& call_label(const std::string& name) {
    b_.push_back(0xe8);
    fix_.push_back({b_.size(), name});
    return u32(0);
  }
  Asm& label(const std::string& name) {
    labels_.push_back({name, here()});
    return *this;
  }
  uint64_t addr_of(const std::string& name) const {
    for (const auto& [n, a] : labels_)
      if (n == name) return a;
    return 0;
  }
  void finish() {
    for (const auto& [pos, name] : fix_) {
      uint32_t rel = static_cast<uint32_t>(addr_of(name) - (base_ + pos + 4));
      std::memcpy(b_.data() + pos, &rel, 4);
    }
  }
  Asm& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }

 private:
  uint64_t base_;
  std::vector<uint8_t> b_;
  std::vector<std::pair<size_t, std::string>> fix_;
  std::vector<std::pair<std::string, uint64_t>> labels_;
};

// Layout: [ehdr][phdrs] .rodata .note.gnu.build-id .eh_frame_hdr | page | .text | symtab
// strtab shstrtab [shdrs]. The first PT_LOAD (R) maps the file from 0, the second (R+X)
// maps .text; vaddr = base + offset throughout.
struct SynthElf {
  uint16_t type = ET_EXEC;
  uint16_t machine = EM_X86_64;
  uint64_t base = 0x400000;
  static constexpr uint64_t kRodataOff = 0x200;
  static constexpr uint64_t kTextOff = 0x2000;
  std::vector<uint8_t> rodata;
  std::vector<uint8_t> text;  // must fit before kTextOff alignment rules: any size
  std::vector<uint8_t> build_id{0xde, 0xad, 0xbe, 0xef, 0x01};
  std::vector<uint8_t> eh_frame_hdr;  // raw section contents; omitted when empty
  struct Sym {
    std::string name;
    uint64_t value;
    uint8_t type;  // STT_*
    uint16_t shndx;
  };
  std::vector<Sym> symbols;

  uint64_t rodata_vaddr() const { return base + kRodataOff; }
  uint64_t text_vaddr() const { return base + kTextOff; }
  // Where the note and eh_frame_hdr land (fixed by rodata size).
  uint64_t note_off() const { return align(kRodataOff + rodata.size(), 4); }
  uint64_t ehhdr_off() const { return align(note_off() + 16 + build_id.size(), 4); }
  uint64_t ehhdr_vaddr() const { return base + ehhdr_off(); }

  static uint64_t align(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> f(kTextOff, 0);
    auto put = [&f](uint64_t off, const void* p, size_t n) {
      if (n == 0) return;  // empty vectors may hand us a null pointer
      if (f.size() < off + n) f.resize(off + n, 0);
      std::memcpy(f.data() + off, p, n);
    };
    put(kRodataOff, rodata.data(), rodata.size());
    // GNU build-id note
    std::vector<uint8_t> note;
    auto w32 = [&note](uint32_t v) {
      for (int i = 0; i < 4; ++i) note.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    w32(4);
    w32(static_cast<uint32_t>(build_id.size()));
    w32(NT_GNU_BUILD_ID);
    note.insert(note.end(), {'G', 'N', 'U', 0});
    note.insert(note.end(), build_id.begin(), build_id.end());
    put(note_off(), note.data(), note.size());
    put(ehhdr_off(), eh_frame_hdr.data(), eh_frame_hdr.size());
    const uint64_t ro_end = ehhdr_off() + eh_frame_hdr.size();
    if (ro_end > kTextOff) return {};  // test bug: rodata too large
    put(kTextOff, text.data(), text.size());

    // string tables and symbols
    std::string strtab(1, '\0');
    std::vector<Elf64_Sym> syms(1);
    for (const auto& s : symbols) {
      Elf64_Sym e{};
      e.st_name = static_cast<uint32_t>(strtab.size());
      strtab += s.name + '\0';
      e.st_info = ELF64_ST_INFO(STB_GLOBAL, s.type);
      e.st_shndx = s.shndx;
      e.st_value = s.value;
      syms.push_back(e);
    }
    uint64_t symoff = align(f.size(), 8);
    put(symoff, syms.data(), syms.size() * sizeof(Elf64_Sym));
    uint64_t stroff = f.size();
    put(stroff, strtab.data(), strtab.size());
    const char* names[] = {
        "",        ".rodata", ".note.gnu.build-id", ".eh_frame_hdr", ".text", ".bss",
        ".symtab", ".strtab", ".shstrtab"};
    std::string shstr;
    std::vector<uint32_t> name_off;
    for (const char* n : names) {
      name_off.push_back(static_cast<uint32_t>(shstr.size()));
      shstr += std::string(n) + '\0';
    }
    uint64_t shstroff = f.size();
    put(shstroff, shstr.data(), shstr.size());

    std::vector<Elf64_Shdr> sh(9);
    auto sec = [&](int i, uint32_t type, uint64_t flags, uint64_t off, uint64_t size,
                   uint64_t addr_align) {
      sh[i].sh_name = name_off[i];
      sh[i].sh_type = type;
      sh[i].sh_flags = flags;
      sh[i].sh_offset = off;
      sh[i].sh_size = size;
      sh[i].sh_addr = (flags & SHF_ALLOC) ? base + off : 0;
      sh[i].sh_addralign = addr_align;
    };
    sec(1, SHT_PROGBITS, SHF_ALLOC, kRodataOff, rodata.size(), 1);
    sec(2, SHT_NOTE, SHF_ALLOC, note_off(), note.size(), 4);
    sec(3, SHT_PROGBITS, SHF_ALLOC, ehhdr_off(), eh_frame_hdr.size(), 4);
    sec(4, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, kTextOff, text.size(), 16);
    sec(5, SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 0x7fffffff, 0x1000, 16);  // NOBITS: offset unchecked
    sh[5].sh_addr = base + 0x100000;
    sec(6, SHT_SYMTAB, 0, symoff, syms.size() * sizeof(Elf64_Sym), 8);
    sh[6].sh_link = 7;
    sh[6].sh_entsize = sizeof(Elf64_Sym);
    sec(7, SHT_STRTAB, 0, stroff, strtab.size(), 1);
    sec(8, SHT_STRTAB, 0, shstroff, shstr.size(), 1);
    uint64_t shoff = align(f.size(), 8);
    put(shoff, sh.data(), sh.size() * sizeof(Elf64_Shdr));

    std::vector<Elf64_Phdr> ph;
    auto seg = [&ph](uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t size) {
      Elf64_Phdr p{};
      p.p_type = type;
      p.p_flags = flags;
      p.p_offset = off;
      p.p_vaddr = p.p_paddr = vaddr;
      p.p_filesz = p.p_memsz = size;
      p.p_align = type == PT_LOAD ? 0x1000 : 4;
      ph.push_back(p);
    };
    seg(PT_LOAD, PF_R, 0, base, ro_end);
    seg(PT_LOAD, PF_R | PF_X, kTextOff, text_vaddr(), text.size());
    seg(PT_NOTE, PF_R, note_off(), base + note_off(), note.size());
    if (!eh_frame_hdr.empty())
      seg(PT_GNU_EH_FRAME, PF_R, ehhdr_off(), ehhdr_vaddr(), eh_frame_hdr.size());
    put(sizeof(Elf64_Ehdr), ph.data(), ph.size() * sizeof(Elf64_Phdr));

    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = type;
    eh.e_machine = machine;
    eh.e_version = EV_CURRENT;
    eh.e_entry = text_vaddr();
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_shoff = shoff;
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = static_cast<uint16_t>(ph.size());
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = static_cast<uint16_t>(sh.size());
    eh.e_shstrndx = 8;
    put(0, &eh, sizeof eh);
    return f;
  }
};

}  // namespace rein::testing
