// --metrics-addr: "IPv4:PORT" or "[IPv6]:PORT" (numeric addresses only: a scrape endpoint
// bound to a name would change with DNS).
#pragma once
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace rein::metrics {

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // as given, for messages
};

Result<ListenAddress> parse_listen_address(std::string_view s);

}  // namespace rein::metrics
