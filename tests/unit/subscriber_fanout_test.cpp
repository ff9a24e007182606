#include "sinks/subscriber_fanout.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace rein::sinks {
namespace {

struct MemorySink : LineSink {
  std::vector<std::string> lines;
  int flushes = 0;
  void write_line(std::string_view l) override { lines.emplace_back(l); }
  void flush() override { flushes++; }
};

// The test's end of a subscriber connection.
struct Peer {
  int mine = -1, theirs = -1;
  Peer() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    mine = sv[0];
    theirs = sv[1];
    int small = 4096;  // a slow client fills quickly
    setsockopt(theirs, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(mine, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  ~Peer() {
    if (mine >= 0) close(mine);
  }
  std::string read_all() {
    std::string out;
    char buf[65536];
    int fl = fcntl(mine, F_GETFL);
    fcntl(mine, F_SETFL, fl | O_NONBLOCK);
    ssize_t n;
    while ((n = read(mine, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    return out;
  }
};

TEST(SubscriberFanout, CopiesLinesToPrimaryAndSubscribers) {
  MemorySink file;
  SubscriberFanout f(file);
  f.write_line(R"({"type":"before"})");  // before the subscription: not sent
  Peer p;
  ASSERT_TRUE(f.add(p.theirs, R"({"ok":true})"));
  f.write_line(R"({"type":"a"})");
  f.write_line(R"({"type":"b"})");
  f.flush();
  EXPECT_EQ(file.lines.size(), 3u);
  EXPECT_GE(file.flushes, 1);
  EXPECT_EQ(p.read_all(), "{\"ok\":true}\n{\"type\":\"a\"}\n{\"type\":\"b\"}\n");
  EXPECT_EQ(f.clients(), 1u);
  EXPECT_EQ(f.dropped_lines(), 0u);
}

TEST(SubscriberFanout, FullQueueDropsLinesAndSaysSoWhereTheGapIs) {
  MemorySink file;
  SubscriberFanout f(file, FanoutLimits{8, 64 * 1024, 60'000'000'000ull});
  Peer p;
  ASSERT_TRUE(f.add(p.theirs, "{}"));
  const std::string line(1000, 'x');
  for (int i = 0; i < 500; i++) f.write_line(line);  // 500 KB into a 64 KiB queue, nobody reads
  EXPECT_EQ(file.lines.size(), 500u) << "the file never loses a line for a subscriber";
  EXPECT_GT(f.dropped_lines(), 0u);
  // The client catches up: the next line is preceded by the notice of what it missed.
  std::string got;
  for (int i = 0; i < 200; i++) {
    got += p.read_all();
    f.flush();
  }
  f.write_line(R"({"type":"after"})");
  for (int i = 0; i < 20; i++) {
    f.flush();
    got += p.read_all();
  }
  auto notice = got.find(R"({"type":"subscription.dropped","lines":)");
  ASSERT_NE(notice, std::string::npos);
  auto after = got.find(R"({"type":"after"})");
  ASSERT_NE(after, std::string::npos);
  EXPECT_LT(notice, after);
  uint64_t n = std::stoull(got.substr(notice + 39));
  EXPECT_EQ(n, f.dropped_lines());
  size_t delivered = 0;
  for (size_t at = 0; (at = got.find(line, at)) != std::string::npos; at += line.size())
    delivered++;
  EXPECT_EQ(delivered + n, 500u) << "every line is either delivered or counted";
}

TEST(SubscriberFanout, StalledClientIsDisconnectedWithoutBlocking) {
  MemorySink file;
  SubscriberFanout f(file, FanoutLimits{8, 1 << 20, 1});  // 1 ns of no progress: stalled
  Peer p;
  ASSERT_TRUE(f.add(p.theirs, "{}"));
  const std::string line(1000, 'y');
  for (int i = 0; i < 200; i++) f.write_line(line);  // more than the socket takes
  usleep(1000);
  f.flush();
  EXPECT_EQ(f.clients(), 0u);
  EXPECT_EQ(f.stalled_disconnects(), 1u);
}

TEST(SubscriberFanout, HungUpClientIsRemovedAndLimitHolds) {
  MemorySink file;
  SubscriberFanout f(file, FanoutLimits{1, 1 << 20, 60'000'000'000ull});
  {
    Peer p;
    ASSERT_TRUE(f.add(p.theirs, "{}"));
    Peer q;
    EXPECT_TRUE(f.full());
    EXPECT_FALSE(f.add(q.theirs, "{}"));  // closed, not kept
    char c;
    EXPECT_EQ(read(q.mine, &c, 1), 0);
  }  // p hangs up
  f.flush();
  EXPECT_EQ(f.clients(), 0u);
  EXPECT_EQ(f.stalled_disconnects(), 0u);
  f.write_line("{}");
  EXPECT_EQ(file.lines.size(), 1u);
}

}  // namespace
}  // namespace rein::sinks
