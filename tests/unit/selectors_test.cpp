// Agent selectors: validation messages, argv/exe/cgroup/pid matching, and the exe hashes the
// kernel looks up (FNV-1a 64 of the full exec filename and of its basename).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "pipeline/selectors.h"

namespace {

using rein::pipeline::fnv1a64;
using rein::pipeline::join_args;
using rein::pipeline::Selector;
using rein::pipeline::SelectorKind;
using rein::pipeline::SelectorSet;

SelectorSet must_build(std::vector<Selector> s) {
  auto r = SelectorSet::build(std::move(s));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : SelectorSet{};
}

std::string build_error(std::vector<Selector> s) {
  auto r = SelectorSet::build(std::move(s));
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error().message;
}

// The kernel's loop in bpf/process.bpf.h: one pass over the exec filename computing the hash
// of the whole string and of the part after the last '/'.
std::pair<uint64_t, uint64_t> kernel_hashes(std::string_view filename) {
  const uint64_t offset = 0xcbf29ce484222325ULL, prime = 0x100000001b3ULL;
  uint64_t full = offset, base = offset;
  for (unsigned char c : filename) {
    full = (full ^ c) * prime;
    base = c == '/' ? offset : (base ^ c) * prime;
  }
  return {full, base};
}

bool has_hash(const SelectorSet& s, uint64_t h, uint32_t idx) {
  auto v = s.exe_hashes();
  return std::find(v.begin(), v.end(), std::make_pair(h, idx)) != v.end();
}

TEST(PipelineSelectors, Fnv1a64KnownVectors) {
  // Offset basis and single-byte values from the FNV reference (draft-eastlake-fnv).
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // Bytes are hashed unsigned: a high byte must not be sign-extended.
  uint64_t h = 0xcbf29ce484222325ULL;
  h = (h ^ 0xffULL) * 0x100000001b3ULL;
  EXPECT_EQ(fnv1a64("\xff"), h);
  EXPECT_NE(fnv1a64("ab"), fnv1a64("ba"));
}

TEST(PipelineSelectors, BuildRejectsBadRegexNamingFlagAndValue) {
  auto msg = build_error({{SelectorKind::Cmdline, "claude(", ""}});
  EXPECT_NE(msg.find("--agent-cmdline"), std::string::npos) << msg;
  EXPECT_NE(msg.find("claude("), std::string::npos) << msg;
}

TEST(PipelineSelectors, BuildRejectsBadPid) {
  for (const char* v : {"abc", "12x", "x12", "0", "-5", " 7", "99999999999", "1.5", "4194305"}) {
    auto msg = build_error({{SelectorKind::Pid, v, ""}});
    EXPECT_NE(msg.find("--agent-pid"), std::string::npos) << v << ": " << msg;
    EXPECT_NE(msg.find(v), std::string::npos) << v << ": " << msg;
  }
  EXPECT_TRUE(SelectorSet::build({{SelectorKind::Pid, "4194304", ""}}).ok());
}

TEST(PipelineSelectors, BuildRejectsRelativeCgroup) {
  for (const char* v : {"a/b", "system.slice", "./x"}) {
    auto msg = build_error({{SelectorKind::Cgroup, v, ""}});
    EXPECT_NE(msg.find("--agent-cgroup"), std::string::npos) << msg;
    EXPECT_NE(msg.find(v), std::string::npos) << msg;
  }
}

TEST(PipelineSelectors, BuildRejectsEmptyValues) {
  for (auto k : {SelectorKind::Exe, SelectorKind::Cmdline, SelectorKind::Cgroup, SelectorKind::Pid}) {
    auto msg = build_error({{k, "", "n"}});
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--agent-"), std::string::npos) << msg;
  }
}

TEST(PipelineSelectors, BuildRejectsOverlongExe) {
  auto msg = build_error({{SelectorKind::Exe, "/" + std::string(300, 'e'), ""}});
  EXPECT_NE(msg.find("--agent-exe"), std::string::npos) << msg;
}

// As the policy's exe: a path with a slash can only match from the root.
TEST(PipelineSelectors, BuildRejectsRelativeExePaths) {
  for (const char* v : {"bin/claude", "./claude", "node_modules/.bin/x"}) {
    auto msg = build_error({{SelectorKind::Exe, v, ""}});
    EXPECT_NE(msg.find("--agent-exe"), std::string::npos) << msg;
    EXPECT_NE(msg.find("absolute path or a bare file name"), std::string::npos) << msg;
  }
  EXPECT_TRUE(SelectorSet::build({{SelectorKind::Exe, "claude.exe", ""}, {SelectorKind::Exe, "/usr/bin/node", ""}}).ok());
}

TEST(PipelineSelectors, OneBadSelectorFailsTheWholeSet) {
  auto msg = build_error({{SelectorKind::Exe, "claude", ""}, {SelectorKind::Pid, "nope", ""}});
  EXPECT_NE(msg.find("nope"), std::string::npos);
}

TEST(PipelineSelectors, DefaultNames) {
  auto s = must_build({{SelectorKind::Exe, "/opt/tools/myagent", ""},
                       {SelectorKind::Exe, "aider", "custom"},
                       {SelectorKind::Cgroup, "/agents.slice/run-7.scope", ""},
                       {SelectorKind::Cmdline, "x", ""}});
  ASSERT_EQ(s.items().size(), 4u);
  EXPECT_EQ(s.items()[0].name, "myagent");
  EXPECT_EQ(s.items()[1].name, "custom");
  EXPECT_EQ(s.items()[2].name, "run-7.scope");
  EXPECT_EQ(s.items()[0].value, "/opt/tools/myagent");
  EXPECT_TRUE(s.has_cmdline());
}

TEST(PipelineSelectors, MatchCmdlineJoinsArgsWithSpaces) {
  auto s = must_build({{SelectorKind::Exe, "node", ""},
                       {SelectorKind::Cmdline, "python3? -m (my_)?agent\\b", "py"},
                       {SelectorKind::Cmdline, "claude", "cc"}});
  EXPECT_EQ(s.match_cmdline({"python3", "-m", "agent"}), std::optional<uint32_t>(1));
  EXPECT_EQ(s.match_cmdline({"python", "-m", "my_agent", "--x"}), std::optional<uint32_t>(1));
  EXPECT_EQ(s.match_cmdline({"python3", "-m", "agents"}), std::nullopt);
  EXPECT_EQ(s.match_cmdline({"node", "/usr/lib/node_modules/claude/cli.js"}),
            std::optional<uint32_t>(2));
  // First matching selector wins.
  EXPECT_EQ(s.match_cmdline({"python3", "-m", "agent", "claude"}), std::optional<uint32_t>(1));
  EXPECT_EQ(s.match_cmdline({}), std::nullopt);
  EXPECT_EQ(s.match_cmdline({"node"}), std::nullopt);  // exe selectors are not argv patterns
}

TEST(PipelineSelectors, MatchCmdlineWithoutCmdlineSelectors) {
  auto s = must_build({{SelectorKind::Exe, "claude", ""}});
  EXPECT_FALSE(s.has_cmdline());
  EXPECT_EQ(s.match_cmdline({"claude"}), std::nullopt);
}

TEST(PipelineSelectors, MatchCmdlineIsBoundedOnHugeArgv) {
  auto s = must_build({{SelectorKind::Cmdline, "NEEDLE", ""}});
  std::vector<std::string> args = {"prog", std::string(20000, 'a'), "NEEDLE"};
  EXPECT_EQ(s.match_cmdline(args), std::nullopt);  // past the joined bound: not looked at
  args = {"prog", std::string(100, 'a'), "NEEDLE"};
  EXPECT_EQ(s.match_cmdline(args), std::optional<uint32_t>(0));
}

TEST(PipelineSelectors, JoinArgsBound) {
  EXPECT_EQ(join_args({"a", "b", "c"}), "a b c");
  EXPECT_EQ(join_args({}), "");
  EXPECT_EQ(join_args({"abc", "defgh"}, 6), "abc de");
  EXPECT_LE(join_args({std::string(10000, 'x'), "y"}, 8192).size(), 8192u);
  EXPECT_EQ(join_args({std::string(10000, 'x')}, 10).size(), 10u);
}

TEST(PipelineSelectors, MatchExistingExeBasename) {
  auto s = must_build({{SelectorKind::Exe, "python3", ""}});
  EXPECT_EQ(s.match_existing(10, "/usr/bin/python3", {"x"}, ""), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(10, "/usr/bin/python3.11", {"python3"}, ""),
            std::optional<uint32_t>(0));  // argv[0] basename
  EXPECT_EQ(s.match_existing(10, "/usr/bin/python3.11", {"/usr/local/bin/python3"}, ""),
            std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(10, "/usr/bin/python3.11", {"python3.11"}, ""), std::nullopt);
  EXPECT_EQ(s.match_existing(10, "/usr/bin/mypython3", {}, ""), std::nullopt);
  EXPECT_EQ(s.match_existing(10, "/python3/bin/other", {}, ""), std::nullopt);
}

TEST(PipelineSelectors, MatchExistingExePathIsExact) {
  auto s = must_build({{SelectorKind::Exe, "/opt/agent/bin/agent", ""}});
  EXPECT_EQ(s.match_existing(1, "/opt/agent/bin/agent", {}, ""), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(1, "/usr/bin/node", {"/opt/agent/bin/agent"}, ""),
            std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(1, "/usr/bin/agent", {"agent"}, ""), std::nullopt);
  EXPECT_EQ(s.match_existing(1, "/x/opt/agent/bin/agent", {}, ""), std::nullopt);
  EXPECT_EQ(s.match_existing(1, "agent", {}, ""), std::nullopt);
}

TEST(PipelineSelectors, MatchExistingCgroupPrefixOnComponentBoundary) {
  auto s = must_build({{SelectorKind::Cgroup, "/a/b", ""}});
  EXPECT_EQ(s.match_existing(1, "", {}, "/a/b"), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(1, "", {}, "/a/b/c"), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(1, "", {}, "/a/b/c/d.scope"), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(1, "", {}, "/a/bc"), std::nullopt);
  EXPECT_EQ(s.match_existing(1, "", {}, "/a"), std::nullopt);
  EXPECT_EQ(s.match_existing(1, "", {}, "/x/a/b"), std::nullopt);
  EXPECT_EQ(s.match_existing(1, "", {}, ""), std::nullopt);
}

TEST(PipelineSelectors, MatchExistingCgroupTrailingSlashAndRoot) {
  auto s = must_build({{SelectorKind::Cgroup, "/a/b/", ""}});
  EXPECT_EQ(s.match_existing(1, "", {}, "/a/b/c"), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(1, "", {}, "/a/bc"), std::nullopt);
  auto root = must_build({{SelectorKind::Cgroup, "/", ""}});
  EXPECT_EQ(root.match_existing(1, "", {}, "/anything/here"), std::optional<uint32_t>(0));
  EXPECT_EQ(root.match_existing(1, "", {}, ""), std::nullopt);  // unknown cgroup
}

TEST(PipelineSelectors, MatchExistingPidAndCmdlineAndOrder) {
  auto s = must_build({{SelectorKind::Pid, "4321", ""},
                       {SelectorKind::Cmdline, "--serve", ""},
                       {SelectorKind::Exe, "agent", ""}});
  EXPECT_EQ(s.match_existing(4321, "/bin/sh", {"sh"}, ""), std::optional<uint32_t>(0));
  EXPECT_EQ(s.match_existing(43210, "/bin/sh", {"sh"}, ""), std::nullopt);
  EXPECT_EQ(s.match_existing(432, "/bin/sh", {"sh"}, ""), std::nullopt);
  EXPECT_EQ(s.match_existing(7, "/bin/agent", {"agent", "--serve"}, ""),
            std::optional<uint32_t>(2));  // non-argv selectors are tried first
  EXPECT_EQ(s.match_existing(7, "/bin/tool", {"tool", "--serve"}, ""), std::optional<uint32_t>(1));
}

TEST(PipelineSelectors, ExeHashesMatchWhatTheKernelComputes) {
  auto s = must_build({{SelectorKind::Exe, "python3", ""},
                       {SelectorKind::Cgroup, "/x", ""},
                       {SelectorKind::Exe, "/opt/agent/bin/run", ""}});
  // The kernel hashes the filename passed to execve; a basename selector must equal its
  // basename hash, a path selector its full hash.
  auto [full1, base1] = kernel_hashes("/usr/bin/python3");
  EXPECT_TRUE(has_hash(s, base1, 0));
  EXPECT_FALSE(has_hash(s, full1, 0));
  EXPECT_EQ(base1, fnv1a64("python3"));
  auto [full2, base2] = kernel_hashes("/opt/agent/bin/run");
  EXPECT_TRUE(has_hash(s, full2, 2));
  EXPECT_FALSE(has_hash(s, base2, 2));  // "/opt/agent/bin/run" must not select any "run"
  for (const auto& [h, idx] : s.exe_hashes()) EXPECT_NE(idx, 1u);  // cgroup: not an exe key
}

TEST(PipelineSelectors, ExeHashesAddTheRealPathOfASymlink) {
  rein::testutil::TempDir tmp("rein_sel");
  std::string dir = tmp.path();
  std::string target = dir + "/real-agent", link = dir + "/agent-link";
  FILE* f = fopen(target.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  char real[PATH_MAX];
  ASSERT_NE(realpath(target.c_str(), real), nullptr);

  auto s = must_build({{SelectorKind::Exe, link, ""}});
  EXPECT_TRUE(has_hash(s, fnv1a64(link), 0));
  EXPECT_TRUE(has_hash(s, fnv1a64(real), 0));
  EXPECT_EQ(s.exe_hashes().size(), 2u);

  auto plain = must_build({{SelectorKind::Exe, real, ""}});
  EXPECT_EQ(plain.exe_hashes().size(), 1u);  // already canonical: no duplicate key
}

}  // namespace
