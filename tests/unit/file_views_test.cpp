#include "pipeline/file_views.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "policy/policy_parser.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;
using rein::pipeline::FileViewResolver;

TEST(FileViews, RuleDirectoryAboveTheResolvedParentGivesItsView) {
  rein::testutil::TempDir tmp{"rein_views"};
  const std::string d = fs::canonical(tmp.path()).string();
  fs::create_directories(d + "/prot/sub");
  fs::create_directories(d + "/work");
  fs::create_symlink(d + "/prot/sub", d + "/work/deep");
  struct stat st {};
  ASSERT_EQ(stat((d + "/prot").c_str(), &st), 0);
  rein::enforce::RuleDir rd;
  rd.dev = st.st_dev;
  rd.ino = st.st_ino;
  rd.dir = "/rule/view";  // the rule's own name for the directory, whatever the path says
  FileViewResolver r;
  r.set_rule_dirs({rd});
  auto v = r.resolve({static_cast<uint32_t>(getpid())}, d + "/work/deep/key");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->path, d + "/prot/sub/key");
  ASSERT_EQ(v->under_rules.size(), 1u);
  EXPECT_EQ(v->under_rules[0], "/rule/view/sub/key");
  // the directory itself
  v = r.resolve({static_cast<uint32_t>(getpid())}, d + "/work/deep/..");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->path, d + "/prot");
  ASSERT_EQ(v->under_rules.size(), 1u);
  EXPECT_EQ(v->under_rules[0], "/rule/view");
}

TEST(FileViews, OutsideEveryRuleDirectoryHasNoView) {
  rein::testutil::TempDir tmp{"rein_views"};
  const std::string d = fs::canonical(tmp.path()).string();
  fs::create_directories(d + "/prot");
  fs::create_directories(d + "/free");
  struct stat st {};
  ASSERT_EQ(stat((d + "/prot").c_str(), &st), 0);
  FileViewResolver r;
  r.set_rule_dirs({{st.st_dev, st.st_ino, d + "/prot", {}}});
  auto v = r.resolve({0, static_cast<uint32_t>(getpid())}, d + "/free/x");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->under_rules.empty());
  EXPECT_FALSE(r.resolve({static_cast<uint32_t>(getpid())}, d + "/gone/x"));
  EXPECT_EQ(r.failures(), 1u);
}

TEST(FileViews, DescriptorSyscallsAreNotNameBased) {
  EXPECT_FALSE(FileViewResolver::name_based(77));   // ftruncate
  EXPECT_FALSE(FileViewResolver::name_based(190));  // fsetxattr
  EXPECT_TRUE(FileViewResolver::name_based(82));    // rename
  EXPECT_TRUE(FileViewResolver::name_based(133));   // mknod
}

}  // namespace

// The kernel's inode entries: the directory of a DIR/** rule and the regular file of an exact
// rule (so a hard link to it is judged by the rule); not an exact rule's directory (that
// would cover what is below it), symlink or missing file.
TEST(RuleDirs, PrefixDirectoriesAndExactRegularFiles) {
  rein::testutil::TempDir tmp{"rein_ruledirs"};
  const std::string d = fs::canonical(tmp.path()).string();
  fs::create_directories(d + "/prot");
  fs::create_directories(d + "/dir");
  {
    FILE* f = std::fopen((d + "/exact").c_str(), "w");
    ASSERT_TRUE(f);
    std::fclose(f);
  }
  fs::create_symlink(d + "/exact", d + "/link");
  auto p = rein::policy::parse_policy(
      "apiVersion: rein/v1\nrules:\n  - name: r\n    action: deny\n    file:\n      paths: [\"" +
          d + "/prot/**\", \"" + d + "/exact\", \"" + d + "/dir\", \"" + d + "/link\", \"" + d +
          "/missing\"]\n",
      "p.yaml");
  ASSERT_TRUE(p);
  auto dirs = rein::enforce::rule_dirs(*p);
  std::vector<std::string> names;
  for (const auto& x : dirs) names.push_back(x.dir);
  EXPECT_EQ(names, (std::vector<std::string>{d + "/prot", d + "/exact"}));
  struct stat st {};
  ASSERT_EQ(stat((d + "/exact").c_str(), &st), 0);
  EXPECT_EQ(dirs[1].ino, st.st_ino);
  EXPECT_EQ(dirs[1].rule.action, REIN_ACT_DENY);
}

// Per agent class, the first rule of the kind whose scope covers it: file rules ban io_uring,
// network rules raw sockets.
TEST(RuleDirs, ScopeRulesByKind) {
  auto p = rein::policy::parse_policy(
      "apiVersion: rein/v1\nrules:\n"
      "  - name: f\n    action: deny\n    file: {paths: [\"/x/**\"]}\n"
      "  - name: n\n    action: deny\n    network: {cidrs: [\"10.0.0.0/8\"]}\n",
      "p.yaml");
  ASSERT_TRUE(p);
  auto files = rein::enforce::file_scope_rules(*p);
  auto nets = rein::enforce::network_scope_rules(*p);
  EXPECT_EQ(files[0].ops, 1u);
  EXPECT_EQ(files[0].rule, 0u);
  EXPECT_EQ(nets[0].ops, 1u);
  EXPECT_EQ(nets[0].rule, 1u);
  auto none = rein::policy::parse_policy("apiVersion: rein/v1\n", "q.yaml");
  ASSERT_TRUE(none);
  EXPECT_EQ(rein::enforce::network_scope_rules(*none)[0].ops, 0u);
}

// A file an exact-path rule names, reached by a name-based op through a hard link: the view
// is the rule's own name for it.
TEST(FileViews, ExactRuleFileThroughAHardLink) {
  rein::testutil::TempDir tmp{"rein_views"};
  const std::string d = fs::canonical(tmp.path()).string();
  fs::create_directories(d + "/keys");
  fs::create_directories(d + "/work");
  {
    FILE* f = std::fopen((d + "/keys/authorized_keys").c_str(), "w");
    ASSERT_TRUE(f);
    std::fclose(f);
  }
  fs::create_hard_link(d + "/keys/authorized_keys", d + "/work/other_name");
  struct stat st {};
  ASSERT_EQ(stat((d + "/keys/authorized_keys").c_str(), &st), 0);
  FileViewResolver r;
  r.set_rule_dirs({{st.st_dev, st.st_ino, "/home/u/.ssh/authorized_keys", {}}});
  auto v = r.resolve({static_cast<uint32_t>(getpid())}, d + "/work/other_name", true);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->path, d + "/work/other_name");
  EXPECT_EQ(v->under_rules, (std::vector<std::string>{"/home/u/.ssh/authorized_keys"}));
  // another file in that directory is nobody's
  {
    FILE* f = std::fopen((d + "/work/plain").c_str(), "w");
    ASSERT_TRUE(f);
    std::fclose(f);
  }
  v = r.resolve({static_cast<uint32_t>(getpid())}, d + "/work/plain", true);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->under_rules.empty());
}
