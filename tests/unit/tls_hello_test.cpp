#include "proto/tls_hello.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rein::proto {
namespace {

void put16(std::vector<uint8_t>& v, size_t x) {
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}

// A ClientHello built field by field, as a TLS client lays it out.
// `filler` empty unknown extensions come first (a hostile client can send many).
std::vector<uint8_t> hello(const std::string& sni, const std::vector<std::string>& alpn,
                           size_t filler = 0) {
  std::vector<uint8_t> ext;
  for (size_t i = 0; i < filler; i++) {
    put16(ext, 0xff00 + (i & 0xff));
    put16(ext, 0);
  }
  if (!sni.empty()) {
    put16(ext, 0);
    put16(ext, sni.size() + 5);
    put16(ext, sni.size() + 3);
    ext.push_back(0);
    put16(ext, sni.size());
    ext.insert(ext.end(), sni.begin(), sni.end());
  }
  if (!alpn.empty()) {
    std::vector<uint8_t> list;
    for (const auto& p : alpn) {
      list.push_back(uint8_t(p.size()));
      list.insert(list.end(), p.begin(), p.end());
    }
    put16(ext, 16);
    put16(ext, list.size() + 2);
    put16(ext, list.size());
    ext.insert(ext.end(), list.begin(), list.end());
  }
  std::vector<uint8_t> body;
  put16(body, 0x0303);
  body.insert(body.end(), 32, 0xab);  // random
  body.push_back(0);                  // session id
  put16(body, 2);
  put16(body, 0x1301);                // one cipher suite
  body.push_back(1);
  body.push_back(0);                  // null compression
  put16(body, ext.size());
  body.insert(body.end(), ext.begin(), ext.end());
  std::vector<uint8_t> hs = {1, uint8_t(body.size() >> 16), uint8_t(body.size() >> 8), uint8_t(body.size())};
  hs.insert(hs.end(), body.begin(), body.end());
  std::vector<uint8_t> rec = {0x16, 0x03, 0x01};
  put16(rec, hs.size());
  rec.insert(rec.end(), hs.begin(), hs.end());
  return rec;
}

TEST(ProtoTlsHello, ServerNameAndAlpn) {
  auto h = parse_tls_client_hello(hello("api.openai.com", {"h2", "http/1.1"}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sni, "api.openai.com");
  EXPECT_EQ(h->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_FALSE(h->truncated);
}

TEST(ProtoTlsHello, NoServerNameForAnAddress) {
  auto h = parse_tls_client_hello(hello("", {"http/1.1"}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sni, "");
  EXPECT_EQ(h->alpn.size(), 1u);
}

TEST(ProtoTlsHello, NotAHello) {
  EXPECT_FALSE(parse_tls_client_hello(std::vector<uint8_t>{'P', 'O', 'S', 'T', ' ', '/'}));
  auto bytes = hello("x.example", {});
  bytes[5] = 2;  // ServerHello
  EXPECT_FALSE(parse_tls_client_hello(bytes));
  EXPECT_FALSE(parse_tls_client_hello(std::vector<uint8_t>{}));
}

TEST(ProtoTlsHello, EveryTruncationIsSafe) {
  auto full = hello("llm.internal.example", {"h2"});
  for (size_t n = 0; n < full.size(); n++) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    auto h = parse_tls_client_hello(cut);
    if (h) {
      // whatever came out is a prefix-consistent answer: never a wrong name
      EXPECT_TRUE(h->sni.empty() || h->sni == "llm.internal.example") << n;
    }
  }
}

// The server name is read wherever it is among the extensions: a limit on how many are
// read would let a client hide its name behind empty ones, and host rules with it.
TEST(ProtoTlsHello, ServerNameAfterManyExtensions) {
  auto h = parse_tls_client_hello(hello("blocked.example", {"h2"}, 400));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sni, "blocked.example");
  EXPECT_EQ(h->alpn, std::vector<std::string>{"h2"});
  EXPECT_FALSE(h->truncated);
}

TEST(ProtoTlsHello, HostileNameIsRejected) {
  auto h = parse_tls_client_hello(hello(std::string("evil\ncom"), {}));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sni, "");
}

}  // namespace
}  // namespace rein::proto
