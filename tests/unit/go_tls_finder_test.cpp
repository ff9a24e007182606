// Go crypto/tls finder: synthetic pclntab tables built field by field as the Go 1.18+ linker
// lays them out, a tiny ELF around them, and (when built) the real e2e Go client.
#include "binary/go_tls_finder.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "binary/gopclntab.h"

namespace rein::binary {
namespace {

void put32(std::vector<uint8_t>& v, uint64_t at, uint32_t x) { std::memcpy(v.data() + at, &x, 4); }
void put64(std::vector<uint8_t>& v, uint64_t at, uint64_t x) { std::memcpy(v.data() + at, &x, 8); }

struct Fn {
  std::string name;
  uint32_t entry_off;
};

// A Go 1.18+ pclntab: 72-byte header, funcnametab, a placeholder cutab, functab of
// (entryoff, funcoff) pairs plus the end-of-text entry, then one 8-byte _func per function.
std::vector<uint8_t> make_pclntab(const std::vector<Fn>& fns, uint32_t text_end_off, uint64_t text_start,
                                  uint32_t magic = kPclntabGo118) {
  std::vector<uint8_t> t(72, 0);
  put32(t, 0, magic);
  t[6] = 1;
  t[7] = 8;
  const uint64_t names = t.size();
  std::vector<uint32_t> name_offs;
  for (const auto& f : fns) {
    name_offs.push_back(uint32_t(t.size() - names));
    t.insert(t.end(), f.name.begin(), f.name.end());
    t.push_back(0);
  }
  const uint64_t cu = t.size();
  t.resize(t.size() + 8, 0);  // cutab stand-in: only its offset (the name table's end) matters
  while (t.size() % 8) t.push_back(0);
  const uint64_t functab = t.size();
  const uint64_t nf = fns.size();
  t.resize(t.size() + (nf + 1) * 8, 0);
  for (uint64_t i = 0; i < nf; ++i) {
    const uint64_t rec = t.size();
    t.resize(t.size() + 8, 0);
    put32(t, rec, fns[i].entry_off);
    put32(t, rec + 4, name_offs[i]);
    put32(t, functab + i * 8, fns[i].entry_off);
    put32(t, functab + i * 8 + 4, uint32_t(rec - functab));
  }
  put32(t, functab + nf * 8, text_end_off);
  put64(t, 8, nf);
  put64(t, 16, 1);  // nfiles
  put64(t, 24, text_start);
  put64(t, 32, names);
  put64(t, 40, cu);
  put64(t, 48, cu);  // filetab
  put64(t, 56, cu);  // pctab
  put64(t, 64, functab);
  return t;
}

// Minimal ELF64: each section becomes its own PT_LOAD at vaddr = 0x400000 + file offset.
struct Sec {
  std::string name;
  uint32_t pflags;
  std::vector<uint8_t> data;
};
constexpr uint64_t kBase = 0x400000;

std::vector<uint8_t> make_elf(const std::vector<Sec>& secs, bool with_shdrs = true) {
  const uint64_t phnum = secs.size();
  std::vector<uint8_t> f(sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr), 0);
  std::vector<uint64_t> offs;
  for (const auto& s : secs) {
    while (f.size() % 16) f.push_back(0);
    offs.push_back(f.size());
    f.insert(f.end(), s.data.begin(), s.data.end());
  }
  std::string shstr(1, '\0');
  std::vector<uint32_t> name_at;
  for (const auto& s : secs) {
    name_at.push_back(uint32_t(shstr.size()));
    shstr += s.name + '\0';
  }
  const uint32_t shstr_name = uint32_t(shstr.size());
  shstr += std::string(".shstrtab") + '\0';
  const uint64_t shstr_off = f.size();
  f.insert(f.end(), shstr.begin(), shstr.end());
  while (f.size() % 8) f.push_back(0);
  const uint64_t shoff = f.size();
  const uint64_t shnum = secs.size() + 2;
  if (with_shdrs) f.resize(f.size() + shnum * sizeof(Elf64_Shdr), 0);

  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = uint16_t(phnum);
  eh.e_shentsize = sizeof(Elf64_Shdr);
  if (with_shdrs) {
    eh.e_shoff = shoff;
    eh.e_shnum = uint16_t(shnum);
    eh.e_shstrndx = uint16_t(shnum - 1);
  }
  std::memcpy(f.data(), &eh, sizeof eh);
  for (uint64_t i = 0; i < phnum; ++i) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_flags = secs[i].pflags;
    ph.p_offset = offs[i];
    ph.p_vaddr = ph.p_paddr = kBase + offs[i];
    ph.p_filesz = ph.p_memsz = secs[i].data.size();
    ph.p_align = 16;
    std::memcpy(f.data() + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), &ph, sizeof ph);
  }
  if (with_shdrs) {
    for (uint64_t i = 0; i < secs.size(); ++i) {
      Elf64_Shdr sh{};
      sh.sh_name = name_at[i];
      sh.sh_type = SHT_PROGBITS;
      sh.sh_flags = SHF_ALLOC | ((secs[i].pflags & PF_X) ? SHF_EXECINSTR : 0) | ((secs[i].pflags & PF_W) ? SHF_WRITE : 0);
      sh.sh_addr = kBase + offs[i];
      sh.sh_offset = offs[i];
      sh.sh_size = secs[i].data.size();
      std::memcpy(f.data() + shoff + (i + 1) * sizeof(Elf64_Shdr), &sh, sizeof sh);
    }
    Elf64_Shdr ss{};
    ss.sh_name = shstr_name;
    ss.sh_type = SHT_STRTAB;
    ss.sh_offset = shstr_off;
    ss.sh_size = shstr.size();
    std::memcpy(f.data() + shoff + (shnum - 1) * sizeof(Elf64_Shdr), &ss, sizeof ss);
  }
  return f;
}

