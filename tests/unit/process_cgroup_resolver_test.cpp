#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "temp_dir.h"
#include "process/cgroup_resolver.h"

namespace rein::process {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMs = 1'000'000;

class TempDir : public rein::testutil::TempDir {
 public:
  TempDir() : rein::testutil::TempDir("rein_cgroup") {}
};

uint64_t ino(const std::string& path) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0) return 0;
  return static_cast<uint64_t>(sb.st_ino);
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// A temp dir posing as the cgroup2 mount, announced by a fake mounts file, with a clock the
// test drives.
struct FakeCgroupFs {
  TempDir dir;
  std::string root = dir.path() + "/cg";
  std::string mounts = dir.path() + "/mounts";
  uint64_t now = 1'000 * kMs;

  FakeCgroupFs() {
    fs::create_directories(root + "/system.slice/ssh.service");
    fs::create_directories(root + "/user.slice/user-1000.slice/session-1.scope");
    fs::create_directories(root + "/agents/claude");
    write_file(root + "/cgroup.procs", "1\n");  // files are not cgroups
    write_file(mounts,
               "proc /proc proc rw 0 0\n"
               "tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
               "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
               "cgroup2 " +
                   root + " cgroup2 rw,nsdelegate 0 0\n");
  }
  CgroupResolver make(CgroupResolver::Options o = {}) {
    o.now_ns = [this] { return now; };
    auto r = CgroupResolver::create(mounts, std::move(o));
    if (!r.ok()) ADD_FAILURE() << r.error().message;
    return std::move(r).value();
  }
};

TEST(ProcessCgroupResolver, FindsCgroup2MountLine) {
  EXPECT_EQ(find_cgroup2_mount("cgroup /sys/fs/cgroup/pids cgroup rw 0 0\n"
                               "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n"),
            "/sys/fs/cgroup/unified");
  EXPECT_EQ(find_cgroup2_mount("cgroup2 /sys/fs/cgroup cgroup2 rw 0 0"), "/sys/fs/cgroup");
  EXPECT_EQ(find_cgroup2_mount("none /my\\040cg\\134x cgroup2 rw 0 0\n"), "/my cg\\x");
  EXPECT_EQ(find_cgroup2_mount("a /first cgroup2 rw 0 0\nb /second cgroup2 rw 0 0\n"), "/first");
  // A directory named "cgroup2" on some other filesystem is not the mount.
  EXPECT_FALSE(find_cgroup2_mount("cgroup2 /mnt/cgroup2 ext4 rw 0 0\n"));
  EXPECT_FALSE(find_cgroup2_mount("cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"));
  EXPECT_FALSE(find_cgroup2_mount("cgroup2 cgroup2\n\n   \n"));
  EXPECT_FALSE(find_cgroup2_mount("x relative cgroup2 rw 0 0\n"));
  EXPECT_FALSE(find_cgroup2_mount("x /trailing\\ cgroup2fs rw 0 0\n"));
  EXPECT_FALSE(find_cgroup2_mount(""));
  EXPECT_EQ(find_cgroup2_mount("x /esc\\ cgroup2 rw 0 0"), "/esc\\");    // incomplete escape
  EXPECT_EQ(find_cgroup2_mount("x /e\\999 cgroup2 rw 0 0"), "/e\\999");  // not octal
}

TEST(ProcessCgroupResolver, CreateErrors) {
  TempDir d;
  EXPECT_FALSE(CgroupResolver::create(d.path() + "/missing").ok());
  write_file(d.path() + "/m1", "cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n");
  auto no_v2 = CgroupResolver::create(d.path() + "/m1");
  ASSERT_FALSE(no_v2.ok());
  EXPECT_NE(no_v2.error().message.find("no cgroup2"), std::string::npos);
  write_file(d.path() + "/m2", "cgroup2 " + d.path() + "/nope cgroup2 rw 0 0\n");
  EXPECT_FALSE(CgroupResolver::create(d.path() + "/m2").ok());
  write_file(d.path() + "/m3", "cgroup2 " + d.path() + "/m1 cgroup2 rw 0 0\n");  // a file
  EXPECT_FALSE(CgroupResolver::create(d.path() + "/m3").ok());
}

