#include "sinks/subscriber_fanout.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace rein::sinks {

namespace {
// Sent as soon as this much waits, not only at the loop's flush: under a burst the socket
// drains while the loop works, instead of the queue filling between two flushes.
constexpr size_t kEagerSendBytes = size_t{64} << 10;

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}
}  // namespace

SubscriberFanout::SubscriberFanout(LineSink& primary, FanoutLimits limits)
    : primary_(primary), limits_(limits) {}

SubscriberFanout::~SubscriberFanout() {
  for (auto& c : clients_) ::close(c.fd);
}

bool SubscriberFanout::add(int fd, std::string_view greeting) {
  if (clients_.size() >= limits_.max_clients) {
    ::close(fd);
    return false;
  }
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    ::close(fd);
    return false;
  }
  Client c;
  c.fd = fd;
  c.last_progress_ns = now_ns();
  c.queue.reserve(greeting.size() + 1);
  c.queue.append(greeting);
  c.queue += '\n';
  clients_.push_back(std::move(c));
  if (!pump(clients_.back(), now_ns())) {
    ::close(fd);
    clients_.pop_back();
  }
  return true;
}

void SubscriberFanout::enqueue(Client& c, std::string_view line, size_t max_bytes,
                               uint64_t& dropped_total) {
  const size_t used = c.queue.size() - c.sent;
  if (c.dropped > 0) {
    // The notice goes where the gap is, before the first line that fits again.
    std::string notice = fmt::format(R"({{"type":"subscription.dropped","lines":{}}})", c.dropped);
    if (used + notice.size() + 1 + line.size() + 1 > max_bytes) {
      c.dropped++;
      dropped_total++;
      return;
    }
    c.queue += notice;
    c.queue += '\n';
    c.dropped = 0;
  } else if (used + line.size() + 1 > max_bytes) {
    c.dropped++;
    dropped_total++;
    return;
  }
  c.queue.append(line);
  c.queue += '\n';
}

void SubscriberFanout::write_line(std::string_view line) {
  primary_.write_line(line);
  if (clients_.empty()) return;
  bool eager = false;
  for (auto& c : clients_) {
    if (c.dead) continue;
    enqueue(c, line, limits_.max_queue_bytes, dropped_total_);
    eager |= c.queue.size() - c.sent >= kEagerSendBytes;
  }
  if (!eager) return;
  const uint64_t now = now_ns();
  for (auto& c : clients_)
    if (!c.dead && c.queue.size() - c.sent >= kEagerSendBytes) c.dead = !pump(c, now);
}

bool SubscriberFanout::pump(Client& c, uint64_t now) {
  if (c.dead) return false;
  while (c.sent < c.queue.size()) {
    ssize_t n =
        ::send(c.fd, c.queue.data() + c.sent, c.queue.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += size_t(n);
      c.last_progress_ns = now;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;  // the peer is gone
  }
  if (c.sent == c.queue.size()) {
    c.queue.clear();
    c.sent = 0;
    c.last_progress_ns = now;  // nothing waits: no stall to measure
  } else if (c.sent >= kEagerSendBytes) {
    c.queue.erase(0, c.sent);  // keeps the buffer near max_queue_bytes
    c.sent = 0;
  }
  if (c.queue.size() > c.sent && now - c.last_progress_ns > limits_.stall_ns) {
    stalled_total_++;
    return false;
  }
  return true;
}

void SubscriberFanout::flush() {
  primary_.flush();
  if (clients_.empty()) return;
  const uint64_t now = now_ns();
  for (size_t i = 0; i < clients_.size();) {
    Client& c = clients_[i];
    // A subscriber sends nothing after `subscribe`: end of stream means it hung up (an
    // idle one is otherwise only noticed when a send fails).
    char buf[256];
    ssize_t r = -1;
    for (int reads = 0; reads < 16; reads++)  // bounded: a chatty client cannot hold the loop
      if ((r = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) <= 0) break;
    bool gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    if (gone || !pump(c, now)) {
      ::close(c.fd);
      clients_.erase(clients_.begin() + std::ptrdiff_t(i));
      continue;
    }
    i++;
  }
}

}  // namespace rein::sinks
