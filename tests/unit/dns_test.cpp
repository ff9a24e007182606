#include "proto/dns.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using rein::proto::dns_type_name;
using rein::proto::DnsMessage;
using rein::proto::parse_dns;

// Hand assembly of wire-format packets.
struct Packet {
  std::vector<uint8_t> b;

  Packet& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Packet& u16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Packet& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
  Packet& bytes(std::initializer_list<uint8_t> v) {
    b.insert(b.end(), v);
    return *this;
  }
  Packet& label(std::string_view s) {
    u8(static_cast<uint8_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  // Uncompressed name, "a.b.c" -> 1a1b1c0.
  Packet& name(std::string_view dotted) {
    size_t i = 0;
    while (i < dotted.size()) {
      size_t dot = dotted.find('.', i);
      if (dot == std::string_view::npos) dot = dotted.size();
      label(dotted.substr(i, dot - i));
      i = dot + 1;
    }
    return u8(0);
  }
  Packet& ptr(uint16_t offset) { return u16(static_cast<uint16_t>(0xC000 | offset)); }
  Packet& header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0,
                 uint16_t ar = 0) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  size_t size() const { return b.size(); }
  std::span<const uint8_t> span(size_t n) const { return {b.data(), n}; }
  std::span<const uint8_t> span() const { return {b.data(), b.size()}; }
};

constexpr uint16_t kQueryRd = 0x0100;     // standard query, recursion desired
constexpr uint16_t kResponse = 0x8180;    // response, RD, RA, NOERROR

DnsMessage parse_ok(std::span<const uint8_t> s) {
  auto r = parse_dns(s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : DnsMessage{};
}

TEST(ProtoDns, QueryA) {
  Packet p;
  p.header(0x1234, kQueryRd, 1, 0).name("example.com").u16(1).u16(1);
  DnsMessage m = parse_ok(p.span());
  EXPECT_EQ(m.id, 0x1234);
  EXPECT_FALSE(m.response);
  EXPECT_EQ(m.opcode, 0);
  EXPECT_EQ(m.rcode, 0);
  EXPECT_FALSE(m.truncated_flag);
  EXPECT_FALSE(m.incomplete);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "example.com");
  EXPECT_EQ(m.questions[0].type, 1);
  EXPECT_EQ(m.questions[0].klass, 1);
  EXPECT_TRUE(m.answers.empty());
}

TEST(ProtoDns, HeaderFlags) {
  Packet p;
  // QR=1, opcode=2 (STATUS), TC=1, rcode=3 (NXDOMAIN).
  p.header(7, 0x8000 | (2 << 11) | 0x0200 | 3, 0, 0);
  DnsMessage m = parse_ok(p.span());
  EXPECT_TRUE(m.response);
  EXPECT_EQ(m.opcode, 2);
  EXPECT_TRUE(m.truncated_flag);
  EXPECT_EQ(m.rcode, 3);
}

TEST(ProtoDns, ResponseAWithCompression) {
  Packet p;
  p.header(0xbeef, kResponse, 1, 2).name("api.openai.com").u16(1).u16(1);
  p.ptr(12).u16(1).u16(1).u32(300).u16(4).bytes({104, 18, 33, 45});
  p.ptr(12).u16(1).u16(1).u32(0xFFFFFFFF).u16(4).bytes({172, 66, 0, 243});
  DnsMessage m = parse_ok(p.span());
  EXPECT_TRUE(m.response);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].name, "api.openai.com");
  EXPECT_EQ(m.answers[0].type, 1);
  EXPECT_EQ(m.answers[0].klass, 1);
  EXPECT_EQ(m.answers[0].ttl, 300u);
  EXPECT_EQ(m.answers[0].data, "104.18.33.45");
  EXPECT_EQ(m.answers[1].ttl, 0xFFFFFFFFu);
  EXPECT_EQ(m.answers[1].data, "172.66.0.243");
  EXPECT_FALSE(m.incomplete);
}

TEST(ProtoDns, ResponseAaaa) {
  Packet p;
  p.header(1, kResponse, 1, 3).name("v6.example").u16(28).u16(1);
  p.ptr(12).u16(28).u16(1).u32(60).u16(16)
      .bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  p.ptr(12).u16(28).u16(1).u32(60).u16(16)
      .bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1});
  p.ptr(12).u16(28).u16(1).u32(60).u16(16)
      .bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1});
  DnsMessage m = parse_ok(p.span());
  ASSERT_EQ(m.answers.size(), 3u);
  EXPECT_EQ(m.answers[0].data, "2001:db8::1");
  EXPECT_EQ(m.answers[1].data, "2001:db8:0:1:1:1:1:1");  // a single zero group stays
  EXPECT_EQ(m.answers[2].data, "::ffff:192.0.2.1");
}

