// ControlServer::serve_pending's takeover: a `subscribe` connection stays open and belongs to
// the taker; every other request keeps the one-reply-then-close behaviour.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "enforce/control_socket.h"

namespace {

using rein::enforce::ControlServer;

int connect_and_send(const std::string& path, const std::string& line) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(write(fd, line.data(), line.size()), ssize_t(line.size()));
  return fd;
}

// Everything the peer sends until it closes or 2 s pass.
std::string read_until_close(int fd) {
  std::string out;
  char buf[256];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

TEST(ControlSocketTakeover, SubscribeKeepsTheConnectionOthersAreAnswered) {
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/rein_ctl_take_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, path = dir + "/control.sock";
  {
    auto server = ControlServer::listen(path);
    ASSERT_TRUE(server) << server.error().message;
    int kept = -1;
    auto handler = [](const std::string& req) { return std::string("reply to ") + req; };
    auto takeover = [&kept](const std::string& req, int fd) {
      if (req != "subscribe") return false;
      kept = fd;
      return true;
    };
    int sub = connect_and_send(path, "subscribe\n");
    int other = connect_and_send(path, "holds\n");
    int served = 0;
    for (int i = 0; i < 200 && served < 2; i++) {
      served += server->serve_pending(handler, takeover);
      usleep(5000);
    }
    EXPECT_EQ(served, 2);
    EXPECT_EQ(read_until_close(other), "reply to holds\n");
    ASSERT_GE(kept, 0);
    // The taker owns the connection: it is still open and carries what the taker sends.
    ASSERT_EQ(write(kept, "line\n", 5), 5);
    char buf[16] = {};
    pollfd p{sub, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 2000), 1);
    EXPECT_EQ(read(sub, buf, sizeof buf), 5);
    EXPECT_STREQ(buf, "line\n");
    close(kept);
    EXPECT_EQ(read_until_close(sub), "");
    close(sub);
    close(other);
  }
  rmdir(dir.c_str());
}

}  // namespace
