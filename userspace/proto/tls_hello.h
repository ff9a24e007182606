// The server name (SNI) and ALPN protocols of a TLS ClientHello, from the first bytes a
// process wrote to a socket. Input is hostile: every length is checked against what is
// there, and a truncated hello yields what was parsed before the cut.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rein::proto {

struct TlsHello {
  std::string sni;                // empty when the client sent none (e.g. to an IP address)
  std::vector<std::string> alpn;  // e.g. "h2", "http/1.1"
  bool truncated = false;         // the capture ended inside the hello
};

// nullopt when the bytes are not a TLS handshake record carrying a ClientHello.
std::optional<TlsHello> parse_tls_client_hello(std::span<const uint8_t> bytes);

}  // namespace rein::proto
