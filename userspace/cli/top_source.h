// Where `rein top` reads event lines from: the --output file (top_command.cpp's Follower) or
// a subscription on the running sensor's control socket (SocketFollower).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "top/agent_board.h"

namespace rein::cli {

class TopSource {
 public:
  virtual ~TopSource() = default;
  // Feeds what has arrived (at most about `budget` bytes) to the board. False on an error
  // that ends `rein top` (error() says which).
  virtual bool poll(top::AgentBoard& board, size_t budget) = 0;
  // Shown in the header while something is wrong but recoverable; empty otherwise.
  virtual const std::string& status() const = 0;
  virtual const std::string& error() const = 0;
  // The last poll stopped at its budget: there is more to read right away.
  virtual bool behind() const = 0;
};

// Splits a byte stream into lines for the board; a line over top::kMaxLineBytes is counted
// as skipped, never buffered whole. With `sensor_notices` (a control-socket stream) the
// sensor's "subscription.dropped" notices are counted instead of fed; an --output file
// has none, so there every line goes to the board.
class LineSplitter {
 public:
  explicit LineSplitter(bool sensor_notices) : sensor_notices_(sensor_notices) {}
  void feed(top::AgentBoard& board, std::string_view chunk);
  void reset() {
    partial_.clear();
    discarding_ = false;
  }
  // Lines the sensor could not queue for this subscriber ("subscription.dropped" notices).
  uint64_t sensor_dropped() const { return sensor_dropped_; }

 private:
  void line(top::AgentBoard& board, std::string_view l);
  bool sensor_notices_;
  std::string partial_;
  bool discarding_ = false;
  uint64_t sensor_dropped_ = 0;
};

// `subscribe` on the control socket: every line the sensor writes from the moment of the
// subscription. A closed stream (the sensor restarted) is reconnected on the next poll.
class SocketFollower : public TopSource {
 public:
  explicit SocketFollower(std::string path) : path_(std::move(path)) {}
  ~SocketFollower() override;
  SocketFollower(const SocketFollower&) = delete;
  SocketFollower& operator=(const SocketFollower&) = delete;

  // Connects and subscribes; the error names the socket (and that the sensor may not run).
  Result<void> open();
  bool poll(top::AgentBoard& board, size_t budget) override;
  const std::string& status() const override { return status_; }
  const std::string& error() const override { return error_; }
  bool behind() const override { return behind_; }
  uint64_t sensor_dropped() const { return split_.sensor_dropped(); }
  uint64_t reconnects() const { return reconnects_; }

 private:
  void close_fd();
  std::string path_;
  int fd_ = -1;
  LineSplitter split_{/*sensor_notices=*/true};
  std::string leftover_;  // stream bytes that came with the reply line
  std::string status_, error_;
  bool behind_ = false;
  uint64_t reconnects_ = 0;
};

}  // namespace rein::cli
