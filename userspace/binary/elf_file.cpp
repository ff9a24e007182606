#include "binary/elf_file.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rein::binary {
namespace {

// Hostile files can claim billions of headers; real executables have well under this.
constexpr uint64_t kMaxSections = 1u << 16;
constexpr uint64_t kMaxSegments = 1u << 12;
constexpr size_t kMaxNameLen = 4096;

template <typename T>
bool read_struct(std::span<const uint8_t> b, uint64_t off, T& out) {
  if (off > b.size() || b.size() - off < sizeof(T)) return false;
  std::memcpy(&out, b.data() + off, sizeof(T));
  return true;
}

bool range_ok(uint64_t off, uint64_t len, uint64_t total) {
  return off <= total && len <= total - off;
}

// NUL-terminated string inside [base, base+len); "" if it runs off the end.
std::string bounded_cstr(std::span<const uint8_t> table, uint64_t idx) {
  if (idx >= table.size()) return {};
  const auto* p = table.data() + idx;
  size_t max = std::min<size_t>(table.size() - idx, kMaxNameLen);
  const void* nul = std::memchr(p, 0, max);
  if (!nul) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<const uint8_t*>(nul) - p);
}

Error err(const std::string& file, const std::string& what) {
  return make_error(file + ": " + what);
}

}  // namespace

ElfFile::~ElfFile() {
  if (map_) munmap(map_, map_len_);
}

Result<std::shared_ptr<ElfFile>> ElfFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err(path, std::string("open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return err(path, std::string("fstat: ") + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return err(path, "not a regular file");
  }
  if (st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    ::close(fd);
    return err(path, "too small for an ELF header");
  }
  size_t len = static_cast<size_t>(st.st_size);
  // Shared, not private: the kernel writes a live uprobe's breakpoint into every private
  // mapping of the file (rein's own hooks in another process of the binary would show as
  // int3 here and fail the finders' checks) and never into a shared one. A filesystem
  // that refuses shared mappings gets a private one.
  void* m = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) m = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (m == MAP_FAILED) return err(path, std::string("mmap: ") + std::strerror(e));
  std::shared_ptr<ElfFile> f(new ElfFile());
  f->name_ = path;
  f->map_ = m;
  f->map_len_ = len;
  f->data_ = static_cast<const uint8_t*>(m);
  f->size_ = len;
  return parse(std::move(f));
}

Result<std::shared_ptr<ElfFile>> ElfFile::from_bytes(std::span<const uint8_t> bytes) {
  std::shared_ptr<ElfFile> f(new ElfFile());
  f->data_ = bytes.data();
  f->size_ = bytes.size();
  return parse(std::move(f));
}

Result<std::shared_ptr<ElfFile>> ElfFile::parse(std::shared_ptr<ElfFile> f) {
  const auto b = f->bytes();
  const std::string& n = f->name_;
  Elf64_Ehdr eh{};
  if (!read_struct(b, 0, eh)) return err(n, "too small for an ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return err(n, "not an ELF file (bad magic)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return err(n, "not ELF64");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return err(n, "not little-endian");
  if (eh.e_machine != EM_X86_64)
    return err(n, "not x86_64 (e_machine " + std::to_string(eh.e_machine) + ")");
  f->e_type_ = eh.e_type;
  f->e_entry_ = eh.e_entry;

  // Program headers.
  if (eh.e_phnum > 0) {
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) return err(n, "bad e_phentsize");
    if (eh.e_phnum > kMaxSegments) return err(n, "too many program headers");
    if (!range_ok(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), b.size()))
      return err(n, "program header table outside the file");
    for (uint64_t i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph{};
      read_struct(b, eh.e_phoff + i * sizeof(Elf64_Phdr), ph);
      if (ph.p_type == PT_NULL) continue;
      if (!range_ok(ph.p_offset, ph.p_filesz, b.size()))
        return err(n, "segment " + std::to_string(i) + " outside the file");
      if (ph.p_type == PT_LOAD &&
          (ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr))
        return err(n, "PT_LOAD " + std::to_string(i) + " has inconsistent sizes");
      f->segments_.push_back(Segment{ph.p_type, ph.p_flags, ph.p_offset, ph.p_vaddr, ph.p_filesz,
                                     ph.p_memsz, ph.p_align});
    }
  }

  // Section headers (extended numbering: e_shnum == 0 / e_shstrndx == SHN_XINDEX).
  if (eh.e_shoff != 0) {
    if (eh.e_shentsize != sizeof(Elf64_Shdr)) return err(n, "bad e_shentsize");
    Elf64_Shdr sh0{};
    if (!read_struct(b, eh.e_shoff, sh0)) return err(n, "section header table outside the file");
    uint64_t shnum = eh.e_shnum ? eh.e_shnum : sh0.sh_size;
    uint64_t shstrndx = eh.e_shstrndx == SHN_XINDEX ? sh0.sh_link : eh.e_shstrndx;
    if (shnum > kMaxSections) return err(n, "too many sections");
    if (!range_ok(eh.e_shoff, shnum * sizeof(Elf64_Shdr), b.size()))
      return err(n, "section header table outside the file");
    std::vector<Elf64_Shdr> raw(shnum);
    for (uint64_t i = 0; i < shnum; ++i) {
      read_struct(b, eh.e_shoff + i * sizeof(Elf64_Shdr), raw[i]);
      if (raw[i].sh_type != SHT_NOBITS && raw[i].sh_type != SHT_NULL &&
          !range_ok(raw[i].sh_offset, raw[i].sh_size, b.size()))
        return err(n, "section " + std::to_string(i) + " outside the file");
    }
    std::span<const uint8_t> strtab;
    if (shstrndx != SHN_UNDEF) {
      // SHT_NULL/NOBITS headers were not range-checked above, so they cannot be the table.
      if (shstrndx >= shnum || raw[shstrndx].sh_type == SHT_NOBITS ||
          raw[shstrndx].sh_type == SHT_NULL ||
          !range_ok(raw[shstrndx].sh_offset, raw[shstrndx].sh_size, b.size()))
        return err(n, "bad section name table index");
      strtab = b.subspan(raw[shstrndx].sh_offset, raw[shstrndx].sh_size);
    }
    f->sections_.reserve(shnum);
    for (const auto& s : raw)
      f->sections_.push_back(Section{bounded_cstr(strtab, s.sh_name), s.sh_type, s.sh_flags,
                                     s.sh_addr, s.sh_offset, s.sh_size, s.sh_link, s.sh_addralign});
  }
  return f;
}

