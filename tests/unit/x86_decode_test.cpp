// X86Decoder over the dlopen'ed capstone: it loads on first use (from any thread) and decodes
// what the finders rely on: direct branch targets and RIP-relative addresses.
#include "binary/x86_decode.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

namespace rein::binary {
namespace {

// call rel32 (+0x10); lea 0x20(%rip),%rax; ret
constexpr std::array<uint8_t, 13> kCode = {0xe8, 0x10, 0x00, 0x00, 0x00, 0x48, 0x8d,
                                           0x05, 0x20, 0x00, 0x00, 0x00, 0xc3};
constexpr uint64_t kAddr = 0x401000;

void expect_decodes(const X86Decoder& d) {
  std::vector<Insn> out;
  ASSERT_TRUE(d.decode_range(kCode, kAddr, kAddr, kAddr + kCode.size(), out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].is_call_rel);
  EXPECT_EQ(out[0].target, kAddr + 5 + 0x10);
  EXPECT_EQ(out[1].rip_target, kAddr + 12 + 0x20);
  EXPECT_EQ(out[1].dst, Gpr::rax);
  EXPECT_TRUE(out[1].loads_register);
  EXPECT_TRUE(out[2].is_ret);
}

TEST(X86Decoder, LoadsCapstoneAndDecodes) {
  X86Decoder d;
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_TRUE(d.error().empty());
  expect_decodes(d);
  auto one = d.decode(std::span<const uint8_t>(kCode).subspan(5), kAddr + 5);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size, 7);
  EXPECT_FALSE(d.decode({}, kAddr));
}

TEST(X86Decoder, DecodersOnManyThreadsShareOneLoad) {
  std::vector<std::thread> ts;
  std::array<bool, 4> ok{};
  for (size_t i = 0; i < ok.size(); ++i)
    ts.emplace_back([&ok, i] {
      X86Decoder d;
      std::vector<Insn> out;
      ok[i] = d.ok() && d.decode_range(kCode, kAddr, kAddr, kAddr + kCode.size(), out) &&
              out.size() == 3;
    });
  for (auto& t : ts) t.join();
  for (bool b : ok) EXPECT_TRUE(b);
}

TEST(X86Decoder, StartOutsideTheCodeIsRefused) {
  X86Decoder d;
  ASSERT_TRUE(d.ok()) << d.error();
  std::vector<Insn> out;
  EXPECT_FALSE(d.decode_range(kCode, kAddr, kAddr - 1, kAddr + 4, out));
  EXPECT_FALSE(d.decode_range(kCode, kAddr, kAddr + kCode.size() + 1, kAddr + 40, out));
  EXPECT_TRUE(out.empty());
}

TEST(X86Decoder, UnloadsOnlyWhenNoDecoderIsAliveAndReloads) {
  {
    X86Decoder d;
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_FALSE(unload_idle_x86_decoder());  // d still holds a capstone handle
    expect_decodes(d);
  }
  EXPECT_TRUE(unload_idle_x86_decoder());
  EXPECT_FALSE(unload_idle_x86_decoder());  // nothing loaded any more
  X86Decoder again;
  ASSERT_TRUE(again.ok()) << again.error();
  expect_decodes(again);
}

}  // namespace
}  // namespace rein::binary
