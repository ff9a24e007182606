#include "process/path_normalize.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace {

using rein::process::join_path;
using rein::process::normalize_path;
using namespace std::string_literals;

TEST(ProcessPathNormalize, AlreadyNormal) {
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("/usr/bin/python3"), "/usr/bin/python3");
}

TEST(ProcessPathNormalize, EmptyIsRoot) { EXPECT_EQ(normalize_path(""), "/"); }

TEST(ProcessPathNormalize, RepeatedSlashes) {
  EXPECT_EQ(normalize_path("//"), "/");
  EXPECT_EQ(normalize_path("///etc//passwd"), "/etc/passwd");
  EXPECT_EQ(normalize_path("//tmp"), "/tmp");  // Linux gives "//" no special meaning
}

TEST(ProcessPathNormalize, TrailingSlashDropped) {
  EXPECT_EQ(normalize_path("/tmp/"), "/tmp");
  EXPECT_EQ(normalize_path("/tmp/dir///"), "/tmp/dir");
  EXPECT_EQ(normalize_path("/tmp/."), "/tmp");
  EXPECT_EQ(normalize_path("/tmp/./"), "/tmp");
}

TEST(ProcessPathNormalize, DotComponents) {
  EXPECT_EQ(normalize_path("/./a/./b/."), "/a/b");
  EXPECT_EQ(normalize_path("/."), "/");
}

TEST(ProcessPathNormalize, DotDot) {
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/b/.."), "/a");
  EXPECT_EQ(normalize_path("/a/b/../.."), "/");
  EXPECT_EQ(normalize_path("/a/b/c/../../d/../e"), "/a/e");
}

TEST(ProcessPathNormalize, DotDotNeverClimbsAboveRoot) {
  EXPECT_EQ(normalize_path("/.."), "/");
  EXPECT_EQ(normalize_path("/../../../etc/shadow"), "/etc/shadow");
  EXPECT_EQ(normalize_path("/a/../../../b"), "/b");
}

TEST(ProcessPathNormalize, DotLookalikesAreOrdinaryNames) {
  EXPECT_EQ(normalize_path("/a/.../b"), "/a/.../b");
  EXPECT_EQ(normalize_path("/a/..b/c"), "/a/..b/c");
  EXPECT_EQ(normalize_path("/a/b../c"), "/a/b../c");
  EXPECT_EQ(normalize_path("/a/.hidden/.."), "/a");
  EXPECT_EQ(normalize_path("/a/. /b"), "/a/. /b");
}

TEST(ProcessPathNormalize, ArbitraryBytesAreKept) {
  const std::string weird = "/tmp/\xff\xfe\n\x01/\0x/na\\me"s;
  EXPECT_EQ(normalize_path(weird), weird);
  // NUL is not a terminator here, and ".." after it still folds only its own component.
  EXPECT_EQ(normalize_path("/a/\0/.."s), "/a");
}

TEST(ProcessPathNormalize, RelativeInputTreatedAsFromRoot) {
  EXPECT_EQ(normalize_path("a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path(".."), "/");
}

TEST(ProcessPathJoin, RelativeTailFoldedOntoDir) {
  EXPECT_EQ(join_path("/home/u", "file.txt"), "/home/u/file.txt");
  EXPECT_EQ(join_path("/home/u/", "./a//b/"), "/home/u/a/b");
  EXPECT_EQ(join_path("/home/u", "../v/x"), "/home/v/x");
  EXPECT_EQ(join_path("/home/u", "../../../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(join_path("/", "x"), "/x");
}

TEST(ProcessPathJoin, AbsoluteRelWins) {
  EXPECT_EQ(join_path("/home/u", "/etc/./hosts"), "/etc/hosts");
  EXPECT_EQ(join_path("/home/u", "//etc"), "/etc");
}

TEST(ProcessPathJoin, EmptyParts) {
  EXPECT_EQ(join_path("/home/u", ""), "/home/u");
  EXPECT_EQ(join_path("", "x/y"), "/x/y");
  EXPECT_EQ(join_path("", ""), "/");
}

TEST(ProcessPathJoin, DotDotCanConsumeDirComponents) {
  // The tail's ".." folds into the kernel-supplied directory: lexical, by design.
  EXPECT_EQ(join_path("/proc/self/cwd/a/b", "../../.."), "/proc/self");
}

TEST(ProcessPathNormalize, HostileInputsStayLinear) {
  // Deep descent followed by as many "..": quadratic folding would take seconds here.
  std::string deep;
  std::string ups;
  for (int i = 0; i < 200000; ++i) {
    deep += "/d";
    ups += "/..";
  }
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(normalize_path(deep + ups + "/end"), "/end");
  EXPECT_EQ(join_path(deep, ups.substr(1) + "/x"), "/x");
  // A long run of slashes and dots.
  std::string slashes(1 << 20, '/');
  EXPECT_EQ(normalize_path(slashes + "a" + slashes), "/a");
  std::string dots;
  for (int i = 0; i < 300000; ++i) dots += "/.";
  EXPECT_EQ(normalize_path(dots), "/");
  // One huge component, repeatedly descended into and left.
  std::string big(1 << 16, 'x');
  std::string churn;
  for (int i = 0; i < 64; ++i) churn += "/" + big + "/..";
  EXPECT_EQ(normalize_path(churn), "/");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 5);
}

TEST(ProcessPathNormalize, Idempotent) {
  const char* samples[] = {"/a//b/./c/../d/", "/../x/./y//", "/", "/a/b/c", "//.//..//"};
  for (const char* s : samples) {
    const std::string once = normalize_path(s);
    EXPECT_EQ(normalize_path(once), once) << s;
  }
}

}  // namespace