std::span<const uint8_t> ElfFile::bytes() const {
  return {data_, size_};
}

std::span<const uint8_t> ElfFile::bytes_at(uint64_t offset, uint64_t len) const {
  if (!range_ok(offset, len, size_)) return {};
  return {data_ + offset, static_cast<size_t>(len)};
}

void ElfFile::release_pages(std::span<const uint8_t> span) const {
  if (!map_ || span.empty()) return;
  const auto base = reinterpret_cast<uintptr_t>(map_);
  auto lo = reinterpret_cast<uintptr_t>(span.data());
  auto hi = lo + span.size();
  if (lo < base || hi > base + map_len_) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  lo = (lo + page - 1) & ~(page - 1);  // only whole pages inside the span
  hi &= ~(page - 1);
  // Read-only pages are never dirty, so dropping them loses nothing.
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

void ElfFile::prefault_pages(std::span<const uint8_t> span) const {
  if (!map_ || span.empty()) return;
  const auto base = reinterpret_cast<uintptr_t>(map_);
  auto lo = reinterpret_cast<uintptr_t>(span.data());
  const auto hi = lo + span.size();
  if (lo < base || hi > base + map_len_) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  lo &= ~(page - 1);
  // Fails on kernels before 5.14 (EINVAL): the sweep then faults the pages in as before.
  (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_READ);
}

const std::vector<ElfFile::Section>& ElfFile::sections() const {
  return sections_;
}

const ElfFile::Section* ElfFile::section(std::string_view name) const {
  for (const auto& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::span<const uint8_t> ElfFile::section_bytes(const Section& s) const {
  if (s.type == SHT_NOBITS || s.type == SHT_NULL) return {};
  return bytes_at(s.offset, s.size);
}

const std::vector<ElfFile::Segment>& ElfFile::segments() const {
  return segments_;
}

std::optional<uint64_t> ElfFile::vaddr_to_offset(uint64_t vaddr) const {
  for (const auto& p : segments_) {
    if (p.type != PT_LOAD || vaddr < p.vaddr) continue;
    uint64_t d = vaddr - p.vaddr;
    if (d < p.filesz) return p.offset + d;
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfFile::offset_to_vaddr(uint64_t offset) const {
  for (const auto& p : segments_) {
    if (p.type != PT_LOAD || offset < p.offset) continue;
    uint64_t d = offset - p.offset;
    if (d < p.filesz) return p.vaddr + d;
  }
  return std::nullopt;
}

bool ElfFile::is_pie() const {
  return e_type_ == ET_DYN;
}

std::string ElfFile::build_id_in(std::span<const uint8_t> notes, uint64_t align) const {
  static constexpr char kHex[] = "0123456789abcdef";
  align = align == 8 ? 8 : 4;
  auto pad = [align](uint64_t v) { return (v + align - 1) & ~(align - 1); };
  uint64_t off = 0;
  // Each note consumes >= 12 bytes, so this terminates within notes.size()/12 rounds.
  while (notes.size() - off >= 12) {
    uint32_t namesz, descsz, type;
    std::memcpy(&namesz, notes.data() + off, 4);
    std::memcpy(&descsz, notes.data() + off + 4, 4);
    std::memcpy(&type, notes.data() + off + 8, 4);
    uint64_t name_off = off + 12;
    uint64_t desc_off = name_off + pad(namesz);
    if (!range_ok(name_off, namesz, notes.size()) || !range_ok(desc_off, descsz, notes.size()))
      break;
    if (type == NT_GNU_BUILD_ID && namesz == 4 &&
        std::memcmp(notes.data() + name_off, "GNU", 4) == 0 && descsz > 0 && descsz <= 64) {
      std::string out;
      for (uint32_t i = 0; i < descsz; ++i) {
        uint8_t c = notes[desc_off + i];
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      return out;
    }
    off = desc_off + pad(descsz);
    if (off > notes.size()) break;
  }
  return {};
}

std::string ElfFile::build_id() const {
  for (const auto& s : sections_) {
    if (s.type != SHT_NOTE) continue;
    auto id = build_id_in(section_bytes(s), s.addralign);
    if (!id.empty()) return id;
  }
  for (const auto& p : segments_) {
    if (p.type != PT_NOTE) continue;
    auto id = build_id_in(bytes_at(p.offset, p.filesz), p.align);
    if (!id.empty()) return id;
  }
  return {};
}

std::optional<uint64_t> ElfFile::symbol_in(uint32_t sh_type, std::string_view name) const {
  for (const auto& s : sections_) {
    if (s.type != sh_type) continue;
    auto syms = section_bytes(s);
    if (s.link >= sections_.size()) continue;
    auto strs = section_bytes(sections_[s.link]);
    uint64_t count = syms.size() / sizeof(Elf64_Sym);
    for (uint64_t i = 0; i < count; ++i) {
      Elf64_Sym sym{};
      std::memcpy(&sym, syms.data() + i * sizeof(Elf64_Sym), sizeof sym);
      if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF) continue;
      if (sym.st_name >= strs.size()) continue;
      const char* p = reinterpret_cast<const char*>(strs.data() + sym.st_name);
      size_t max = strs.size() - sym.st_name;
      if (name.size() < max && std::memcmp(p, name.data(), name.size()) == 0 &&
          p[name.size()] == '\0')
        return sym.st_value;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfFile::symbol(std::string_view name) const {
  if (auto v = symbol_in(SHT_SYMTAB, name)) return v;
  return symbol_in(SHT_DYNSYM, name);
}

void ElfFile::compute_eh_frame_starts() const {
  // Locate the header: the section when present, else PT_GNU_EH_FRAME (section-stripped files).
  std::span<const uint8_t> h;
  uint64_t hdr_vaddr = 0;
  if (const Section* s = section(".eh_frame_hdr"); s && s->type != SHT_NOBITS) {
    h = section_bytes(*s);
    hdr_vaddr = s->addr;
  } else {
    for (const auto& p : segments_)
      if (p.type == PT_GNU_EH_FRAME) {
        h = bytes_at(p.offset, p.filesz);
        hdr_vaddr = p.vaddr;
        break;
      }
  }
  if (h.size() < 4 || h[0] != 1) return;  // version 1 only
  const uint8_t ptr_enc = h[1], count_enc = h[2], table_enc = h[3];
  // eh_frame_ptr is only skipped; its size follows from the format nibble.
  auto fixed_size = [](uint8_t enc) -> int {
    switch (enc & 0x0f) {
      case 0x00:
        return 8;  // absptr
      case 0x02:
      case 0x0a:
        return 2;
      case 0x03:
      case 0x0b:
        return 4;
      case 0x04:
      case 0x0c:
        return 8;
      default:
        return -1;  // uleb/sleb: not used by GNU ld / lld here
    }
  };
  if (ptr_enc == 0xff || count_enc == 0xff || table_enc != 0x3b) return;
  int psz = fixed_size(ptr_enc);
  if (psz < 0 || (count_enc & 0x0f) != 0x03 || (count_enc & 0x70) != 0) return;  // udata4 absolute
  uint64_t off = 4 + static_cast<uint64_t>(psz);
  if (h.size() < off + 4) return;
  uint32_t count;
  std::memcpy(&count, h.data() + off, 4);
  off += 4;
  if (count > (h.size() - off) / 8) return;  // table must fit
  eh_starts_.resize(count);
  const uint8_t* row = h.data() + off;
  uint64_t* out = eh_starts_.data();
  bool increasing = true;  // strictly: sorted and free of duplicates
  for (uint32_t i = 0; i < count; ++i, row += 8) {
    int32_t loc;
    std::memcpy(&loc, row, 4);
    out[i] = hdr_vaddr + static_cast<uint64_t>(static_cast<int64_t>(loc));
    if (i && out[i] <= out[i - 1]) increasing = false;
  }
  // The format requires sorted entries; sorting bad input keeps binary search correct. Well-formed
  // tables (334k entries in Codex) skip the sort, which otherwise dominates this function.
  if (!increasing) {
    std::sort(eh_starts_.begin(), eh_starts_.end());
    eh_starts_.erase(std::unique(eh_starts_.begin(), eh_starts_.end()), eh_starts_.end());
  }
}

const std::vector<uint64_t>& ElfFile::eh_frame_starts() const {
  std::call_once(eh_once_, [this] { compute_eh_frame_starts(); });
  return eh_starts_;
}

bool ElfFile::is_function_start(uint64_t vaddr) const {
  const auto& v = eh_frame_starts();
  return std::binary_search(v.begin(), v.end(), vaddr);
}

}  // namespace rein::binary
