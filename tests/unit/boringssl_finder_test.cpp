#include "binary/boringssl_finder.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "synthetic_elf.h"

namespace {

using rein::binary::ElfFile;
using rein::binary::find_bun_boringssl;
using rein::binary::looks_like_bun_boringssl;
using rein::testing::Asm;
using rein::testing::SynthElf;

constexpr int kEcx = 1, kEdx = 2, kEsi = 6, kEdi = 7, kR8d = 8;
const std::string kPath = "../../vendor/boringssl/ssl/ssl_lib.cc";

// Shape of the synthetic BoringSSL build.
struct Opts {
  int args = 5;      // ERR_put_error arity (Bun 1.4: 5, Bun 1.3 LTO: 4)
  bool pie = false;  // RIP-relative lea instead of mov $imm32
  bool write_has_111 = true;
  bool call_write = true;  // SSL_write is a direct-call target
  bool second_write = false;
  bool second_read = false;
  bool desync_write = false;  // bytes that make linear decode swallow a site
  bool stray_e8 = true;
  bool write_prologue = true;
};

struct Built {
  SynthElf elf;
  std::vector<uint8_t> bytes;
  uint64_t write = 0, read = 0;
};

// One OPENSSL_PUT_ERROR(SSL, reason) site in the chosen calling convention.
void site(Asm& a, const Opts& o, uint64_t path, uint32_t reason, uint32_t line) {
  const int file_reg = o.args == 5 ? kEcx : kEdx;
  if (o.pie)
    a.lea_rip(file_reg, path);
  else
    a.mov_imm(file_reg, static_cast<uint32_t>(path));
  a.mov_imm(kEdi, 16);
  if (o.args == 5) {
    a.xor_self(kEsi);
    a.mov_imm(kEdx, reason).mov_imm(kR8d, line);
  } else {
    a.mov_imm(kEsi, reason).mov_imm(kEcx, line);
  }
  a.call_label("err");
}

void ssl_write_body(Asm& a, const Opts& o, uint64_t path, const std::string& name) {
  a.align16().label(name);
  if (o.write_prologue)
    a.prologue();
  else
    a.raw({0x53});  // push %rbx
  site(a, o, path, 66, 955);
  if (o.desync_write) a.raw({0x48, 0xb8});  // movabs opcode: swallows the next 8 bytes
  site(a, o, path, 226, 960);
  site(a, o, path, 215, 975);
  if (o.write_has_111) site(a, o, path, 111, 981);
  a.epilogue();
}

Built build(const Opts& o) {
  Built b;
  b.elf.type = o.pie ? ET_DYN : ET_EXEC;
  b.elf.rodata.assign(64, 0);
  b.elf.rodata.insert(b.elf.rodata.end(), {'x', '.', 'c', 'c', 0});
  const uint64_t path = b.elf.rodata_vaddr() + b.elf.rodata.size();
  b.elf.rodata.insert(b.elf.rodata.end(), kPath.begin(), kPath.end());
  b.elf.rodata.push_back(0);

  Asm a(b.elf.text_vaddr());
  // A caller making the direct calls that identify entries.
  a.prologue();
  a.call_label("err").call_label("read").call_label("impl");
  if (o.call_write) a.call_label("write");
  if (o.second_write) a.call_label("write2");
  if (o.second_read) a.call_label("read2");
  if (o.stray_e8) {
    // mov $0x..e8, %eax: an e8 byte whose "target" is not a function.
    a.mov_imm(0, 0x000010e8);
    // and one whose bogus target is 16-aligned and inside the code.
    a.raw({0x3d, 0xe8, 0x00, 0x00, 0x00});  // cmp $0xe8, %eax -> e8 00 00 00 00 target
  }
  a.epilogue();

  a.align16().label("err").prologue().epilogue();
  // ssl_read_impl: reasons 226 and 215.
  a.align16().label("impl").prologue();
  site(a, o, path, 226, 839);
  site(a, o, path, 215, 870);
  a.epilogue();
  // SSL_read: one reason-66 site 22 lines before SSL_write's, then ssl_read_impl.
  a.align16().label("read").prologue();
  site(a, o, path, 66, 933);
  a.call_label("impl").epilogue();
  if (o.second_read) {
    a.align16().label("read2").prologue();
    site(a, o, path, 66, 934);
    a.call_label("impl").epilogue();
  }
  ssl_write_body(a, o, path, "write");
  if (o.second_write) ssl_write_body(a, o, path, "write2");
  a.align16().label("tail").prologue().epilogue();
  a.finish();
  b.write = a.addr_of("write");
  b.read = a.addr_of("read");
  b.elf.text = a.bytes();
  b.bytes = b.elf.build();
  return b;
}

rein::Result<rein::binary::BunSslFunctions> run(const Built& b) {
  auto f = ElfFile::from_bytes(b.bytes);
  if (!f) return f.error();
  return find_bun_boringssl(**f);
}

uint64_t file_off(const Built& b, uint64_t vaddr) {
  return vaddr - b.elf.text_vaddr() + SynthElf::kTextOff;
}

TEST(BoringSslFinder, FiveArgNonPie) {
  auto b = build({});
  auto r = run(b);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ssl_write_vaddr, b.write);
  EXPECT_EQ(r->ssl_read_vaddr, b.read);
  EXPECT_EQ(r->ssl_write_offset, file_off(b, b.write));
  EXPECT_EQ(r->ssl_read_offset, file_off(b, b.read));
  EXPECT_NE(r->evidence.find("5-arg"), std::string::npos) << r->evidence;
  EXPECT_EQ(r->evidence.find('\n'), std::string::npos);
}

