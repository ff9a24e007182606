#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "enforce/control_socket.h"

using rein::enforce::ControlServer;
using rein::enforce::control_request;

namespace {

class EnforceControlSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as `rein run` does: a client that hangs up is no crash
    char tmpl[] = "/tmp/rein_ctl_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/control.sock";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir((dir_ + "/run").c_str());
    rmdir(dir_.c_str());
  }

  // Runs control_request on a thread and serves until it returns or 5 s pass.
  rein::Result<std::string> round_trip(ControlServer& server, const std::string& request,
                                       const ControlServer::Handler& handler) {
    std::atomic<bool> done{false};
    rein::Result<std::string> reply = rein::make_error("not run");
    std::thread client([&] {
      reply = control_request(server.path(), request);
      done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      server.serve_pending(handler);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    client.join();
    return reply;
  }

  std::string dir_;
  std::string path_;
};

int connect_raw(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TEST_F(EnforceControlSocket, ListenCreatesPrivateSocket) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok()) << server.error().message;
  EXPECT_EQ(server->path(), path_);
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  struct stat dst {};
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &dst), 0);
  EXPECT_EQ(dst.st_mode & 0077, 0u);  // nobody but the owner can reach the socket
  // Nothing waiting: returns at once.
  EXPECT_EQ(server->serve_pending([](const std::string&) { return std::string("x"); }), 0);
}

TEST_F(EnforceControlSocket, ReplacesAStaleSocketAndRemovesItOnDestruction) {
  {
    auto first = ControlServer::listen(path_);
    ASSERT_TRUE(first.ok());
    // A second listener on the same path (a restart after a crash) takes it over.
    auto second = ControlServer::listen(path_);
    ASSERT_TRUE(second.ok()) << second.error().message;
    auto moved = std::move(*second);
    auto reply = round_trip(moved, "holds", [](const std::string& r) { return "re:" + r; });
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(*reply, "re:holds");
  }
  struct stat st {};
  EXPECT_NE(stat(path_.c_str(), &st), 0);
}

TEST_F(EnforceControlSocket, RequestReplyRoundTrip) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  std::string seen;
  auto reply = round_trip(*server, "approve 12", [&](const std::string& req) {
    seen = req;
    return std::string(R"({"ok":true,"id":12})");
  });
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, R"({"ok":true,"id":12})");
  EXPECT_EQ(seen, "approve 12");

  // A multi-line reply is cut at the first line by the client.
  reply = round_trip(*server, "holds", [](const std::string&) { return std::string("one\ntwo"); });
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply, "one");
}

TEST_F(EnforceControlSocket, NoServerIsAnError) {
  auto r = control_request(path_, "holds");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path_), std::string::npos) << r.error().message;
}

TEST_F(EnforceControlSocket, TooLongPathIsAnError) {
  std::string long_path = "/tmp/" + std::string(200, 'a') + "/c.sock";
  auto s = ControlServer::listen(long_path);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("too long"), std::string::npos) << s.error().message;
  auto r = control_request(long_path, "holds");
  EXPECT_FALSE(r.ok());
  // sun_path holds 108 bytes including the NUL: 107 is the longest that fits.
  std::string edge = "/tmp/" + std::string(sizeof(sockaddr_un::sun_path) - 5, 'b');
  ASSERT_EQ(edge.size(), sizeof(sockaddr_un::sun_path));
  EXPECT_FALSE(ControlServer::listen(edge).ok());
}

TEST_F(EnforceControlSocket, BareFileNameIsInTheCurrentDirectory) {
  char old_cwd[4096];
  ASSERT_NE(getcwd(old_cwd, sizeof(old_cwd)), nullptr);
  ASSERT_EQ(mkdir((dir_ + "/run").c_str(), 0700), 0);
  ASSERT_EQ(chdir((dir_ + "/run").c_str()), 0);
  {
    auto server = ControlServer::listen("control.sock");
    EXPECT_TRUE(server.ok()) << server.error().message;
    struct stat st {};
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));  // not a directory of that name
  }
  ASSERT_EQ(chdir(old_cwd), 0);
}

TEST_F(EnforceControlSocket, LongRequestsAreCut) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  std::string seen;
  auto reply = round_trip(*server, std::string(100000, 'x'), [&](const std::string& req) {
    seen = req;
    return std::string("cut");
  });
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(*reply, "cut");
  EXPECT_FALSE(seen.empty());
  EXPECT_LT(seen.size(), 1024u);
  EXPECT_EQ(seen.find_first_not_of('x'), std::string::npos);
}

TEST_F(EnforceControlSocket, ClientsThatMisbehaveDoNotBreakTheServer) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  int calls = 0;
  auto handler = [&](const std::string& req) {
    calls++;
    return "re:" + req;
  };
  // Hangs up at once, without a request.
  int a = connect_raw(path_);
  ASSERT_GE(a, 0);
  close(a);
  // Sends a request and hangs up before the reply.
  int b = connect_raw(path_);
  ASSERT_GE(b, 0);
  ASSERT_EQ(write(b, "holds\n", 6), 6);
  close(b);
  // Sends a request without a newline and then half-closes.
  int c = connect_raw(path_);
  ASSERT_GE(c, 0);
  ASSERT_EQ(write(c, "holds", 5), 5);
  shutdown(c, SHUT_WR);
  EXPECT_EQ(server->serve_pending(handler), 3);
  EXPECT_EQ(calls, 3);
  char buf[64] = {};
  ssize_t n = read(c, buf, sizeof(buf) - 1);
  close(c);
  EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "re:holds\n");

  // Still serving afterwards.
  auto reply = round_trip(*server, "holds", handler);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply, "re:holds");
}

TEST_F(EnforceControlSocket, ServesRootPeers) {
  // The tests run as root, so the SO_PEERCRED check passes; refusal of other users is
  // covered end to end.
  ASSERT_EQ(geteuid(), 0u);
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  auto reply = round_trip(*server, "holds", [](const std::string&) { return std::string("{\"ok\":true}"); });
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->find("permission denied"), std::string::npos);
  EXPECT_EQ(*reply, "{\"ok\":true}");
}

namespace {
// A stale socket of an earlier run is replaced; a file that is not a socket is the user's
// (a mistyped --control-socket path) and is neither deleted nor used.
TEST_F(EnforceControlSocket, OnlyAStaleSocketIsReplaced) {
  ASSERT_EQ(mkdir((dir_ + "/run").c_str(), 0700), 0);
  {
    FILE* f = fopen(path_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("important\n", f);
    fclose(f);
  }
  auto refused = ControlServer::listen(path_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("exists and is not a socket"), std::string::npos)
      << refused.error().message;
  struct stat st{};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  unlink(path_.c_str());
  // a socket file as a crashed run leaves it: the next run takes its place
  int stale = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path_.c_str(), sizeof(a.sun_path) - 1);
  ASSERT_EQ(bind(stale, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  close(stale);
  auto second = ControlServer::listen(path_);
  EXPECT_TRUE(second.ok()) << second.error().message;
}
}  // namespace
