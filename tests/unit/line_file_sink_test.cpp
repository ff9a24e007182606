#include "sinks/line_file_sink.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace rein::sinks {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct TempPath {
  std::string dir, path;
  TempPath() {
    char t[] = "/tmp/rein-sink-XXXXXX";
    dir = mkdtemp(t);
    path = dir + "/events.jsonl";
  }
  ~TempPath() {
    unlink(path.c_str());
    unlink((path + ".1").c_str());
    rmdir(dir.c_str());
  }
};

TEST(LineFileSink, AppendsAcrossRestartsAndIsPrivate) {
  TempPath t;
  {
    auto s = LineFileSink::open(t.path);
    ASSERT_TRUE(s.ok());
    (*s)->write_line("one");
  }
  {
    auto s = LineFileSink::open(t.path);
    ASSERT_TRUE(s.ok());
    (*s)->write_line("two");
  }
  EXPECT_EQ(slurp(t.path), "one\ntwo\n");
  struct stat st {};
  ASSERT_EQ(stat(t.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(LineFileSink, ReopenFollowsLogRotation) {
  TempPath t;
  auto s = LineFileSink::open(t.path);
  ASSERT_TRUE(s.ok());
  (*s)->write_line("before");
  (*s)->flush();
  ASSERT_EQ(rename(t.path.c_str(), (t.path + ".1").c_str()), 0);
  (*s)->write_line("late");  // still the rotated file until reopen: nothing is lost
  ASSERT_TRUE((*s)->reopen().ok());
  (*s)->write_line("after");
  (*s)->flush();
  EXPECT_EQ(slurp(t.path + ".1"), "before\nlate\n");
  EXPECT_EQ(slurp(t.path), "after\n");
  EXPECT_EQ((*s)->write_errors(), 0u);
}

// A burst of events goes out in one write(2) at the flush, up to 64 KiB, before and after a
// reopen (glibc keeps a 4 KiB buffer unless it is handed one).
TEST(LineFileSink, BuffersUpTo64KiBUntilFlush) {
  TempPath t;
  auto s = LineFileSink::open(t.path);
  ASSERT_TRUE(s.ok());
  const std::string line(999, 'x');  // 1000 bytes with its newline
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 60; i++) (*s)->write_line(line);
    EXPECT_EQ(slurp(t.path).size(), 0u) << "round " << round;
    (*s)->flush();
    EXPECT_EQ(slurp(t.path).size(), 60'000u) << "round " << round;
    ASSERT_EQ(unlink(t.path.c_str()), 0);
    ASSERT_TRUE((*s)->reopen().ok());
  }
  EXPECT_EQ((*s)->write_errors(), 0u);
}

TEST(LineFileSink, WriteErrorsAreCounted) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full here";
  auto s = LineFileSink::open("/dev/full");
  ASSERT_TRUE(s.ok());
  (*s)->write_line(std::string(100000, 'x'));
  (*s)->flush();
  EXPECT_GT((*s)->write_errors(), 0u);
}

TEST(LineFileSink, UnopenablePathIsAClearError) {
  auto s = LineFileSink::open("/nonexistent-dir-rein/x.jsonl");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("--output /nonexistent-dir-rein/x.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace rein::sinks
