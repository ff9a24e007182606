#include "pipeline/tls_watch.h"

#include <gtest/gtest.h>

#include <vector>

namespace rein::pipeline {
namespace {

struct Seen {
  TlsConnection c;
  uint64_t now;
  bool partial;
};

struct Fixture {
  std::vector<Seen> seen;
  TlsWatch watch{[this](const TlsConnection& c, uint64_t now, bool partial) {
                   seen.push_back({c, now, partial});
                 },
                 /*quiet_ns=*/1000, /*max=*/3};
};

TlsConnection hello(uint32_t tgid, int32_t fd, uint64_t ts, std::string addr = "127.0.0.1",
                    uint16_t port = 443) {
  TlsConnection c;
  c.tgid = tgid;
  c.fd = fd;
  c.sni = "api.example";
  c.address = std::move(addr);
  c.port = port;
  c.ts_ns = ts;
  return c;
}

TEST(TlsWatch, PlaintextOnTheSameFdClosesTheWatch) {
  Fixture f;
  f.watch.on_hello(hello(10, 5, 100));
  f.watch.on_plaintext(10, 5, "", 0, false, 150);
  f.watch.on_exit(10, 200);
  EXPECT_TRUE(f.seen.empty());
}

TEST(TlsWatch, PlaintextWithoutFdMatchesByPeer) {
  Fixture f;
  f.watch.on_hello(hello(10, 5, 100, "10.0.0.1", 8443));
  f.watch.on_plaintext(10, -1, "10.0.0.2", 8443, false, 150);  // another peer: no match
  f.watch.on_plaintext(10, -1, "10.0.0.1", 8443, false, 160);
  f.watch.finish(300);
  EXPECT_TRUE(f.seen.empty());
}

TEST(TlsWatch, ExitReportsWhatWasNeverDecoded) {
  Fixture f;
  f.watch.on_hello(hello(10, 5, 100));
  f.watch.on_hello(hello(11, 5, 100));
  f.watch.on_exit(10, 200);
  ASSERT_EQ(f.seen.size(), 1u);
  EXPECT_EQ(f.seen[0].c.tgid, 10u);
  EXPECT_EQ(f.seen[0].now, 200u);
  EXPECT_FALSE(f.seen[0].partial);
  EXPECT_EQ(f.watch.reported(), 1u);
}

TEST(TlsWatch, ReusedFdDecidesTheOldConnection) {
  Fixture f;
  f.watch.on_hello(hello(10, 5, 100));
  f.watch.on_hello(hello(10, 5, 400));
  ASSERT_EQ(f.seen.size(), 1u);
  EXPECT_EQ(f.seen[0].c.ts_ns, 100u);
}

TEST(TlsWatch, QuietPeriodReports) {
  Fixture f;
  f.watch.on_hello(hello(10, 5, 100));
  f.watch.tick(500);
  EXPECT_TRUE(f.seen.empty());
  f.watch.tick(1200);
  EXPECT_EQ(f.seen.size(), 1u);
}

TEST(TlsWatch, LatePlaintextIsAPartialReport) {
  Fixture f;
  f.watch.on_hello(hello(10, 5, 100));
  f.watch.on_plaintext(10, 5, "", 0, true, 150);
  ASSERT_EQ(f.seen.size(), 1u);
  EXPECT_TRUE(f.seen[0].partial);
  EXPECT_EQ(f.seen[0].c.sni, "api.example");
  // no hello seen for it: still reported, with what is known
  f.watch.on_plaintext(12, 7, "10.0.0.9", 443, true, 170);
  ASSERT_EQ(f.seen.size(), 2u);
  EXPECT_TRUE(f.seen[1].partial);
  EXPECT_EQ(f.seen[1].c.address, "10.0.0.9");
}

TEST(TlsWatch, BoundedWithEvictionsCounted) {
  Fixture f;
  for (int32_t fd = 0; fd < 5; fd++) f.watch.on_hello(hello(10, fd, 100 + fd));
  EXPECT_EQ(f.watch.evicted(), 2u);
  f.watch.finish(1000);
  EXPECT_EQ(f.seen.size(), 3u);
}

}  // namespace
}  // namespace rein::pipeline
