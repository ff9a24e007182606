// IP addresses and CIDR blocks for network rules. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 peer) is the IPv4 address
// a.b.c.d, and a CIDR written in that form with a prefix of at least 96 is the IPv4 block;
// otherwise IPv4 and IPv6 never contain each other ("::/0" does not cover IPv4 peers).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rein::policy {

struct IpAddress {
  bool v6 = false;
  // IPv4 uses bytes[0..3]; always network byte order.
  std::array<uint8_t, 16> bytes{};

  // Dotted quad (exactly four decimal parts 0-255, no leading zeros: "010" is ambiguous
  // between octal and decimal elsewhere) or RFC 4291 IPv6 text, no zone ("%eth0") and no
  // brackets. Mapped IPv6 comes back as IPv4.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress from_v4(const uint8_t b[4]);
  // 16 bytes as the kernel reports them; mapped addresses become IPv4.
  static IpAddress from_v6(const uint8_t b[16]);

  std::string to_string() const;
  bool operator==(const IpAddress& o) const { return v6 == o.v6 && bytes == o.bytes; }
};

class Cidr {
 public:
  // "a.b.c.d/n", "x::y/n", or a bare address (a /32 or /128). The prefix length is decimal,
  // no leading zeros. Host bits below the prefix are accepted and cleared, so
  // "10.1.2.3/8" is stored as 10.0.0.0/8 (to_string shows what is enforced).
  static Result<Cidr> parse(std::string_view text);

  bool contains(const IpAddress& addr) const;
  const IpAddress& network() const { return net_; }
  uint8_t prefix_len() const { return len_; }
  bool is_v6() const { return net_.v6; }
  // The text differed from the normalised block (host bits were set).
  bool had_host_bits() const { return had_host_bits_; }
  std::string to_string() const;

 private:
  IpAddress net_;
  uint8_t len_ = 0;
  bool had_host_bits_ = false;
};

}  // namespace rein::policy
