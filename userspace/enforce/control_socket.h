// The daemon's control socket: `rein holds`, `rein approve ID`, `rein deny ID` talk to the
// running sensor over a unix socket that serves root only (SO_PEERCRED is checked on every
// connection; the socket file is 0600 in a 0700 directory). One request line, one JSON
// reply line, then the connection closes.
#pragma once
#include <functional>
#include <string>

#include "common/result.h"

namespace rein::enforce {

constexpr const char* kDefaultControlSocket = "/run/rein/control.sock";

class ControlServer {
 public:
  using Handler = std::function<std::string(const std::string& request)>;
  static Result<ControlServer> listen(const std::string& path);
  ControlServer(ControlServer&& o) noexcept;
  ControlServer& operator=(ControlServer&&) = delete;
  ~ControlServer();
  // Given a request and the connection, true when it keeps the connection (a `subscribe`
  // stream): it then owns the fd and sends its own reply.
  using Takeover = std::function<bool(const std::string& request, int fd)>;
  // Serves connections that are already waiting, without blocking. Returns how many.
  int serve_pending(const Handler& handler, const Takeover& takeover = {});
  const std::string& path() const { return path_; }

 private:
  ControlServer(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Client side: sends one request, returns the reply line.
Result<std::string> control_request(const std::string& path, const std::string& request);

}  // namespace rein::enforce
