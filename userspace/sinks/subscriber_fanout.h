// Lines to the output sink and, copied, to live subscribers (`rein top --socket`): clients
// that sent `subscribe` on the control socket. The sensor never waits for a subscriber:
// each has a bounded queue, sent without blocking when the event loop flushes; a line that
// does not fit is dropped for that client and counted, and the client is told how many
// were lost by a `subscription.dropped` line in the stream where the gap is. A client that
// takes nothing for stall_ns while lines wait, or hangs up, is disconnected.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/line_sink.h"

namespace rein::sinks {

struct FanoutLimits {
  size_t max_clients = 8;
  size_t max_queue_bytes = size_t{4} << 20;  // per client
  uint64_t stall_ns = 30'000'000'000;        // no progress while lines wait: disconnected
};

class SubscriberFanout : public LineSink {
 public:
  explicit SubscriberFanout(LineSink& primary, FanoutLimits limits = {});
  SubscriberFanout(const SubscriberFanout&) = delete;
  SubscriberFanout& operator=(const SubscriberFanout&) = delete;
  ~SubscriberFanout() override;

  // Takes the connected socket (closed here in every case). `greeting` is the first line the
  // client gets. False when max_clients are already subscribed (the fd is closed unsent).
  bool add(int fd, std::string_view greeting);

  void write_line(std::string_view line) override;
  // Flushes the primary sink, then sends what each client's socket takes now.
  void flush() override;
  uint64_t write_errors() const override { return primary_.write_errors(); }

  size_t clients() const { return clients_.size(); }
  bool full() const { return clients_.size() >= limits_.max_clients; }
  // Lines a subscriber lost because its queue was full (all clients, ever).
  uint64_t dropped_lines() const { return dropped_total_; }
  // Clients disconnected for being stalled (not for hanging up).
  uint64_t stalled_disconnects() const { return stalled_total_; }

 private:
  struct Client {
    int fd = -1;
    std::string queue;  // whole lines, oldest first; sent from `sent`
    size_t sent = 0;
    uint64_t dropped = 0;  // lines lost since the last subscription.dropped notice
    uint64_t last_progress_ns = 0;
    bool dead = false;  // to be removed at the next flush
  };
  // False when the client must go (hung up, a send error, stalled).
  bool pump(Client& c, uint64_t now_ns);
  static void enqueue(Client& c, std::string_view line, size_t max_bytes, uint64_t& dropped_total);

  LineSink& primary_;
  FanoutLimits limits_;
  std::vector<Client> clients_;
  uint64_t dropped_total_ = 0, stalled_total_ = 0;
};

}  // namespace rein::sinks