// www.example.com CNAME edge.example.net; edge.example.net CNAME x.cdn.example.net;
// x.cdn.example.net A 10.1.2.3 -- each later name reuses a suffix of an earlier one.
Packet cname_chain() {
  Packet p;
  p.header(42, kResponse, 1, 3).name("www.example.com").u16(1).u16(1);  // name at 12
  // answer 1: owner -> question name; rdata "edge" "example" "net" (uncompressed)
  p.ptr(12).u16(5).u16(1).u32(100);
  const size_t rd1 = p.size() + 2;
  p.u16(18).name("edge.example.net");
  // answer 2: owner -> rd1; rdata "x" "cdn" -> pointer to "example.net" inside rd1
  p.ptr(static_cast<uint16_t>(rd1)).u16(5).u16(1).u32(200);
  const size_t rd2 = p.size() + 2;
  p.u16(8).label("x").label("cdn").ptr(static_cast<uint16_t>(rd1 + 5));
  // answer 3: owner -> rd2, A record
  p.ptr(static_cast<uint16_t>(rd2)).u16(1).u16(1).u32(30).u16(4).bytes({10, 1, 2, 3});
  return p;
}

TEST(ProtoDns, CnameChainWithNestedCompression) {
  Packet p = cname_chain();
  DnsMessage m = parse_ok(p.span());
  ASSERT_EQ(m.answers.size(), 3u);
  EXPECT_EQ(m.answers[0].name, "www.example.com");
  EXPECT_EQ(m.answers[0].type, 5);
  EXPECT_EQ(m.answers[0].data, "edge.example.net");
  EXPECT_EQ(m.answers[1].name, "edge.example.net");
  EXPECT_EQ(m.answers[1].data, "x.cdn.example.net");
  EXPECT_EQ(m.answers[2].name, "x.cdn.example.net");
  EXPECT_EQ(m.answers[2].ttl, 30u);
  EXPECT_EQ(m.answers[2].data, "10.1.2.3");
  EXPECT_FALSE(m.incomplete);
}

TEST(ProtoDns, EveryCutOfAValidMessageParsesPartially) {
  Packet p = cname_chain();
  size_t last_answers = 0;
  for (size_t n = 12; n < p.size(); ++n) {
    auto r = parse_dns(p.span(n));
    ASSERT_TRUE(r.ok()) << "cut at " << n << ": " << r.error().message;
    EXPECT_TRUE(r->incomplete) << "cut at " << n;
    EXPECT_GE(r->answers.size(), last_answers);
    last_answers = r->answers.size();
    for (const auto& a : r->answers) EXPECT_FALSE(a.data.empty()) << "cut at " << n;
  }
  EXPECT_EQ(last_answers, 2u);  // the third answer is only complete at full length
}

TEST(ProtoDns, CutInsideThirdAnswerKeepsTwo) {
  Packet p = cname_chain();
  DnsMessage m = parse_ok(p.span(p.size() - 2));  // A rdata missing its last 2 bytes
  EXPECT_TRUE(m.incomplete);
  ASSERT_EQ(m.questions.size(), 1u);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[1].data, "x.cdn.example.net");
}

TEST(ProtoDns, CutInsideQuestion) {
  Packet p;
  p.header(1, kQueryRd, 1, 0).name("example.com").u16(1).u16(1);
  DnsMessage m = parse_ok(p.span(16));
  EXPECT_TRUE(m.incomplete);
  EXPECT_TRUE(m.questions.empty());
  m = parse_ok(p.span(p.size() - 1));  // name complete, class cut
  EXPECT_TRUE(m.incomplete);
  EXPECT_TRUE(m.questions.empty());
}

TEST(ProtoDns, CountsLargerThanContent) {
  Packet p;
  p.header(1, kResponse, 1, 500).name("a").u16(1).u16(1);
  p.ptr(12).u16(1).u16(1).u32(1).u16(4).bytes({1, 2, 3, 4});
  DnsMessage m = parse_ok(p.span());
  EXPECT_TRUE(m.incomplete);
  EXPECT_EQ(m.answer_count, 500);
  EXPECT_EQ(m.answers.size(), 1u);
}

