// OpenSSL internal read/write functions found through SSL_read_ex/SSL_write_ex: the wrapper
// shapes of Debian 12's libssl3 (3.0) hand-assembled into a tiny ELF, shapes that must not be
// taken for a pass-through wrapper, and the real library when it is installed.
#include "binary/openssl_core.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <vector>

#include "binary/tls_plan.h"
#include "synthetic_elf.h"

namespace rein::binary {
namespace {

using rein::testing::SynthElf;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kReadCore = 0x00, kWriteCore = 0x10, kSslReadEx = 0x20, kSslWriteEx = 0x40,
                   kSslRead = 0x60, kSslWrite = 0x80, kOther = 0xa0;

struct Code {
  Bytes text = Bytes(0xc0, 0xcc);  // int3 filler
  void put(uint64_t at, std::initializer_list<Bytes> parts) {
    for (const auto& p : parts)
      for (uint8_t b : p) text[at++] = b;
  }
  static Bytes call(uint64_t from, uint64_t to) {  // e8 rel32, `from` = the call's own offset
    int32_t rel = int32_t(int64_t(to) - int64_t(from + 5));
    Bytes b{0xe8};
    for (int i = 0; i < 4; i++) b.push_back(uint8_t(uint32_t(rel) >> (8 * i)));
    return b;
  }
};

const Bytes kSubRsp8{0x48, 0x83, 0xec, 0x08}, kAddRsp8{0x48, 0x83, 0xc4, 0x08};
const Bytes kClampTail{0x31, 0xd2, 0x85, 0xc0, 0x0f, 0x48, 0xc2};  // xor edx; test eax; cmovs eax,edx

// Debian 12's shapes: SSL_*_ex = sub; call core; clamp; add; ret. SSL_read builds its
// readbytes pointer on the stack and calls the same core; SSL_write here calls elsewhere.
Code debian_like() {
  Code c;
  c.put(kReadCore, {{0x41, 0x55, 0x41, 0x54, 0x31, 0xc0, 0xc3}});  // push r13; push r12; xor; ret
  c.put(kWriteCore, {{0x41, 0x56, 0x31, 0xc0, 0xc3}});
  c.put(kSslReadEx, {kSubRsp8, Code::call(kSslReadEx + 4, kReadCore), kClampTail, kAddRsp8, {0xc3}});
  c.put(kSslWriteEx, {kSubRsp8, Code::call(kSslWriteEx + 4, kWriteCore), kClampTail, kAddRsp8, {0xc3}});
  // sub rsp,0x18; mov rcx,rsp; movsxd rdx,edx; call core; add rsp,0x18; ret
  c.put(kSslRead, {{0x48, 0x83, 0xec, 0x18, 0x48, 0x89, 0xe1, 0x48, 0x63, 0xd2},
                   Code::call(kSslRead + 10, kReadCore), {0x48, 0x83, 0xc4, 0x18, 0xc3}});
  c.put(kSslWrite, {{0x48, 0x83, 0xec, 0x18}, Code::call(kSslWrite + 4, kOther), {0x48, 0x83, 0xc4, 0x18, 0xc3}});
  c.put(kOther, {{0x31, 0xc0, 0xc3}});
  return c;
}

std::vector<uint8_t> elf_of(const Code& c) {
  SynthElf e;
  e.text = c.text;
  const uint64_t t = e.text_vaddr();
  e.symbols = {{"SSL_read_ex", t + kSslReadEx, STT_FUNC, 4}, {"SSL_write_ex", t + kSslWriteEx, STT_FUNC, 4},
               {"SSL_read", t + kSslRead, STT_FUNC, 4},      {"SSL_write", t + kSslWrite, STT_FUNC, 4}};
  return e.build();
}

Result<OpensslCore> find(const Code& c) {
  auto bytes = elf_of(c);
  auto elf = ElfFile::from_bytes(bytes);
  if (!elf) return elf.error();
  return find_openssl_core(**elf);
}

TEST(OpensslCore, DebianWrappersLeadToTheCoreFunctions) {
  auto bytes = elf_of(debian_like());
  auto elf = ElfFile::from_bytes(bytes);
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  auto c = find_openssl_core(**elf);
  ASSERT_TRUE(c.ok()) << c.error().message;
  const uint64_t text = SynthElf::kTextOff;
  EXPECT_EQ(c->read_offset, text + kReadCore);
  EXPECT_EQ(c->write_offset, text + kWriteCore);
  EXPECT_TRUE(c->covers_ssl_read);
  EXPECT_FALSE(c->covers_ssl_write);  // it calls another function: keeps its own hook

  // The plan hooks the two cores (entry + return each) and SSL_write, not the _ex exports.
  auto plan = plan_tls_hooks(**elf);
  ASSERT_EQ(plan.libraries, std::vector<std::string>{"openssl"});
  std::vector<uint64_t> offs;
  for (const auto& p : plan.probes) offs.push_back(p.offset);
  EXPECT_EQ(offs, (std::vector<uint64_t>{text + kWriteCore, text + kWriteCore, text + kReadCore,
                                         text + kReadCore, text + kSslWrite, text + kSslWrite}));
  for (size_t i = 0; i < 4; i++) EXPECT_EQ((plan.probes[i].cookie >> 16) & 1, 1u);  // _ex ABI
  EXPECT_EQ((plan.probes[4].cookie >> 16) & 1, 0u);
}

TEST(OpensslCore, AWrapperThatChangesAnArgumentIsNotPassThrough) {
  // OpenSSL 3.2's shape: SSL_write_ex(s, buf, num, written) -> SSL_write_ex2(s, buf, num, 0,
  // written): mov r8,rcx; xor ecx,ecx before the call.
  Code c = debian_like();
  c.put(kSslWriteEx, {{0x49, 0x89, 0xc8, 0x31, 0xc9}, Code::call(kSslWriteEx + 5, kWriteCore), {0xc3}});
  auto r = find(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("SSL_write_ex"), std::string::npos);
}

TEST(OpensslCore, AResultTransformedAfterTheCallIsNotPassThrough) {
  Code c = debian_like();  // setne al; movzx eax,al: the core's value is not the wrapper's
  c.put(kSslReadEx, {kSubRsp8, Code::call(kSslReadEx + 4, kReadCore),
                     {0x85, 0xc0, 0x0f, 0x95, 0xc0, 0x0f, 0xb6, 0xc0}, kAddRsp8, {0xc3}});
  EXPECT_FALSE(find(c).ok());
}

TEST(OpensslCore, ACoreWithoutAPushEntryIsNotUsed) {
  Code c = debian_like();  // sub rsp first: hooking it would single-step like the export
  c.put(kReadCore, {{0x48, 0x83, 0xec, 0x08, 0x31, 0xc0, 0x48, 0x83, 0xc4, 0x08, 0xc3}});
  EXPECT_FALSE(find(c).ok());
}

TEST(OpensslCore, ReadAndWriteThroughOneFunctionIsRefused) {
  Code c = debian_like();
  c.put(kSslWriteEx, {kSubRsp8, Code::call(kSslWriteEx + 4, kReadCore), kClampTail, kAddRsp8, {0xc3}});
  EXPECT_FALSE(find(c).ok());
}

TEST(OpensslCore, InstalledLibssl) {
  const char* path = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not installed";
  auto elf = ElfFile::open(path);
  ASSERT_TRUE(elf.ok()) << elf.error().message;
  auto c = find_openssl_core(**elf);
  ASSERT_TRUE(c.ok()) << c.error().message;  // Debian 12's 3.0 has the pass-through shape
  EXPECT_NE(c->read_offset, c->write_offset);
  EXPECT_TRUE(c->covers_ssl_read);
  EXPECT_TRUE(c->covers_ssl_write);
  // Neither core is an export: the plan has exactly two hook pairs.
  auto plan = plan_tls_hooks(**elf);
  EXPECT_EQ(plan.probes.size(), 4u);
}

}  // namespace
}  // namespace rein::binary
