#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "binary/elf_file.h"
#include "synthetic_elf.h"

namespace {

using rein::binary::ElfFile;
using rein::testing::SynthElf;

SynthElf basic() {
  SynthElf e;
  e.rodata = {'h', 'i', 0};
  e.text = {0x55, 0x48, 0x89, 0xe5, 0x5d, 0xc3};
  e.symbols = {{"main", e.text_vaddr(), STT_FUNC, 4},
               {"data_obj", e.rodata_vaddr(), STT_OBJECT, 1},
               {"undef_fn", 0, STT_FUNC, SHN_UNDEF}};
  return e;
}

// eh_frame_hdr: version 1, eh_frame_ptr pcrel|sdata4, count udata4, table datarel|sdata4.
std::vector<uint8_t> eh_hdr(uint8_t table_enc, const std::vector<int32_t>& locs) {
  std::vector<uint8_t> h = {1, 0x1b, 0x03, table_enc};
  auto w32 = [&h](uint32_t v) {
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  w32(0x100);  // eh_frame_ptr (unused)
  w32(static_cast<uint32_t>(locs.size()));
  for (int32_t l : locs) {
    w32(static_cast<uint32_t>(l));
    w32(0);  // FDE address (unused)
  }
  return h;
}

TEST(BinaryElf, ParsesSectionsSegmentsAndMetadata) {
  auto e = basic();
  auto bytes = e.build();
  auto f = ElfFile::from_bytes(bytes);
  ASSERT_TRUE(f) << f.error().message;
  const ElfFile& elf = **f;
  EXPECT_FALSE(elf.is_pie());
  EXPECT_EQ(elf.build_id(), "deadbeef01");
  const auto* text = elf.section(".text");
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(text->addr, e.text_vaddr());
  EXPECT_EQ(text->flags & SHF_EXECINSTR, uint64_t{SHF_EXECINSTR});
  auto tb = elf.section_bytes(*text);
  ASSERT_EQ(tb.size(), e.text.size());
  EXPECT_EQ(tb[0], 0x55);
  const auto* bss = elf.section(".bss");
  ASSERT_NE(bss, nullptr);
  EXPECT_TRUE(elf.section_bytes(*bss).empty());
  EXPECT_EQ(elf.section(".nope"), nullptr);
  int loads = 0;
  for (const auto& s : elf.segments()) loads += s.type == PT_LOAD;
  EXPECT_EQ(loads, 2);
  EXPECT_EQ(elf.bytes().size(), bytes.size());
}

TEST(BinaryElf, AddressTranslation) {
  auto e = basic();
  auto bytes = e.build();
  auto f = ElfFile::from_bytes(bytes);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)->vaddr_to_offset(e.text_vaddr() + 2), SynthElf::kTextOff + 2);
  EXPECT_EQ((*f)->offset_to_vaddr(SynthElf::kTextOff + 2), e.text_vaddr() + 2);
  EXPECT_EQ((*f)->vaddr_to_offset(e.rodata_vaddr()), SynthElf::kRodataOff);
  EXPECT_FALSE((*f)->vaddr_to_offset(e.text_vaddr() + e.text.size()));  // one past the end
  EXPECT_FALSE((*f)->vaddr_to_offset(0x10));
  EXPECT_FALSE((*f)->offset_to_vaddr(bytes.size() + 100));
}

TEST(BinaryElf, SymbolsAreDefinedFunctionsOnly) {
  auto e = basic();
  auto bytes = e.build();
  auto f = ElfFile::from_bytes(bytes);
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)->symbol("main"), e.text_vaddr());
  EXPECT_FALSE((*f)->symbol("data_obj"));
  EXPECT_FALSE((*f)->symbol("undef_fn"));
  EXPECT_FALSE((*f)->symbol("mai"));  // prefix must not match
  EXPECT_FALSE((*f)->symbol(""));
}

TEST(BinaryElf, PieFlag) {
  auto e = basic();
  e.type = ET_DYN;
  auto bytes = e.build();
  auto f = ElfFile::from_bytes(bytes);
  ASSERT_TRUE(f);
  EXPECT_TRUE((*f)->is_pie());
}

TEST(BinaryElf, EhFrameHdrTable) {
  auto e = basic();
  // Locations relative to the header's own vaddr; deliberately given unsorted.
  const int64_t text_rel =
      static_cast<int64_t>(e.text_vaddr()) - static_cast<int64_t>(e.ehhdr_vaddr());
  e.eh_frame_hdr =
      eh_hdr(0x3b, {static_cast<int32_t>(text_rel + 0x40), static_cast<int32_t>(text_rel)});
  auto bytes = e.build();
  auto f = ElfFile::from_bytes(bytes);
  ASSERT_TRUE(f) << f.error().message;
  const auto& starts = (*f)->eh_frame_starts();
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], e.text_vaddr());
  EXPECT_EQ(starts[1], e.text_vaddr() + 0x40);
  EXPECT_TRUE((*f)->is_function_start(e.text_vaddr()));
  EXPECT_FALSE((*f)->is_function_start(e.text_vaddr() + 1));
}

