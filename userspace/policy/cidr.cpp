#include "policy/cidr.h"

#include <arpa/inet.h>

#include <cstring>
#include <fmt/format.h>

namespace rein::policy {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Decimal without sign or leading zeros, at most `max`.
std::optional<unsigned> parse_small_decimal(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

std::optional<IpAddress> parse_v4(std::string_view s) {
  IpAddress a;
  for (int part = 0; part < 4; part++) {
    size_t dot = s.find('.');
    std::string_view field = part == 3 ? s : s.substr(0, dot);
    if (part < 3 && dot == std::string_view::npos) return std::nullopt;
    auto v = parse_small_decimal(field, 255);
    if (!v) return std::nullopt;
    a.bytes[part] = static_cast<uint8_t>(*v);
    if (part < 3) s.remove_prefix(dot + 1);
  }
  return a;
}

bool is_v4_mapped(const uint8_t* b) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kPrefix, sizeof kPrefix) == 0;
}

}  // namespace

IpAddress IpAddress::from_v4(const uint8_t b[4]) {
  IpAddress a;
  std::memcpy(a.bytes.data(), b, 4);
  return a;
}

IpAddress IpAddress::from_v6(const uint8_t b[16]) {
  if (is_v4_mapped(b)) return from_v4(b + 12);
  IpAddress a;
  a.v6 = true;
  std::memcpy(a.bytes.data(), b, 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  if (text.find(':') == std::string_view::npos) return parse_v4(text);
  char buf[INET6_ADDRSTRLEN + 1];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  uint8_t raw[16];
  if (inet_pton(AF_INET6, buf, raw) != 1) return std::nullopt;
  return from_v6(raw);
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

Result<Cidr> Cidr::parse(std::string_view text) {
  if (text.empty()) return make_error("empty CIDR");
  size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  // Parse the raw form first so a mapped block can be re-based on IPv4 with its length.
  bool written_v6 = addr_text.find(':') != std::string_view::npos;
  auto addr = IpAddress::parse(addr_text);
  if (!addr) return make_error(fmt::format("'{}' is not an IPv4 or IPv6 address", addr_text));
  unsigned max_len = written_v6 ? 128 : 32;
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    auto v = parse_small_decimal(text.substr(slash + 1), max_len);
    if (!v)
      return make_error(fmt::format("prefix length '{}' is not a decimal number 0-{}",
                                    text.substr(slash + 1), max_len));
    len = *v;
  }
  Cidr c;
  c.net_ = *addr;
  if (written_v6 && !addr->v6) {
    // Mapped form: only a block inside ::ffff:0:0/96 is an IPv4 block.
    if (len < 96)
      return make_error(fmt::format("'{}' mixes the IPv4-mapped range with other IPv6 addresses; "
                                    "write the IPv4 block instead", text));
    len -= 96;
  }
  c.len_ = static_cast<uint8_t>(len);
  const unsigned total = c.net_.v6 ? 16 : 4;
  for (unsigned i = 0; i < total; i++) {
    unsigned keep_bits = len >= (i + 1) * 8 ? 8 : (len > i * 8 ? len - i * 8 : 0);
    uint8_t mask = keep_bits == 0 ? 0 : static_cast<uint8_t>(0xFF << (8 - keep_bits));
    if (c.net_.bytes[i] & ~mask) c.had_host_bits_ = true;
    c.net_.bytes[i] &= mask;
  }
  return c;
}

bool Cidr::contains(const IpAddress& addr) const {
  if (addr.v6 != net_.v6) return false;
  unsigned full = len_ / 8, rest = len_ % 8;
  if (std::memcmp(addr.bytes.data(), net_.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (addr.bytes[full] & mask) == net_.bytes[full];
}

std::string Cidr::to_string() const { return fmt::format("{}/{}", net_.to_string(), len_); }

}  // namespace rein::policy