// Offset of the first section's data in make_elf's layout (known before building: headers
// then 16-byte alignment).
uint64_t first_data_offset(size_t nsecs) {
  uint64_t o = sizeof(Elf64_Ehdr) + nsecs * sizeof(Elf64_Phdr);
  return (o + 15) & ~uint64_t{15};
}

// Text: Write = {push rbp; ret; xor eax,eax; ret; int3}, Read = {ret; nop; ret; int3 x2},
// then an unrelated function whose range holds an invalid-in-64-bit byte (0x06).
std::vector<uint8_t> text_bytes() {
  return {0x55, 0xc3, 0x31, 0xc0, 0xc3, 0xcc,  // 0x00 Write
          0xc3, 0x90, 0xc3, 0xcc, 0xcc, 0xcc,  // 0x06 Read
          0x06, 0xc3};                         // 0x0c broken
}

struct GoFixture {
  std::vector<uint8_t> file;
  uint64_t text_off = 0;
};

// .text first, so its address is known before the pclntab is built.
GoFixture go_elf(bool broken_read = false, bool with_shdrs = true) {
  GoFixture g;
  g.text_off = first_data_offset(3);
  std::vector<Fn> fns = {{"crypto/tls.(*Conn).Write", 0x00},
                         {"crypto/tls.(*Conn).Read", broken_read ? 0x0cu : 0x06u},
                         {"main.broken", broken_read ? 0x06u : 0x0cu}};
  if (broken_read) std::swap(fns[1], fns[2]);  // keep the table sorted by entry
  auto tab = make_pclntab(fns, 0x0e, kBase + g.text_off);
  std::vector<uint8_t> bi(32, 0);
  std::memcpy(bi.data(), "\xff Go buildinf:", 14);
  bi[14] = 8;
  bi[15] = 2;
  const std::string ver = "go1.19.8";
  bi.push_back(uint8_t(ver.size()));
  bi.insert(bi.end(), ver.begin(), ver.end());
  g.file = make_elf({{".text", PF_R | PF_X, text_bytes()}, {".gopclntab", PF_R, tab}, {".go.buildinfo", PF_R | PF_W, bi}},
                    with_shdrs);
  return g;
}

