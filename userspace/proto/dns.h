// DNS message parser (RFC 1035 wire format, one UDP payload) for net.dns events and for
// mapping addresses back to hostnames. The payload comes from any process on the host and
// the capture may cut it short (e.g. at 512 bytes of a larger EDNS response), so parsing is
// bounded everywhere and a cut buffer yields what was parsed so far instead of an error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace rein::proto {

inline constexpr size_t kDnsMaxQuestions = 16;  // kept; the rest are parsed and counted
inline constexpr size_t kDnsMaxAnswers = 64;

// Names are in presentation form without the trailing dot ("example.com", root is "."):
// '.' and '\' inside a label are backslash-escaped, bytes outside 0x21..0x7E become \DDD
// (decimal), so a name is always printable ASCII and at most 1020 characters.
struct DnsQuestion {
  std::string name;
  uint16_t type = 0;
  uint16_t klass = 0;
};

struct DnsAnswer {
  std::string name;
  uint16_t type = 0;
  uint16_t klass = 0;
  uint32_t ttl = 0;
  std::string data;  // A/AAAA: address text; CNAME/PTR/NS: name; other types: empty
};

struct DnsMessage {
  uint16_t id = 0;
  bool response = false;
  uint8_t opcode = 0;
  uint8_t rcode = 0;  // header RCODE only (no EDNS extension)
  bool truncated_flag = false;  // TC bit: the *server* truncated (not the capture)
  uint16_t question_count = 0;  // QDCOUNT as sent
  uint16_t answer_count = 0;    // ANCOUNT as sent
  std::vector<DnsQuestion> questions;  // at most kDnsMaxQuestions
  std::vector<DnsAnswer> answers;      // answer section only, at most kDnsMaxAnswers
  uint32_t questions_dropped = 0;      // parsed past the bound and not kept
  uint32_t answers_dropped = 0;
  // The buffer ended before the question and answer sections did (capture cut, or a sender
  // that announced more records than it sent); everything above was fully parsed.
  bool incomplete = false;
};

// Error only for input that cannot be DNS or is malformed in what was captured: shorter
// than the header, reserved label types, names over 255 bytes, compression pointers that do
// not point strictly backwards (or chain too long), A/AAAA with the wrong length, a name
// overrunning its record. Authority and additional sections are not parsed.
Result<DnsMessage> parse_dns(std::span<const uint8_t> msg);

// "A", "AAAA", "CNAME", "MX", "TXT", "PTR", "NS", "SOA", "SRV", "HTTPS", "SVCB", "ANY";
// anything else as "TYPE<n>" (RFC 3597 style).
std::string dns_type_name(uint16_t type);

}  // namespace rein::proto
