#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "process/resolv_conf.h"
#include "temp_dir.h"

namespace rein::process {
namespace {

namespace fs = std::filesystem;

ResolverAddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  ResolverAddr r{};
  r[10] = r[11] = 0xff;
  r[12] = a;
  r[13] = b;
  r[14] = c;
  r[15] = d;
  return r;
}

TEST(ResolvConf, NameserversInOrderAsMappedAddresses) {
  auto rs = parse_resolv_conf(
      "# generated\n"
      "search example.com\n"
      "nameserver 127.0.0.53\n"
      "options edns0 trust-ad\n"
      "nameserver\t10.0.0.2  # inline comment\n"
      "nameserver ::1\n");
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0], v4(127, 0, 0, 53));
  EXPECT_EQ(rs[1], v4(10, 0, 0, 2));
  ResolverAddr one{};
  one[15] = 1;
  EXPECT_EQ(rs[2], one);
  EXPECT_EQ(resolver_text(rs[0]), "127.0.0.53");
  EXPECT_EQ(resolver_text(rs[2]), "::1");
}

TEST(ResolvConf, IgnoresCommentsGarbageAndDuplicates) {
  auto rs = parse_resolv_conf(
      "#nameserver 1.1.1.1\n"
      "; nameserver 8.8.8.8\n"
      "nameservers 9.9.9.9\n"
      "nameserver not-an-address\n"
      "nameserver 300.1.1.1\n"
      "nameserver\n"
      "  nameserver 192.0.2.1\r\n"
      "nameserver 192.0.2.1\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0], v4(192, 0, 2, 1));
}

TEST(ResolvConf, BoundedAndZoneDropped) {
  std::string text;
  for (int i = 1; i <= 40; i++) text += "nameserver 10.0.0." + std::to_string(i) + "\n";
  EXPECT_EQ(parse_resolv_conf(text).size(), kMaxResolvConfServers);
  auto a = parse_resolver_address("fe80::1%eth0");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)[0], 0xfe);
  EXPECT_FALSE(parse_resolver_address(""));
  EXPECT_FALSE(parse_resolver_address("127.0.0.1:53"));
  EXPECT_EQ(parse_resolver_address("127.0.0.2"), v4(127, 0, 0, 2));
}

void write_file(const std::string& path, std::string_view data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), std::streamsize(data.size()));
}

uint64_t inode(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(ResolvConf, OtherNamespacesReadOnceOwnSkipped) {
  testutil::TempDir dir("rein_resolv");
  const std::string proc = dir.path();
  // pid 10: our namespace; 20 and 21: a container; 30: gone
  write_file(proc + "/10/ns/mnt", "a");
  write_file(proc + "/10/root/etc/resolv.conf", "nameserver 1.1.1.1\n");
  write_file(proc + "/20/ns/mnt", "b");
  write_file(proc + "/20/root/etc/resolv.conf", "nameserver 127.0.0.11\n");
  fs::create_directories(proc + "/21/ns");
  fs::create_symlink(proc + "/20/ns/mnt", proc + "/21/ns/mnt");  // same namespace as 20
  write_file(proc + "/21/root/etc/resolv.conf", "nameserver 10.9.9.9\n");
  NamespaceResolvers nr(proc, inode(proc + "/10/ns/mnt"));
  EXPECT_TRUE(nr.for_process(10).empty());
  auto c = nr.for_process(20);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], v4(127, 0, 0, 11));
  EXPECT_TRUE(nr.for_process(21).empty());
  EXPECT_TRUE(nr.for_process(30).empty());
  EXPECT_EQ(nr.namespaces(), 1u);
}

}  // namespace
}  // namespace rein::process
