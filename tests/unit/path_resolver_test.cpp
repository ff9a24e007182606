#include "process/path_resolver.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using rein::process::DirId;
using rein::process::last_components;
using rein::process::path_is_indirect;
using rein::process::resolve_in_root;

DirId id_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return {st.st_dev, st.st_ino};
}

// DIR/prot (protected) and DIR/work/link -> DIR/prot, the shape of issue 8's evasion.
class PathResolver : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::canonical(tmp.path()).string();
    fs::create_directories(dir + "/prot/sub");
    fs::create_directories(dir + "/work/a/b");
    fs::create_symlink(dir + "/prot", dir + "/work/link");
    fs::create_symlink("../../prot", dir + "/work/a/rel");
  }
  rein::testutil::TempDir tmp{"rein_resolver"};
  std::string dir;
  uint32_t me = static_cast<uint32_t>(getpid());
};

TEST_F(PathResolver, SymlinkedDirectoryGivesTheRealParent) {
  auto r = resolve_in_root("/", me, dir + "/work/link/authorized_keys");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/authorized_keys");
  ASSERT_FALSE(r->ancestors.empty());
  EXPECT_EQ(r->ancestors[0], id_of(dir + "/prot"));
  EXPECT_EQ(r->ancestors[1], id_of(dir));
}

TEST_F(PathResolver, RelativeSymlinkDotDotAndDoubleSlash) {
  auto r = resolve_in_root("/", me, dir + "/work/a/rel/sub/x");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/sub/x");
  r = resolve_in_root("/", me, dir + "/work/a/b/../../../prot/./y");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/y");
  r = resolve_in_root("/", me, "/" + dir + "//prot//z");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/z");
}

TEST_F(PathResolver, LastComponentIsNotFollowed) {
  // unlink("work/link") removes the link itself, not what it points to
  auto r = resolve_in_root("/", me, dir + "/work/link");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/work/link");
  EXPECT_EQ(r->ancestors[0], id_of(dir + "/work"));
}

TEST_F(PathResolver, FollowingOpsGetWhatTheLastLinkNames) {
  // chmod("work/key") with key -> ../prot/k changes prot/k
  fs::create_symlink("../prot/k", dir + "/work/key");
  fs::create_symlink(dir + "/work/key", dir + "/work/key2");  // a chain
  auto r = resolve_in_root("/", me, dir + "/work/key", 64, true);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/k");
  EXPECT_EQ(r->ancestors[0], id_of(dir + "/prot"));
  r = resolve_in_root("/", me, dir + "/work/key2", 64, true);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/k");
  fs::create_symlink("loop", dir + "/work/loop");
  EXPECT_FALSE(resolve_in_root("/", me, dir + "/work/loop", 64, true));
}

TEST_F(PathResolver, DirectoryItselfAndTrailingSlash) {
  auto r = resolve_in_root("/", me, dir + "/work/link/sub/..");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot");
  r = resolve_in_root("/", me, dir + "/work/link/newdir/");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/newdir");
}

TEST_F(PathResolver, ProcSelfIsTheProcessNotTheResolver) {
  auto r = resolve_in_root("/", me, "/proc/self/root" + dir + "/work/link/k");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/prot/k");
}

TEST_F(PathResolver, ResolvesInsideTheGivenRoot) {
  // an absolute symlink inside a chroot-like root means that root's /prot, not the host's
  fs::create_directories(dir + "/jail/prot");
  fs::create_symlink("/prot", dir + "/jail/l");
  auto r = resolve_in_root(dir + "/jail", me, "/l/f");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/jail/prot/f");
  r = resolve_in_root(dir + "/jail", me, "/../../../../prot/f");  // ".." stops at the root
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->path, dir + "/jail/prot/f");
}

TEST_F(PathResolver, MissingParentIsAnError) {
  EXPECT_FALSE(resolve_in_root("/", me, dir + "/nope/x"));
  EXPECT_FALSE(resolve_in_root("/", me, "relative/x"));
}

TEST(PathResolverText, IndirectPaths) {
  EXPECT_FALSE(path_is_indirect("file"));
  EXPECT_FALSE(path_is_indirect("dir/"));
  EXPECT_FALSE(path_is_indirect("/abs"));
  EXPECT_TRUE(path_is_indirect("work/link/authorized_keys"));
  EXPECT_TRUE(path_is_indirect("/srv/prot/x"));
  EXPECT_TRUE(path_is_indirect(".."));
  EXPECT_TRUE(path_is_indirect("./x"));
  EXPECT_TRUE(path_is_indirect("//x"));
  EXPECT_TRUE(path_is_indirect("/proc/self/root/x"));
}

TEST(PathResolverText, LastComponents) {
  EXPECT_EQ(last_components("/a/b/c", 1), "c");
  EXPECT_EQ(last_components("/a/b/c", 2), "b/c");
  EXPECT_EQ(last_components("/a/b/c", 9), "a/b/c");
  EXPECT_EQ(last_components("/a/b/c/", 1), "c");
}

}  // namespace