TEST(GoPclntab, ParsesNamesAndRanges) {
  auto bytes = make_pclntab({{"main.a", 0}, {"main.b", 0x10}}, 0x30, 0x401000);
  auto t = GoPclntab::parse(bytes);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->nfunc(), 2u);
  EXPECT_EQ(t->text_start(), 0x401000u);
  EXPECT_EQ(t->go_range(), "1.18-1.19");
  auto b = t->find("main.b");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->entry_off, 0x10u);
  EXPECT_EQ(b->end_off, 0x30u);
  auto a = t->func(0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "main.a");
  EXPECT_EQ(a->end_off, 0x10u);
  EXPECT_FALSE(t->find("main.c"));
  EXPECT_FALSE(t->func(2));
}

TEST(GoPclntab, Go120Magic) {
  auto bytes = make_pclntab({{"x", 0}}, 4, 0, kPclntabGo120);
  auto t = GoPclntab::parse(bytes);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->go_range(), "1.20+");
}

TEST(GoPclntab, OldMagicsAreUnsupportedVersions) {
  for (uint32_t m : {kPclntabGo12, kPclntabGo116}) {
    auto bytes = make_pclntab({{"x", 0}}, 4, 0, m);
    auto t = GoPclntab::parse(bytes);
    ASSERT_FALSE(t);
    EXPECT_NE(t.error().message.find("unsupported Go version"), std::string::npos) << t.error().message;
  }
}

TEST(GoPclntab, HostileHeadersAreErrors) {
  auto good = make_pclntab({{"main.a", 0}, {"main.b", 0x10}}, 0x30, 0x401000);
  {
    auto b = good;
    put64(b, 8, uint64_t{1} << 40);  // nfunc far beyond the table
    EXPECT_FALSE(GoPclntab::parse(b));
  }
  {
    auto b = good;
    put64(b, 64, b.size() - 4);  // functab past the end
    EXPECT_FALSE(GoPclntab::parse(b));
  }
  {
    auto b = good;
    put64(b, 32, 0);  // names overlapping the header
    EXPECT_FALSE(GoPclntab::parse(b));
  }
  {
    auto b = good;
    b[7] = 4;  // 32-bit pointers
    EXPECT_FALSE(GoPclntab::parse(b));
  }
  EXPECT_FALSE(GoPclntab::parse(std::span<const uint8_t>(good.data(), 40)));
  uint64_t ft;
  std::memcpy(&ft, good.data() + 64, 8);
  {
    auto b = good;
    put32(b, ft + 4, 0x7fffffff);  // function record far outside the table
    auto t = GoPclntab::parse(b);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->func(0));
    EXPECT_TRUE(t->func(1));
  }
  {
    auto b = good;
    put32(b, ft + 8, 0);  // b's entry equals a's: the table is not sorted
    auto t = GoPclntab::parse(b);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->func(0));
  }
}

TEST(GoPclntab, NameWithoutTerminatorIsRejected) {
  auto b = make_pclntab({{"main.a", 0}}, 0x10, 0);
  uint64_t names;
  std::memcpy(&names, b.data() + 32, 8);
  put64(b, 40, names + 3);  // name table ends inside "main.a"
  auto t = GoPclntab::parse(b);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->func(0));
}

TEST(GoPclntab, FoundByMagicInARegion) {
  std::vector<uint8_t> region(64, 0xf0);  // decoys: 0xf0 bytes without the rest of the magic
  auto tab = make_pclntab({{"x", 0}}, 4, 0);
  region.insert(region.end(), tab.begin(), tab.end());
  auto off = find_pclntab_by_magic(region);
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, 64u);
  EXPECT_FALSE(find_pclntab_by_magic(std::span<const uint8_t>(region.data(), 64)));
}

