#include "cli/event_subscribers.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rein::cli {

bool subscribe(sinks::SubscriberFanout& fanout, const std::string& request, int fd) {
  if (request != kSubscribeRequest) return false;
  if (fanout.full()) {
    static const std::string busy =
        R"({"ok":false,"error":"the sensor serves its maximum of subscribers"})"
        "\n";
    (void)!send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    return true;
  }
  (void)fanout.add(
      fd, fmt::format(R"({{"ok":true,"subscribed":true,"subscribers":{}}})", fanout.clients() + 1));
  return true;
}

bool control_socket_in_use(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) return false;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  // A live listener accepts (or is busy: EAGAIN); a stale file refuses (ECONNREFUSED).
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 || errno == EAGAIN;
  close(fd);
  return live;
}

}  // namespace rein::cli
