#include "enforce/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace rein::enforce {
namespace {
constexpr size_t kMaxRequest = 512;

Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path))
    return make_error(fmt::format("control socket path too long: {}", path));
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// Reads one line with a deadline: a peer that never finishes its request cannot stall us.
std::string read_line(int fd, int timeout_ms) {
  std::string line;
  char buf[128];
  while (line.size() < kMaxRequest && line.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  if (auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  return line;
}
}  // namespace

Result<ControlServer> ControlServer::listen(const std::string& path) {
  auto addr = address_of(path);
  if (!addr) return addr.error();
  auto slash = path.rfind('/');  // a bare file name lives in the current directory
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
  if (!dir.empty() && mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(fmt::format("control socket directory {}: {}", dir, std::strerror(errno)));
  // A stale socket from a previous run is replaced; anything else at the path is the user's
  // (a typo'd path must not delete a file).
  struct stat st{};
  if (lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode))
    return make_error(fmt::format("control socket {}: exists and is not a socket (not replaced)", path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(fmt::format("control socket: {}", std::strerror(errno)));
  unlink(path.c_str());
  mode_t old = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr));
  umask(old);
  if (rc != 0 || ::listen(fd, 16) != 0) {
    int err = errno;
    close(fd);
    return make_error(fmt::format("control socket {}: {}", path, std::strerror(err)));
  }
  return ControlServer(fd, path);
}

ControlServer::ControlServer(ControlServer&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) {
  o.fd_ = -1;
}

ControlServer::~ControlServer() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(path_.c_str());
  }
}

int ControlServer::serve_pending(const Handler& handler, const Takeover& takeover) {
  int served = 0;
  // This runs on the event loop: a few short requests per turn, a short read deadline, so a
  // client that connects and says nothing cannot stall event processing.
  for (int i = 0; i < 4; i++) {
    // Asked first: an accept4 with nothing pending still makes and frees a socket, inode
    // and file in the kernel (several µs), and this runs up to 100 times a second.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || !(p.revents & POLLIN)) break;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) break;
    ucred cred{};
    socklen_t len = sizeof(cred);
    std::string reply;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
      reply = R"({"ok":false,"error":"permission denied: the control socket serves root only"})";
    } else {
      std::string request = read_line(c, 100);
      if (takeover && takeover(request, c)) {
        served++;
        continue;
      }
      reply = handler(request);
    }
    reply += '\n';
    (void)!send(c, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(c);
    served++;
  }
  return served;
}

Result<std::string> control_request(const std::string& path, const std::string& request) {
  auto addr = address_of(path);
  if (!addr) return addr.error();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    int err = errno;
    close(fd);
    return make_error(fmt::format("cannot reach the sensor at {}: {} (is `rein run` running?)",
                                  path, std::strerror(err)));
  }
  std::string line = request + "\n";
  (void)!write(fd, line.data(), line.size());
  std::string reply = read_line(fd, 5000);
  close(fd);
  if (reply.empty()) return make_error("the sensor closed the connection without a reply");
  return reply;
}

}  // namespace rein::enforce
