#include <gtest/gtest.h>

#include "policy/cidr.h"

using rein::policy::Cidr;
using rein::policy::IpAddress;

namespace {

IpAddress ip(std::string_view s) {
  auto a = IpAddress::parse(s);
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(IpAddress{});
}

Cidr cidr(std::string_view s) {
  auto c = Cidr::parse(s);
  EXPECT_TRUE(c.ok()) << s << ": " << (c.ok() ? "" : c.error().message);
  return std::move(c).value();
}

}  // namespace

TEST(PolicyCidr, ParsesStrictDottedQuads) {
  IpAddress a = ip("169.254.169.254");
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a.bytes[0], 169);
  EXPECT_EQ(a.bytes[3], 254);
  EXPECT_EQ(a.to_string(), "169.254.169.254");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..3.4", "1.2.3.4 ",
                          " 1.2.3.4", "0x7f.0.0.1", "1.2.3.4/", "127.1"})
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
}

TEST(PolicyCidr, ParsesIpv6AndRejectsZonesAndBrackets) {
  IpAddress a = ip("fd00::1");
  EXPECT_TRUE(a.v6);
  EXPECT_EQ(a.bytes[0], 0xfd);
  EXPECT_EQ(a.bytes[15], 1);
  EXPECT_EQ(a.to_string(), "fd00::1");
  for (const char* bad : {"fe80::1%eth0", "[::1]", "1:2:3:4:5:6:7:8:9", ":::", "g::1"})
    EXPECT_FALSE(IpAddress::parse(bad).has_value()) << bad;
}

TEST(PolicyCidr, MappedIpv6AddressesAreIpv4) {
  IpAddress a = ip("::ffff:10.1.2.3");
  EXPECT_FALSE(a.v6);
  EXPECT_EQ(a, ip("10.1.2.3"));
  const uint8_t raw[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 169, 254};
  EXPECT_EQ(IpAddress::from_v6(raw), ip("169.254.169.254"));
  EXPECT_TRUE(cidr("169.254.169.254/32").contains(IpAddress::from_v6(raw)));
}

TEST(PolicyCidr, ContainsRespectsPrefixBoundaries) {
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_TRUE(c.contains(ip("10.0.0.0")));
  EXPECT_TRUE(c.contains(ip("10.255.255.255")));
  EXPECT_FALSE(c.contains(ip("11.0.0.0")));
  EXPECT_FALSE(c.contains(ip("9.255.255.255")));
  Cidr odd = cidr("192.168.0.0/23");
  EXPECT_TRUE(odd.contains(ip("192.168.1.200")));
  EXPECT_FALSE(odd.contains(ip("192.168.2.0")));
  Cidr host = cidr("169.254.169.254");
  EXPECT_EQ(host.prefix_len(), 32);
  EXPECT_TRUE(host.contains(ip("169.254.169.254")));
  EXPECT_FALSE(host.contains(ip("169.254.169.253")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
}

TEST(PolicyCidr, Ipv6PrefixesIncludingPartialBytes) {
  Cidr c = cidr("fd00::/8");
  EXPECT_TRUE(c.contains(ip("fd12:3456::1")));
  EXPECT_FALSE(c.contains(ip("fe80::1")));
  Cidr c7 = cidr("fc00::/7");
  EXPECT_TRUE(c7.contains(ip("fd00::1")));
  EXPECT_TRUE(c7.contains(ip("fc00::1")));
  EXPECT_FALSE(c7.contains(ip("fe00::1")));
  Cidr one = cidr("2001:db8::1/128");
  EXPECT_TRUE(one.contains(ip("2001:db8::1")));
  EXPECT_FALSE(one.contains(ip("2001:db8::2")));
  EXPECT_EQ(cidr("::1").prefix_len(), 128);
}

TEST(PolicyCidr, FamiliesDoNotContainEachOther) {
  EXPECT_FALSE(cidr("::/0").contains(ip("1.2.3.4")));
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(ip("::1")));
  EXPECT_TRUE(cidr("::/0").contains(ip("2001:db8::1")));
}

TEST(PolicyCidr, MappedBlocksBecomeIpv4Blocks) {
  Cidr c = cidr("::ffff:10.0.0.0/104");
  EXPECT_FALSE(c.is_v6());
  EXPECT_EQ(c.prefix_len(), 8);
  EXPECT_TRUE(c.contains(ip("10.9.9.9")));
  EXPECT_EQ(c.to_string(), "10.0.0.0/8");
  EXPECT_FALSE(Cidr::parse("::ffff:10.0.0.0/95").ok());
}

TEST(PolicyCidr, HostBitsAreClearedAndFlagged) {
  Cidr c = cidr("10.1.2.3/8");
  EXPECT_TRUE(c.had_host_bits());
  EXPECT_EQ(c.to_string(), "10.0.0.0/8");
  EXPECT_TRUE(c.contains(ip("10.200.0.1")));
  Cidr v6 = cidr("fd00::1/8");
  EXPECT_TRUE(v6.had_host_bits());
  EXPECT_EQ(v6.to_string(), "fd00::/8");
  EXPECT_FALSE(cidr("10.0.0.0/8").had_host_bits());
}

TEST(PolicyCidr, RejectsMalformedBlocks) {
  for (const char* bad : {"", "/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8/8",
                          "::/129", "10.0.0.0/ 8", "example.com/8", "10.0.0.0/1000"})
    EXPECT_FALSE(Cidr::parse(bad).ok()) << bad;
}
