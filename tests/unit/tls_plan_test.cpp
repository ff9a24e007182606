#include "binary/tls_plan.h"

#include <gtest/gtest.h>

namespace rein::binary {
namespace {

TEST(TlsPlan, SerializeRoundTrip) {
  TlsPlan p;
  p.libraries = {"openssl", "rustls (aws-lc aes-gcm avx512)"};
  p.undecodable = {"rustls (aws-lc): only | the\tAVX-512 path"};
  p.probes = {{0x1234, ProbeProgram::TlsEnter, 0x10001},
              {0x1234, ProbeProgram::TlsExit, 0x10001},
              {0xabcdef, ProbeProgram::GoRet, 1}};
  p.analysis_ms = 12.5;
  auto back = parse_plan(serialize_plan(p));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->probes.size(), 3u);
  EXPECT_EQ(back->probes[2].offset, 0xabcdefu);
  EXPECT_EQ(back->probes[2].program, ProbeProgram::GoRet);
  EXPECT_EQ(back->probes[0].cookie, 0x10001u);
  EXPECT_EQ(back->libraries, p.libraries);
  ASSERT_EQ(back->undecodable.size(), 1u);  // separators inside text were neutralised
}

TEST(TlsPlan, EmptyPlanRoundTrips) {
  auto back = parse_plan(serialize_plan(TlsPlan{}));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->probes.empty());
  EXPECT_TRUE(back->libraries.empty());
}

TEST(TlsPlan, HostileCacheLinesAreErrors) {
  EXPECT_FALSE(parse_plan("").ok());
  EXPECT_FALSE(parse_plan("zz:0:0\t\t\t0").ok());
  EXPECT_FALSE(parse_plan("10:99:0\t\t\t0").ok());  // no such program
  EXPECT_FALSE(parse_plan("10:0\t\t\t0").ok());
  EXPECT_FALSE(parse_plan("a\tb").ok());
}

TEST(TlsPlan, NothingToHookInAFileWithoutTls) {
  // a minimal ELF header with no sections: parsing may refuse it; either way no probes
  std::vector<uint8_t> junk(64, 0);
  auto elf = ElfFile::from_bytes(junk);
  if (elf) EXPECT_TRUE(plan_tls_hooks(**elf).probes.empty());
}

}  // namespace
}  // namespace rein::binary