TEST(GoTlsFinder, SyntheticBinary) {
  auto g = go_elf();
  auto elf = ElfFile::from_bytes(g.file);
  ASSERT_TRUE(elf) << elf.error().message;
  EXPECT_TRUE(looks_like_go(**elf));
  auto r = find_go_tls(**elf);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->write_entry, g.text_off);
  EXPECT_EQ(r->read_entry, g.text_off + 6);
  EXPECT_EQ(r->write_rets, (std::vector<uint64_t>{g.text_off + 1, g.text_off + 4}));
  EXPECT_EQ(r->read_rets, (std::vector<uint64_t>{g.text_off + 6, g.text_off + 8}));
  EXPECT_EQ(r->go_version, "go1.19.8");
}

TEST(GoTlsFinder, WithoutSectionHeadersUsesMagicAndSegments) {
  auto g = go_elf(false, /*with_shdrs=*/false);
  auto elf = ElfFile::from_bytes(g.file);
  ASSERT_TRUE(elf) << elf.error().message;
  EXPECT_TRUE(looks_like_go(**elf));
  auto r = find_go_tls(**elf);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->read_entry, g.text_off + 6);
  EXPECT_EQ(r->read_rets.size(), 2u);
  EXPECT_EQ(r->go_version, "go1.19.8");
}

TEST(GoTlsFinder, UndecodableByteFailsTheFunction) {
  auto g = go_elf(/*broken_read=*/true);
  auto elf = ElfFile::from_bytes(g.file);
  ASSERT_TRUE(elf) << elf.error().message;
  auto r = find_go_tls(**elf);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("undecodable"), std::string::npos) << r.error().message;
}

TEST(GoTlsFinder, NonGoBinaryIsACleanError) {
  auto file = make_elf({{".text", PF_R | PF_X, {0xc3}}});
  auto elf = ElfFile::from_bytes(file);
  ASSERT_TRUE(elf) << elf.error().message;
  EXPECT_FALSE(looks_like_go(**elf));
  EXPECT_FALSE(find_go_tls(**elf));
}

// Built by hand (see tests/e2e/go_client): normal and -ldflags="-s -w" must agree.
TEST(GoTlsFinder, RealGoClientStrippedAndNot) {
  const char* env = std::getenv("REIN_GO_CLIENT");
  const std::string normal = env ? env : "/tmp/goclient";
  const std::string stripped = normal + "_stripped";
  if (!std::filesystem::exists(normal) || !std::filesystem::exists(stripped))
    GTEST_SKIP() << "build " << normal << " and " << stripped << " from tests/e2e/go_client first";
  auto a = ElfFile::open(normal);
  auto b = ElfFile::open(stripped);
  ASSERT_TRUE(a && b);
  auto ra = find_go_tls(**a);
  auto rb = find_go_tls(**b);
  ASSERT_TRUE(ra) << ra.error().message;
  ASSERT_TRUE(rb) << rb.error().message;
  EXPECT_EQ(ra->read_entry, rb->read_entry);
  EXPECT_EQ(ra->write_entry, rb->write_entry);
  EXPECT_EQ(ra->read_rets, rb->read_rets);
  EXPECT_EQ(ra->write_rets, rb->write_rets);
  EXPECT_FALSE(ra->read_rets.empty());
  for (uint64_t r : ra->read_rets) EXPECT_GT(r, ra->read_entry);
  for (uint64_t r : ra->write_rets) EXPECT_GT(r, ra->write_entry);
  EXPECT_EQ(ra->go_version.rfind("go1.", 0), 0u);
  // the unstripped build also has symbols: entries must agree with them
  if (auto sym = (*a)->symbol("crypto/tls.(*Conn).Read")) EXPECT_EQ((*a)->vaddr_to_offset(*sym), ra->read_entry);
  if (auto sym = (*a)->symbol("crypto/tls.(*Conn).Write")) EXPECT_EQ((*a)->vaddr_to_offset(*sym), ra->write_entry);
}

}  // namespace
}  // namespace rein::binary
