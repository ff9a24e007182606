#include "cli/top_source.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "cli/event_subscribers.h"

namespace rein::cli {

namespace {
constexpr std::string_view kDroppedPrefix = R"({"type":"subscription.dropped","lines":)";
constexpr size_t kMaxGreeting = 4096;
constexpr int kGreetingTimeoutMs = 5000;
}  // namespace

void LineSplitter::line(top::AgentBoard& board, std::string_view l) {
  if (sensor_notices_ && l.substr(0, kDroppedPrefix.size()) == kDroppedPrefix) {
    uint64_t n = 0;
    auto digits = l.substr(kDroppedPrefix.size());
    std::from_chars(digits.data(), digits.data() + digits.size(), n);
    sensor_dropped_ += n;
    return;
  }
  board.feed(l);
}

void LineSplitter::feed(top::AgentBoard& board, std::string_view chunk) {
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    if (discarding_) {
      if (nl != std::string_view::npos) discarding_ = false;
    } else if (partial_.size() + piece.size() > top::kMaxLineBytes) {
      board.note_skipped_line();
      partial_.clear();
      discarding_ = nl == std::string_view::npos;
    } else if (nl == std::string_view::npos) {
      partial_.append(piece);
    } else if (partial_.empty()) {
      line(board, piece);
    } else {
      partial_.append(piece);
      line(board, partial_);
      partial_.clear();
    }
    if (nl == std::string_view::npos) break;
    chunk.remove_prefix(nl + 1);
  }
}

SocketFollower::~SocketFollower() {
  close_fd();
}

void SocketFollower::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  split_.reset();
}

Result<void> SocketFollower::open() {
  close_fd();
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(a.sun_path))
    return make_error(fmt::format("control socket path too long: {}", path_));
  std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  fd_ = fd;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    int err = errno;
    close_fd();
    return make_error(fmt::format("cannot reach the sensor at {}: {} (is `rein run` running?)",
                                  path_, std::strerror(err)));
  }
  const std::string req = std::string(kSubscribeRequest) + "\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
    int err = errno;
    close_fd();
    return make_error(fmt::format("{}: {}", path_, std::strerror(err)));
  }
  // The reply line first; whatever follows it is already the stream.
  std::string got;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kGreetingTimeoutMs);
  size_t nl;
  while ((nl = got.find('\n')) == std::string::npos && got.size() < kMaxGreeting) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, int(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  if (nl == std::string::npos) {
    close_fd();
    return make_error(
        fmt::format("{}: no reply to subscribe (the sensor is too old or busy)", path_));
  }
  std::string greeting = got.substr(0, nl);
  if (greeting.rfind(R"({"ok":true)", 0) != 0) {
    close_fd();
    return make_error(
        fmt::format("{}: the sensor refused the subscription: {}", path_, greeting.substr(0, 300)));
  }
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    int err = errno;
    close_fd();
    return make_error(fmt::format("{}: {}", path_, std::strerror(err)));
  }
  leftover_ = got.substr(nl + 1);
  return {};
}

bool SocketFollower::poll(top::AgentBoard& board, size_t budget) {
  behind_ = false;
  if (fd_ < 0) {
    if (auto r = open(); !r) {
      status_ = "disconnected, retrying: " + r.error().message;
      return true;
    }
    reconnects_++;
  }
  if (!leftover_.empty()) {
    split_.feed(board, leftover_);
    leftover_.clear();
  }
  status_.clear();
  char buf[65536];
  size_t total = 0;
  while (true) {
    if (total >= budget) {
      behind_ = true;
      break;
    }
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {  // the sensor stopped (or dropped us): resubscribe on the next poll
      close_fd();
      status_ = "the sensor ended the subscription, reconnecting";
      return true;
    }
    total += size_t(n);
    split_.feed(board, std::string_view(buf, size_t(n)));
  }
  if (split_.sensor_dropped() > 0)
    status_ = fmt::format("{} lines dropped by the sensor (this view fell behind)",
                          split_.sensor_dropped());
  return true;
}

}  // namespace rein::cli
