#include "metrics/listen_address.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace rein::metrics {

Result<ListenAddress> parse_listen_address(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return make_error(
        fmt::format("--metrics-addr {}: {} (expected IPv4:PORT or [IPv6]:PORT, "
                    "e.g. 127.0.0.1:9464 or [::1]:9464)",
                    s, why));
  };
  std::string host;
  std::string_view port;
  bool v6 = false;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return bad("no ]:PORT after the IPv6 address");
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
    v6 = true;
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return bad("no :PORT");
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
  }
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
    return bad("the port must be 1-65535");
  ListenAddress out;
  out.text = std::string(s);
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(uint16_t(p));
    if (inet_pton(AF_INET6, host.c_str(), &a.sin6_addr) != 1) return bad("not an IPv6 address");
    std::memcpy(&out.addr, &a, sizeof(a));
    out.len = sizeof(a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(p));
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return bad("not an IPv4 address");
    std::memcpy(&out.addr, &a, sizeof(a));
    out.len = sizeof(a);
  }
  return out;
}

}  // namespace rein::metrics
