#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "process/pidfd.h"

namespace {
uint64_t boot_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

pid_t sleeper() {
  pid_t c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  return c;
}
}  // namespace

TEST(ProcessPidfd, SignalsTheProcessItWasOpenedFor) {
  pid_t c = sleeper();
  ASSERT_GT(c, 0);
  auto st = rein::process::proc_state(uint32_t(c));
  ASSERT_TRUE(st);
  auto p = rein::process::Pidfd::open_exact(uint32_t(c), st->start_ticks);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->alive());
  EXPECT_EQ(p->start_ticks(), st->start_ticks);
  ASSERT_TRUE(p->send(SIGKILL));
  int status = 0;
  ASSERT_EQ(waitpid(c, &status, 0), c);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(p->alive());
  EXPECT_FALSE(p->send(SIGKILL));  // reaped: whoever gets the pid next is never hit
}

TEST(ProcessPidfd, RefusesAProcessThatIsNotTheOneSeen) {
  uint64_t before = boot_ns();
  timespec gap{0, 30'000'000};  // more than one clock tick (10 ms) before the child starts
  nanosleep(&gap, nullptr);
  pid_t c = sleeper();
  ASSERT_GT(c, 0);
  // Seen before it existed: a pid reused since then must be refused.
  EXPECT_FALSE(rein::process::Pidfd::open_seen(uint32_t(c), before));
  EXPECT_TRUE(rein::process::Pidfd::open_seen(uint32_t(c), boot_ns()));
  auto st = rein::process::proc_state(uint32_t(c));
  ASSERT_TRUE(st);
  EXPECT_FALSE(rein::process::Pidfd::open_exact(uint32_t(c), st->start_ticks + 1));
  kill(c, SIGKILL);
  waitpid(c, nullptr, 0);
  EXPECT_FALSE(rein::process::Pidfd::open_exact(uint32_t(c), st->start_ticks));
  EXPECT_FALSE(rein::process::Pidfd::open_seen(1, 0));  // init: never
}

TEST(ProcessPidfd, MovesOwnership) {
  pid_t c = sleeper();
  auto p = rein::process::Pidfd::open_seen(uint32_t(c), 0);
  ASSERT_TRUE(p);
  rein::process::Pidfd q = std::move(*p);
  EXPECT_EQ(p->fd(), -1);
  EXPECT_TRUE(q.alive());
  EXPECT_TRUE(q.send(SIGKILL));
  waitpid(c, nullptr, 0);
}