TEST(ProtoDns, ShortHeaderIsError) {
  Packet p;
  p.header(1, 0, 0, 0);
  EXPECT_FALSE(parse_dns(p.span(11)).ok());
  EXPECT_FALSE(parse_dns(std::span<const uint8_t>()).ok());
  EXPECT_TRUE(parse_dns(p.span(12)).ok());
}

TEST(ProtoDns, PointerToItselfIsError) {
  Packet p;
  p.header(1, kQueryRd, 1, 0).ptr(12).u16(1).u16(1);
  EXPECT_FALSE(parse_dns(p.span()).ok());
}

TEST(ProtoDns, PointerLoopThroughLabelIsError) {
  Packet p;  // 12: "a" then a pointer back to 12 -> a.a.a.a... if followed blindly
  p.header(1, kQueryRd, 1, 0).label("a").ptr(12).u16(1).u16(1);
  auto r = parse_dns(p.span());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("backwards"), std::string::npos) << r.error().message;
}

TEST(ProtoDns, TwoNamePointerLoopIsError) {
  // Question 1 at 12 points forward to question 2's name, which points back to 12.
  Packet p;
  p.header(1, kQueryRd, 2, 0);
  p.label("x").ptr(20).u16(1).u16(1);  // name at 12, pointer at 14 -> 20
  p.label("y").ptr(12).u16(1).u16(1);  // name at 20, pointer at 22 -> 12
  auto r = parse_dns(p.span());
  EXPECT_FALSE(r.ok());
}

TEST(ProtoDns, ForwardPointerIsError) {
  Packet p;
  p.header(1, kQueryRd, 1, 0).ptr(20).u16(1).u16(1).name("zz");
  EXPECT_FALSE(parse_dns(p.span()).ok());
}

TEST(ProtoDns, PointerIntoHeaderIsError) {
  Packet p;
  p.header(1, kQueryRd, 1, 0).ptr(4).u16(1).u16(1);
  EXPECT_FALSE(parse_dns(p.span()).ok());
}

TEST(ProtoDns, LongPointerChains) {
  // A TXT record whose rdata is a chain of pointers, each to the previous one, the first to
  // the question name; a second answer's owner name points at the end of the chain.
  auto build = [](int chain) {
    Packet p;
    p.header(1, kResponse, 1, 2).name("a").u16(16).u16(1);
    p.ptr(12).u16(16).u16(1).u32(1).u16(static_cast<uint16_t>(2 * chain));
    size_t prev = 12;
    for (int i = 0; i < chain; ++i) {
      const size_t here = p.size();
      p.ptr(static_cast<uint16_t>(prev));
      prev = here;
    }
    p.ptr(static_cast<uint16_t>(prev)).u16(1).u16(1).u32(1).u16(4).bytes({9, 9, 9, 9});
    return p;
  };
  Packet ok = build(10);
  DnsMessage m = parse_ok(ok.span());
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[1].name, "a");
  EXPECT_EQ(m.answers[1].data, "9.9.9.9");

  Packet bad = build(300);
  auto r = parse_dns(bad.span());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("too many"), std::string::npos) << r.error().message;
}

TEST(ProtoDns, ReservedLabelTypesAreErrors) {
  for (uint8_t kind : {0x40, 0x80}) {
    Packet p;
    p.header(1, kQueryRd, 1, 0).u8(static_cast<uint8_t>(kind | 1)).u8('a').u8(0).u16(1).u16(1);
    EXPECT_FALSE(parse_dns(p.span()).ok()) << int(kind);
  }
}

TEST(ProtoDns, NameLengthLimit) {
  const std::string l63(63, 'a');
  {
    Packet p;  // (1+63)*3 + (1+61) + 1 = 255: the longest legal name
    p.header(1, kQueryRd, 1, 0).label(l63).label(l63).label(l63).label(std::string(61, 'b'))
        .u8(0).u16(1).u16(1);
    DnsMessage m = parse_ok(p.span());
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0].name.size(), 253u);
  }
  {
    Packet p;  // one byte more
    p.header(1, kQueryRd, 1, 0).label(l63).label(l63).label(l63).label(std::string(62, 'b'))
        .u8(0).u16(1).u16(1);
    EXPECT_FALSE(parse_dns(p.span()).ok());
  }
  {
    // Over the limit only through a pointer: suffix of 192 wire bytes reused after 2 labels.
    Packet p;
    p.header(1, kQueryRd, 2, 0).label(l63).label(l63).label(l63).u8(0).u16(1).u16(1);
    p.label(l63).ptr(12).u16(1).u16(1);
    EXPECT_FALSE(parse_dns(p.span()).ok());
  }
}