TEST(ProcessCgroupResolver, MountPointComesFromMountsFile) {
  FakeCgroupFs f;
  auto r = f.make();
  EXPECT_EQ(r.mount_point(), f.root);
}

TEST(ProcessCgroupResolver, MapsIdsToRelativePaths) {
  FakeCgroupFs f;
  auto r = f.make();
  EXPECT_EQ(r.path_for_id(ino(f.root)), "/");
  EXPECT_EQ(r.path_for_id(ino(f.root + "/user.slice/user-1000.slice/session-1.scope")),
            "/user.slice/user-1000.slice/session-1.scope");
  EXPECT_EQ(r.path_for_id(ino(f.root + "/agents/claude")), "/agents/claude");
  EXPECT_EQ(r.path_for_id(ino(f.root + "/system.slice")), "/system.slice");
  EXPECT_FALSE(r.path_for_id(ino(f.root + "/cgroup.procs")));  // a file's inode
  EXPECT_EQ(r.walks(), 1u);                                    // one walk answered every id
}

TEST(ProcessCgroupResolver, IdForPathAcceptsAbsoluteAndRelativeForms) {
  FakeCgroupFs f;
  auto r = f.make();
  const uint64_t want = ino(f.root + "/agents/claude");
  ASSERT_NE(want, 0u);
  EXPECT_EQ(r.id_for_path("/agents/claude"), want);
  EXPECT_EQ(r.id_for_path("agents/claude"), want);
  EXPECT_EQ(r.id_for_path("/agents//claude/"), want);
  EXPECT_EQ(r.id_for_path("./agents/./claude"), want);
  EXPECT_EQ(r.id_for_path(f.root + "/agents/claude"), want);
  EXPECT_EQ(r.id_for_path("/"), ino(f.root));
  EXPECT_EQ(r.id_for_path(""), ino(f.root));
  EXPECT_EQ(r.id_for_path(f.root), ino(f.root));
  // Resolving a path also teaches the reverse map without a walk.
  EXPECT_EQ(r.path_for_id(want), "/agents/claude");
  EXPECT_EQ(r.walks(), 0u);
}

TEST(ProcessCgroupResolver, IdForPathRefusesEscapesAndNonCgroups) {
  FakeCgroupFs f;
  auto r = f.make();
  fs::create_directories(f.dir.path() + "/outside");
  fs::create_directory_symlink(f.dir.path() + "/outside", f.root + "/link");
  EXPECT_FALSE(r.id_for_path("/agents/../system.slice"));
  EXPECT_FALSE(r.id_for_path("/.."));
  EXPECT_FALSE(r.id_for_path("../outside"));
  EXPECT_FALSE(r.id_for_path("/link"));
  EXPECT_FALSE(r.id_for_path("/cgroup.procs"));
  EXPECT_FALSE(r.id_for_path("/does/not/exist"));
  // The mount prefix only counts at a component boundary: "<root>x" is not under the mount.
  EXPECT_FALSE(r.id_for_path(f.root + "x"));
  fs::create_directories(f.root + "/" + f.root + "x");
  EXPECT_EQ(r.id_for_path(f.root + "x"), ino(f.root + "/" + f.root + "x"));
}

TEST(ProcessCgroupResolver, WalkDoesNotFollowSymlinks) {
  FakeCgroupFs f;
  fs::create_directories(f.dir.path() + "/outside/inner");
  fs::create_directory_symlink(f.dir.path() + "/outside", f.root + "/link");
  auto r = f.make();
  EXPECT_FALSE(r.path_for_id(ino(f.dir.path() + "/outside")));
  EXPECT_FALSE(r.path_for_id(ino(f.dir.path() + "/outside/inner")));
}

TEST(ProcessCgroupResolver, WalksAreRateLimited) {
  FakeCgroupFs f;
  auto r = f.make();
  ASSERT_TRUE(r.path_for_id(ino(f.root + "/agents")));
  EXPECT_EQ(r.walks(), 1u);

  fs::create_directories(f.root + "/agents/new-one");
  const uint64_t id = ino(f.root + "/agents/new-one");
  EXPECT_FALSE(r.path_for_id(id));  // walked just now: not again
  f.now += 199 * kMs;
  EXPECT_FALSE(r.path_for_id(id));
  EXPECT_EQ(r.walks(), 1u);
  f.now += 1 * kMs;
  EXPECT_EQ(r.path_for_id(id), "/agents/new-one");
  EXPECT_EQ(r.walks(), 2u);
  EXPECT_EQ(r.path_for_id(id), "/agents/new-one");  // cached
  EXPECT_EQ(r.walks(), 2u);
}