TEST(BinaryElf, EhFrameHdrRejectsOtherEncodingsAndShortTables) {
  auto e = basic();
  e.eh_frame_hdr = eh_hdr(0x1b, {0, 16});  // pcrel table: not the GNU ld/lld form
  auto b1 = e.build();
  auto f1 = ElfFile::from_bytes(b1);
  ASSERT_TRUE(f1);
  EXPECT_TRUE((*f1)->eh_frame_starts().empty());

  e.eh_frame_hdr = eh_hdr(0x3b, {0, 16});
  e.eh_frame_hdr[8] = 200;  // claims 200 entries, holds 2
  auto b2 = e.build();
  auto f2 = ElfFile::from_bytes(b2);
  ASSERT_TRUE(f2);
  EXPECT_TRUE((*f2)->eh_frame_starts().empty());

  e.eh_frame_hdr = eh_hdr(0x3b, {0});
  e.eh_frame_hdr[0] = 2;  // unknown version
  auto b3 = e.build();
  auto f3 = ElfFile::from_bytes(b3);
  ASSERT_TRUE(f3);
  EXPECT_TRUE((*f3)->eh_frame_starts().empty());

  auto b4 = basic().build();  // no header at all
  auto f4 = ElfFile::from_bytes(b4);
  ASSERT_TRUE(f4);
  EXPECT_TRUE((*f4)->eh_frame_starts().empty());
}

template <typename T>
void poke(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

TEST(BinaryElf, RejectsMalformedHeaders) {
  const auto good = basic().build();
  auto expect_error = [](std::vector<uint8_t> b, const char* what) {
    auto f = ElfFile::from_bytes(b);
    EXPECT_FALSE(f) << what;
    if (!f) EXPECT_NE(f.error().message.find("<memory>"), std::string::npos) << f.error().message;
  };
  expect_error({}, "empty");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 40), "truncated header");
  auto b = good;
  b[0] = 0x7e;
  expect_error(b, "magic");
  b = good;
  b[EI_CLASS] = ELFCLASS32;
  expect_error(b, "class");
  b = good;
  b[EI_DATA] = ELFDATA2MSB;
  expect_error(b, "endianness");
  b = good;
  poke<uint16_t>(b, offsetof(Elf64_Ehdr, e_machine), EM_AARCH64);
  expect_error(b, "machine");
  b = good;
  poke<uint64_t>(b, offsetof(Elf64_Ehdr, e_phoff), good.size() - 10);
  expect_error(b, "phdrs past end");
  b = good;
  poke<uint64_t>(b, offsetof(Elf64_Ehdr, e_shoff), ~uint64_t{0} - 8);
  expect_error(b, "shoff overflow");
  b = good;
  // First PT_LOAD: filesz beyond the file.
  poke<uint64_t>(b, sizeof(Elf64_Ehdr) + offsetof(Elf64_Phdr, p_filesz), uint64_t{1} << 40);
  expect_error(b, "segment past end");
  b = good;
  // Section 1 (.rodata): offset + size overflowing.
  Elf64_Ehdr eh;
  std::memcpy(&eh, good.data(), sizeof eh);
  poke<uint64_t>(b, eh.e_shoff + sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_offset),
                 ~uint64_t{0} - 1);
  expect_error(b, "section past end");
  b = good;
  poke<uint16_t>(b, offsetof(Elf64_Ehdr, e_shstrndx), 200);
  expect_error(b, "shstrndx");
}

TEST(BinaryElf, OpenMapsAFileAndNamesErrors) {
  auto bytes = basic().build();
  char path[] = "/tmp/rein_elf_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  close(fd);
  auto f = ElfFile::open(path);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ((*f)->build_id(), "deadbeef01");
  EXPECT_EQ((*f)->name(), path);
  // Truncated copy: error names the file.
  ASSERT_EQ(truncate(path, 30), 0);
  auto g = ElfFile::open(path);
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find(path), std::string::npos);
  unlink(path);
  auto h = ElfFile::open("/nonexistent/rein/elf");
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("/nonexistent/rein/elf"), std::string::npos);
  auto d = ElfFile::open("/tmp");
  EXPECT_FALSE(d);
}

TEST(BinaryElf, RealBunBinariesWhenInstalled) {
  struct Real {
    const char* path;
    const char* build_id_prefix;
  } reals[] = {
      {"/var/cache/rein-agents/node_modules/@anthropic-ai/claude-code/bin/claude.exe", "24889a91"},
      {"/var/cache/rein-agents/node_modules/opencode-ai/bin/opencode.exe", "c30f169b"},
  };
  int found = 0;
  for (const auto& r : reals) {
    if (access(r.path, R_OK) != 0) continue;
    ++found;
    auto f = ElfFile::open(r.path);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ((*f)->build_id().rfind(r.build_id_prefix, 0), 0u) << (*f)->build_id();
    EXPECT_FALSE((*f)->is_pie());
    ASSERT_NE((*f)->section(".text"), nullptr);
  }
  if (found == 0)
    GTEST_SKIP()
        << "real Claude Code / OpenCode binaries not installed under /var/cache/rein-agents";
}

}  // namespace
