#include "pipeline/connect_hold.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace rein::pipeline {
namespace {

decode::ConnectRec connect(uint32_t tgid, int32_t fd, uint64_t ts) {
  decode::ConnectRec r;
  r.h.tgid = tgid;
  r.h.ts_ns = ts;
  r.fd = fd;
  r.result = -EINPROGRESS;
  r.family = 2;
  r.address = "127.0.0.1";
  r.port = 80;
  return r;
}

decode::ConnectOutcomeRec outcome(uint32_t tgid, int32_t fd, int32_t result, uint64_t lat) {
  decode::ConnectOutcomeRec o;
  o.h.tgid = tgid;
  o.fd = fd;
  o.result = result;
  o.latency_ns = lat;
  return o;
}

TEST(ConnectHold, OutcomeJoinsByProcessAndFd) {
  ConnectHold h;
  EXPECT_TRUE(h.hold(connect(7, 3, 100), 100).empty());
  EXPECT_TRUE(h.hold(connect(8, 3, 110), 110).empty());
  EXPECT_FALSE(h.resolve(outcome(7, 4, 0, 1)));  // another fd: not ours
  auto c = h.resolve(outcome(7, 3, -ECONNREFUSED, 2'500'000));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->rec.h.tgid, 7u);
  ASSERT_TRUE(c->outcome);
  EXPECT_EQ(c->outcome->result, -ECONNREFUSED);
  EXPECT_EQ(c->outcome->latency_ns, 2'500'000u);
  EXPECT_EQ(c->rec.result, -EINPROGRESS);        // the original call's result is kept
  EXPECT_FALSE(h.resolve(outcome(7, 3, 0, 1)));  // at most once
  EXPECT_EQ(h.size(), 1u);
}

TEST(ConnectHold, OutcomeBeforeItsConnectIsKeptBriefly) {
  ConnectHold h(16, 2'000);
  auto o = outcome(7, 3, 0, 42);
  o.h.ts_ns = 1000;
  EXPECT_FALSE(h.resolve(o));
  auto out = h.hold(connect(7, 3, 900), 1001);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].outcome);
  EXPECT_EQ(out[0].outcome->latency_ns, 42u);
  EXPECT_EQ(h.size(), 0u);
  o.h.ts_ns = 2000;
  EXPECT_FALSE(h.resolve(o));
  h.expire(5000);  // too old to be joined now
  EXPECT_TRUE(h.hold(connect(7, 3, 5001), 5001).empty());
  EXPECT_EQ(h.size(), 1u);
}

TEST(ConnectHold, ExpiresWithoutOutcomeOldestFirst) {
  ConnectHold h(16, 2'000);
  h.hold(connect(1, 5, 0), 1000);
  h.hold(connect(1, 4, 0), 1500);
  h.hold(connect(2, 4, 0), 2900);
  EXPECT_TRUE(h.expire(2999).empty());
  auto out = h.expire(3600);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].rec.fd, 5);
  EXPECT_EQ(out[1].rec.fd, 4);
  EXPECT_FALSE(out[0].outcome);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.expire(UINT64_MAX).size(), 1u);
  EXPECT_EQ(h.size(), 0u);
}

TEST(ConnectHold, BoundedCountAndReusedFd) {
  ConnectHold h(2, 1'000'000);
  EXPECT_TRUE(h.hold(connect(1, 3, 0), 1).empty());
  EXPECT_TRUE(h.hold(connect(1, 4, 0), 2).empty());
  auto pushed = h.hold(connect(1, 5, 0), 3);  // full: the oldest goes out as it was
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].rec.fd, 3);
  auto again = h.hold(connect(1, 5, 7), 4);  // fd 5 closed and connected again
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].rec.fd, 5);
  EXPECT_EQ(again[0].rec.h.ts_ns, 0u);
  EXPECT_EQ(h.size(), 2u);
}

TEST(ConnectHold, ProcessExitReleasesOnlyItsConnects) {
  ConnectHold h;
  h.hold(connect(10, 3, 0), 1);
  h.hold(connect(10, 9, 0), 2);
  h.hold(connect(11, 3, 0), 3);
  auto out = h.release_process(10);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].rec.fd, 3);
  EXPECT_EQ(out[1].rec.fd, 9);
  EXPECT_EQ(h.size(), 1u);
  EXPECT_TRUE(h.release_process(12).empty());
}

}  // namespace
}  // namespace rein::pipeline