TEST(ProtoDns, NonPrintableBytesEscaped) {
  Packet p;
  p.header(1, kQueryRd, 1, 0);
  p.label("a.b").label("x\\y").label(std::string("\x20\x00\xff\x7f", 4)).label("ok-Z_9");
  p.u8(0).u16(1).u16(1);
  DnsMessage m = parse_ok(p.span());
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "a\\.b.x\\\\y.\\032\\000\\255\\127.ok-Z_9");
}

TEST(ProtoDns, RootName) {
  Packet p;
  p.header(1, kQueryRd, 1, 0).u8(0).u16(2).u16(1);
  DnsMessage m = parse_ok(p.span());
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, ".");
  EXPECT_EQ(m.questions[0].type, 2);
}

TEST(ProtoDns, QuestionAndAnswerBounds) {
  Packet p;
  p.header(1, kResponse, 20, 70);
  for (int i = 0; i < 20; ++i) p.label("q" + std::to_string(i)).u8(0).u16(1).u16(1);
  for (int i = 0; i < 70; ++i) {
    p.ptr(12).u16(1).u16(1).u32(static_cast<uint32_t>(i)).u16(4)
        .bytes({10, 0, 0, static_cast<uint8_t>(i)});
  }
  DnsMessage m = parse_ok(p.span());
  EXPECT_FALSE(m.incomplete);
  EXPECT_EQ(m.questions.size(), 16u);
  EXPECT_EQ(m.questions_dropped, 4u);
  EXPECT_EQ(m.questions[15].name, "q15");
  EXPECT_EQ(m.answers.size(), 64u);
  EXPECT_EQ(m.answers_dropped, 6u);
  EXPECT_EQ(m.answers[63].data, "10.0.0.63");
  EXPECT_EQ(m.answers[63].name, "q0");
}

TEST(ProtoDns, WrongAddressLengthIsError) {
  Packet p;
  p.header(1, kResponse, 0, 1).u8(0).u16(1).u16(1).u32(1).u16(5).bytes({1, 2, 3, 4, 5});
  EXPECT_FALSE(parse_dns(p.span()).ok());
  Packet q;
  q.header(1, kResponse, 0, 1).u8(0).u16(28).u16(1).u32(1).u16(4).bytes({1, 2, 3, 4});
  EXPECT_FALSE(parse_dns(q.span()).ok());
}

TEST(ProtoDns, CnameOverrunningRdataIsError) {
  Packet p;  // rdlength says 3 but the name inside is "abc.com" (9 bytes)
  p.header(1, kResponse, 0, 2).u8(0).u16(5).u16(1).u32(1).u16(3).name("abc.com");
  p.u8(0).u16(1).u16(1).u32(1).u16(4).bytes({1, 2, 3, 4});
  EXPECT_FALSE(parse_dns(p.span()).ok());
}

TEST(ProtoDns, OtherTypesKeepEmptyData) {
  Packet p;
  p.header(1, kResponse, 0, 2).u8(0).u16(16).u16(1).u32(5).u16(3).label("hi");
  p.u8(0).u16(15).u16(1).u32(5).u16(4).u16(10).u8(0xC0).u8(0xFF);  // MX with junk exchange
  DnsMessage m = parse_ok(p.span());
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].type, 16);
  EXPECT_EQ(m.answers[0].data, "");
  EXPECT_EQ(m.answers[1].type, 15);
  EXPECT_EQ(m.answers[1].data, "");
}

TEST(ProtoDns, TypeNames) {
  EXPECT_EQ(dns_type_name(1), "A");
  EXPECT_EQ(dns_type_name(28), "AAAA");
  EXPECT_EQ(dns_type_name(5), "CNAME");
  EXPECT_EQ(dns_type_name(15), "MX");
  EXPECT_EQ(dns_type_name(16), "TXT");
  EXPECT_EQ(dns_type_name(12), "PTR");
  EXPECT_EQ(dns_type_name(2), "NS");
  EXPECT_EQ(dns_type_name(6), "SOA");
  EXPECT_EQ(dns_type_name(33), "SRV");
  EXPECT_EQ(dns_type_name(65), "HTTPS");
  EXPECT_EQ(dns_type_name(64), "SVCB");
  EXPECT_EQ(dns_type_name(255), "ANY");
  EXPECT_EQ(dns_type_name(0), "TYPE0");
  EXPECT_EQ(dns_type_name(65535), "TYPE65535");
}

}  // namespace