TEST(ProcessCgroupResolver, MissAfterWalkIsCachedForAWhile) {
  FakeCgroupFs f;
  CgroupResolver::Options o;
  o.negative_ttl_ns = 1'000 * kMs;
  auto r = f.make(o);
  const uint64_t bogus = 0xdeadbeefcafeull;
  EXPECT_FALSE(r.path_for_id(bogus));
  EXPECT_EQ(r.walks(), 1u);
  f.now += 500 * kMs;  // past the walk interval but within the negative TTL
  EXPECT_FALSE(r.path_for_id(bogus));
  EXPECT_EQ(r.walks(), 1u);
  f.now += 600 * kMs;
  EXPECT_FALSE(r.path_for_id(bogus));
  EXPECT_EQ(r.walks(), 2u);
}

TEST(ProcessCgroupResolver, PathLookupOverridesNegativeEntry) {
  FakeCgroupFs f;
  CgroupResolver::Options o;
  o.walk_max_dirs = 1;  // the walk sees only the root, so every other id misses
  auto r = f.make(o);
  const uint64_t id = ino(f.root + "/agents/claude");
  EXPECT_FALSE(r.path_for_id(id));
  EXPECT_EQ(r.walks(), 1u);
  EXPECT_EQ(r.id_for_path("/agents/claude"), id);
  EXPECT_EQ(r.path_for_id(id), "/agents/claude");
  EXPECT_EQ(r.walks(), 1u);
}

TEST(ProcessCgroupResolver, WalkIsBoundedByDirectoryCount) {
  FakeCgroupFs f;
  for (int i = 0; i < 50; ++i) fs::create_directories(f.root + "/many/d" + std::to_string(i));
  CgroupResolver::Options o;
  o.walk_max_dirs = 10;
  auto r = f.make(o);
  int found = 0;
  for (int i = 0; i < 50; ++i) {
    if (r.path_for_id(ino(f.root + "/many/d" + std::to_string(i)))) ++found;
  }
  EXPECT_EQ(r.walks(), 1u);
  EXPECT_EQ(r.truncated_walks(), 1u);
  EXPECT_LT(found, 10);
}

TEST(ProcessCgroupResolver, CacheIsBounded) {
  FakeCgroupFs f;
  for (int i = 0; i < 20; ++i) fs::create_directories(f.root + "/c" + std::to_string(i));
  CgroupResolver::Options o;
  o.cache_max = 4;
  auto r = f.make(o);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(r.path_for_id(ino(f.root + "/c" + std::to_string(i))), "/c" + std::to_string(i));
    EXPECT_LE(r.cache_size(), 4u);
  }
  for (int i = 0; i < 20; ++i) r.path_for_id(1'000'000'000'000ull + static_cast<uint64_t>(i));
  EXPECT_LE(r.cache_size(), 4u);
}

TEST(ProcessCgroupResolver, RealSystemRoundTrip) {
  auto r = CgroupResolver::create();
  if (!r.ok()) GTEST_SKIP() << "no cgroup2 here: " << r.error().message;
  const uint64_t root = ino(r->mount_point());
  EXPECT_EQ(r->id_for_path("/"), root);
  EXPECT_EQ(r->path_for_id(root), "/");
  std::ifstream self("/proc/self/cgroup");
  std::string line, mine;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) == 0) mine = line.substr(3);
  }
  if (mine.empty()) GTEST_SKIP() << "no cgroup v2 line for this process";
  auto id = r->id_for_path(mine);
  if (!id) GTEST_SKIP() << mine << " not visible under " << r->mount_point();
  CgroupResolver::Options o;
  auto fresh = CgroupResolver::create("/proc/mounts", o);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->path_for_id(*id), mine);  // found by walking, not from the cache
}

}  // namespace
}  // namespace rein::process