TEST(BoringSslFinder, FourArgNonPie) {
  Opts o;
  o.args = 4;
  auto b = build(o);
  auto r = run(b);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ssl_write_vaddr, b.write);
  EXPECT_EQ(r->ssl_read_vaddr, b.read);
  EXPECT_NE(r->evidence.find("4-arg"), std::string::npos) << r->evidence;
}

TEST(BoringSslFinder, PieRipRelative) {
  Opts o;
  o.pie = true;
  auto b = build(o);
  auto r = run(b);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->ssl_write_vaddr, b.write);
  EXPECT_EQ(r->ssl_read_vaddr, b.read);
}

TEST(BoringSslFinder, LooksLike) {
  auto b = build({});
  auto f = ElfFile::from_bytes(b.bytes);
  ASSERT_TRUE(f);
  EXPECT_TRUE(looks_like_bun_boringssl(**f));

  SynthElf plain;
  plain.rodata = {'s', 's', 'l', '/', 's', 's', 'l', '_',
                  'l', 'i', 'b', '.', 'c', 'c', 'x', 0};  // no NUL after .cc
  plain.text = {0xc3};
  auto pb = plain.build();
  auto g = ElfFile::from_bytes(pb);
  ASSERT_TRUE(g);
  EXPECT_FALSE(looks_like_bun_boringssl(**g));
  auto r = find_bun_boringssl(**g);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("ssl_lib.cc"), std::string::npos);
}

TEST(BoringSslFinder, RefusesWhenSslWriteIsNotACallTarget) {
  // Its sites would otherwise be attributed to the preceding function.
  Opts o;
  o.call_write = false;
  auto r = run(build(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("0 functions carry SSL_write"), std::string::npos)
      << r.error().message;
}

TEST(BoringSslFinder, RefusesWithoutPrologue) {
  Opts o;
  o.write_prologue = false;
  auto r = run(build(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("0 functions carry SSL_write"), std::string::npos)
      << r.error().message;
}

TEST(BoringSslFinder, RefusesMissingReason) {
  Opts o;
  o.write_has_111 = false;
  auto r = run(build(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("{66,226,215,111}"), std::string::npos) << r.error().message;
}

TEST(BoringSslFinder, RefusesTwoSslWrites) {
  Opts o;
  o.second_write = true;
  auto r = run(build(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("2 functions"), std::string::npos) << r.error().message;
}

TEST(BoringSslFinder, RefusesTwoSslReads) {
  Opts o;
  o.second_read = true;
  auto r = run(build(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("2 SSL_read candidates"), std::string::npos)
      << r.error().message;
}

TEST(BoringSslFinder, RefusesSiteNotOnInstructionBoundary) {
  // Linear decode from the entry swallows the 226 site's load: not provable, so no answer.
  Opts o;
  o.desync_write = true;
  auto r = run(build(o));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("0 functions carry SSL_write"), std::string::npos)
      << r.error().message;
}

TEST(BoringSslFinder, TruncatedOrCorruptedInputsNeverCrash) {
  auto b = build({});
  for (size_t cut = 0; cut < b.bytes.size(); cut += 97) {
    std::vector<uint8_t> t(b.bytes.begin(), b.bytes.begin() + static_cast<long>(cut));
    auto f = ElfFile::from_bytes(t);
    if (f) (void)find_bun_boringssl(**f);
  }
  for (size_t i = SynthElf::kTextOff; i < SynthElf::kTextOff + b.elf.text.size(); ++i) {
    auto t = b.bytes;
    t[i] ^= 0x5a;
    auto f = ElfFile::from_bytes(t);
    ASSERT_TRUE(f);
    auto r = find_bun_boringssl(**f);
    // Any answer must still be a prologue on a 16-byte boundary.
    if (r) {
      EXPECT_EQ(r->ssl_write_vaddr % 16, 0u);
      EXPECT_EQ(t[r->ssl_write_offset], 0x55);
      EXPECT_EQ(t[r->ssl_read_offset], 0x55);
    }
  }
}

TEST(BoringSslFinder, RealBunBinariesWhenInstalled) {
  struct Real {
    const char* path;
    uint64_t write, read;
  } reals[] = {
      {"/var/cache/rein-agents/node_modules/@anthropic-ai/claude-code/bin/claude.exe", 0x3330300,
       0x33304b0},
      {"/var/cache/rein-agents/node_modules/opencode-ai/bin/opencode.exe", 0x367f780, 0x367f3f0},
  };
  int found = 0;
  for (const auto& r : reals) {
    if (access(r.path, R_OK) != 0) continue;
    ++found;
    auto t0 = std::chrono::steady_clock::now();
    auto f = ElfFile::open(r.path);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_TRUE(looks_like_bun_boringssl(**f));
    auto res = find_bun_boringssl(**f);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    ASSERT_TRUE(res) << res.error().message;
    EXPECT_EQ(res->ssl_write_offset, r.write) << r.path;
    EXPECT_EQ(res->ssl_read_offset, r.read) << r.path;
    EXPECT_LT(ms, 3000) << r.path;
  }
  if (found == 0)
    GTEST_SKIP()
        << "real Claude Code / OpenCode binaries not installed under /var/cache/rein-agents";
}

}  // namespace
