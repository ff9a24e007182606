#include <gtest/gtest.h>

#include "abi_record_builder.h"
#include "decode/records.h"

namespace {

using namespace rein::testrec;

TEST(DecodeMechanism, IoUringUnderAFileRule) {
  rein_mechanism m{};
  fill(m.h, REIN_REC_MECHANISM, Hdr{.tgid = 42, .agent = 40});
  m.mechanism = REIN_MECH_IO_URING_SETUP;
  m.rule = 3;
  m.action = REIN_ACT_AUDIT;
  m.outcome = REIN_OUT_KILLED;
  auto b = assemble(m);
  auto r = rein::decode::decode_record(b);
  ASSERT_TRUE(r);
  ASSERT_TRUE(std::holds_alternative<rein::decode::MechanismRec>(*r));
  const auto& x = std::get<rein::decode::MechanismRec>(*r);
  EXPECT_EQ(x.h.tgid, 42u);
  EXPECT_EQ(x.h.agent, 40u);
  EXPECT_EQ(x.mechanism, uint32_t(REIN_MECH_IO_URING_SETUP));
  EXPECT_EQ(x.policy.rule, 3u);
  EXPECT_EQ(x.policy.outcome, REIN_OUT_KILLED);
}

TEST(DecodeMechanism, ShortRecordIsAnError) {
  rein_mechanism m{};
  fill(m.h, REIN_REC_MECHANISM, Hdr{});
  auto b = assemble(m);
  b.resize(40);
  reinterpret_cast<rein_hdr*>(b.data())->size = 40;
  EXPECT_FALSE(rein::decode::decode_record(b));
}

}  // namespace
