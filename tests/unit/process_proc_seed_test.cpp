#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "process/proc_reader.h"
#include "process/process_table.h"

namespace rein::process {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

class TempDir : public rein::testutil::TempDir {
 public:
  TempDir() : rein::testutil::TempDir("rein_procseed") {}
};

void write_file(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A full 52-field stat line, as the kernel prints it, with chosen comm/state/ppid/starttime.
std::string stat_line(uint32_t pid, std::string_view comm, char state, uint32_t ppid,
                      uint64_t starttime) {
  std::string s =
      std::to_string(pid) + " (" + std::string(comm) + ") " + state + " " + std::to_string(ppid);
  // fields 5..21
  for (int f = 5; f <= 21; ++f) s += " " + std::to_string(f * 3);
  s += " " + std::to_string(starttime);
  for (int f = 23; f <= 52; ++f) s += " 0";
  s += "\n";
  return s;
}

struct FakePid {
  std::string stat;
  std::string cmdline;
  std::string status;
  std::string cgroup;
  std::string exe;  // symlink target; empty = no link
  std::string cwd;
};

void make_pid(const std::string& root, const std::string& name, const FakePid& p) {
  const std::string dir = root + "/" + name;
  fs::create_directories(dir);
  if (!p.stat.empty()) write_file(dir + "/stat", p.stat);
  write_file(dir + "/cmdline", p.cmdline);
  if (!p.status.empty()) write_file(dir + "/status", p.status);
  if (!p.cgroup.empty()) write_file(dir + "/cgroup", p.cgroup);
  if (!p.exe.empty()) fs::create_symlink(p.exe, dir + "/exe");
  if (!p.cwd.empty()) fs::create_symlink(p.cwd, dir + "/cwd");
}

uint64_t ns_per_tick() { return 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)); }

// ---- parsers ----

TEST(ProcessProcParse, StatPlain) {
  auto st = parse_proc_stat(stat_line(1234, "bash", 'S', 1, 98765));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->comm, "bash");
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1u);
  EXPECT_EQ(st->start_ticks, 98765u);
}

TEST(ProcessProcParse, StatCommWithParensAndSpacesUsesLastParen) {
  auto st = parse_proc_stat(stat_line(42, "a) b) (c", 'R', 7, 5));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->comm, "a) b) (c");
  EXPECT_EQ(st->state, 'R');
  EXPECT_EQ(st->ppid, 7u);
  EXPECT_EQ(st->start_ticks, 5u);

  // A comm built to look like the following fields: "x) S 999 1 1 ...".
  auto fake = parse_proc_stat(stat_line(43, "x) Z 999", 'S', 8, 6));
  ASSERT_TRUE(fake);
  EXPECT_EQ(fake->ppid, 8u);
  EXPECT_EQ(fake->state, 'S');
}

TEST(ProcessProcParse, StatCommIsBoundedToKernelLength) {
  auto st = parse_proc_stat(stat_line(1, std::string(200, 'c'), 'S', 0, 1));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->comm, std::string(15, 'c'));
}

TEST(ProcessProcParse, StatRejectsMalformed) {
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("1 (x S 1 2 3"));       // no ')'
  EXPECT_FALSE(parse_proc_stat("1 x) S 1"));           // ')' before '('? no '('
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3 4 5"));  // too few fields
  EXPECT_FALSE(parse_proc_stat(stat_line(1, "x", 'S', 0, 1).replace(7, 1, "z")));  // ppid "z"
  std::string neg = "1 (x) S -1";
  for (int i = 0; i < 30; ++i) neg += " 1";
  EXPECT_FALSE(parse_proc_stat(neg));
  std::string big = "1 (x) S 99999999999";  // ppid beyond 32 bits
  for (int i = 0; i < 30; ++i) big += " 1";
  EXPECT_FALSE(parse_proc_stat(big));
  std::string two_char_state = "1 (x) SS 1";
  for (int i = 0; i < 30; ++i) two_char_state += " 1";
  EXPECT_FALSE(parse_proc_stat(two_char_state));
}

TEST(ProcessProcParse, StatusRealUid) {
  EXPECT_EQ(parse_status_real_uid("Name:\tx\nUmask:\t0022\nUid:\t1000\t1001\t1002\t1003\n"), 1000u);
  EXPECT_EQ(parse_status_real_uid("Uid:\t0\t0\t0\t0"), 0u);
  EXPECT_FALSE(parse_status_real_uid("Name:\tx\nGid:\t5\n"));
  EXPECT_FALSE(parse_status_real_uid("Uid:\tabc\n"));
  EXPECT_FALSE(parse_status_real_uid("Uid:\n"));
  EXPECT_FALSE(parse_status_real_uid(""));
}

TEST(ProcessProcParse, Cmdline) {
  using namespace std::string_literals;
  EXPECT_EQ(split_cmdline("a\0b\0"s), (Args{"a", "b"}));
  EXPECT_EQ(split_cmdline("a\0\0b\0"s), (Args{"a", "", "b"}));
  EXPECT_EQ(split_cmdline(""), Args{});
  EXPECT_EQ(split_cmdline("title without nul"), (Args{"title without nul"}));
  EXPECT_EQ(split_cmdline("x\0cut"s), (Args{"x", "cut"}));
}

TEST(ProcessProcParse, CgroupV2Line) {
  EXPECT_EQ(
      parse_cgroup_v2_path("12:pids:/user.slice\n1:name=systemd:/x\n0::/user.slice/a.scope\n"),
      "/user.slice/a.scope");
  EXPECT_EQ(parse_cgroup_v2_path("0::/\n"), "/");
  EXPECT_EQ(parse_cgroup_v2_path("0::/with:colon"), "/with:colon");
  EXPECT_FALSE(parse_cgroup_v2_path("3:cpu:/a\n"));
  EXPECT_FALSE(parse_cgroup_v2_path("0::\n"));
  EXPECT_FALSE(parse_cgroup_v2_path("10::/not-v2\n"));
}

TEST(ProcessProcParse, TicksToNs) {
  EXPECT_EQ(clock_ticks_to_ns(250, 100), 2'500'000'000u);
  EXPECT_EQ(clock_ticks_to_ns(0, 100), 0u);
  EXPECT_EQ(clock_ticks_to_ns(4, 3), 1'333'333'333u);
  EXPECT_EQ(clock_ticks_to_ns(7, 0), 70'000'000u);  // unknown rate: USER_HZ
  EXPECT_EQ(clock_ticks_to_ns(std::numeric_limits<uint64_t>::max(), 100),
            std::numeric_limits<uint64_t>::max());
}

TEST(ProcessProcParse, StripDeleted) {
  EXPECT_EQ(strip_deleted_suffix("/usr/bin/x (deleted)"), "/usr/bin/x");
  EXPECT_EQ(strip_deleted_suffix("/usr/bin/x"), "/usr/bin/x");
  EXPECT_EQ(strip_deleted_suffix(" (deleted)"), "");
  EXPECT_EQ(strip_deleted_suffix("/a (deleted)/b"), "/a (deleted)/b");
}

TEST(ProcessProcParse, ReadFileBounded) {
  TempDir d;
  const std::string f = d.path() + "/f";
  write_file(f, std::string(100, 'x'));
  bool cut = false;
  auto a = read_file_bounded(f, 10, &cut);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 10u);
  EXPECT_TRUE(cut);
  auto b = read_file_bounded(f, 100, &cut);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size(), 100u);
  EXPECT_FALSE(cut);
  EXPECT_FALSE(read_file_bounded(d.path() + "/missing", 10));
  EXPECT_FALSE(read_file_bounded(d.path(), 10));  // a directory cannot be read
}

// ---- seeding a table from a fake /proc ----

TEST(ProcessProcSeed, SeedsEveryFieldFromFakeProc) {
  using namespace std::string_literals;
  TempDir d;
  make_pid(
      d.path(), "1",
      {stat_line(1, "systemd", 'S', 0, 2), "/sbin/init\0splash\0"s,
       "Name:\tsystemd\nUid:\t0\t0\t0\t0\n", "0::/init.scope\n", "/usr/lib/systemd/systemd", "/"});
  make_pid(d.path(), "4242",
           {stat_line(4242, "my (weird)) app", 'R', 1, 123456), "python3\0-m\0my app\0"s,
            "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n",
            "12:pids:/user.slice\n0::/user.slice/agent.scope\n", "/usr/bin/python3.11 (deleted)",
            "/home/u/proj"});
  std::map<std::string, uint64_t> cgroups{{"/init.scope", 11}, {"/user.slice/agent.scope", 22}};
  std::vector<std::string> asked;
  auto resolve = [&](std::string_view p) -> std::optional<uint64_t> {
    asked.emplace_back(p);
    auto it = cgroups.find(std::string(p));
    if (it == cgroups.end()) return std::nullopt;
    return it->second;
  };

  ProcessTable t;
  EXPECT_EQ(t.seed_from_proc(d.path(), resolve), 2u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(asked.size(), 2u);

  const ProcessInfo* p = t.find(4242);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->pid, 4242u);
  EXPECT_EQ(p->ppid, 1u);
  EXPECT_EQ(p->uid, 1000u);
  EXPECT_EQ(p->comm, "my (weird)) app");
  EXPECT_EQ(p->args, (Args{"python3", "-m", "my app"}));
  EXPECT_EQ(p->exe, "/usr/bin/python3.11");
  EXPECT_EQ(p->cwd, "/home/u/proj");
  EXPECT_EQ(p->cgroup_id, 22u);
  EXPECT_EQ(p->start_ns, 123456u * ns_per_tick());
  EXPECT_TRUE(p->from_proc);
  EXPECT_FALSE(p->exited);
  EXPECT_EQ(p->agent_root, 0u);

  const ProcessInfo* init = t.find(1);
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->ppid, 0u);
  EXPECT_EQ(init->uid, 0u);
  EXPECT_EQ(init->args, (Args{"/sbin/init", "splash"}));
  EXPECT_EQ(init->cgroup_id, 11u);
  EXPECT_EQ(t.ancestry(4242), (std::vector<uint32_t>{4242, 1}));
}

TEST(ProcessProcSeed, WithoutResolverCgroupIdStaysZero) {
  TempDir d;
  make_pid(d.path(), "9",
           {stat_line(9, "x", 'S', 1, 1), "", "Uid:\t5\t5\t5\t5\n", "0::/a\n", "", ""});
  ProcessTable t;
  EXPECT_EQ(t.seed_from_proc(d.path()), 1u);
  EXPECT_EQ(t.find(9)->cgroup_id, 0u);
  EXPECT_TRUE(t.find(9)->exe.empty());  // unreadable exe link (kernel thread, permissions)
  EXPECT_TRUE(t.find(9)->args.empty());
}

TEST(ProcessProcSeed, SkipsNonPidsAndBrokenEntries) {
  TempDir d;
  make_pid(d.path(), "10", {stat_line(10, "ok", 'S', 1, 1), "", "Uid:\t1\t1\t1\t1\n", "", "", ""});
  make_pid(d.path(), "11", {"", "", "", "", "", ""});           // vanished: no stat
  make_pid(d.path(), "12", {"garbage\n", "", "", "", "", ""});  // unparsable stat
  make_pid(d.path(), "self", {stat_line(10, "self", 'S', 1, 1), "", "", "", "", ""});
  make_pid(d.path(), "12abc", {stat_line(13, "x", 'S', 1, 1), "", "", "", "", ""});
  make_pid(d.path(), "0", {stat_line(0, "idle", 'S', 0, 1), "", "", "", "", ""});
  make_pid(d.path(), "99999999999", {stat_line(1, "big", 'S', 0, 1), "", "", "", "", ""});
  make_pid(d.path(), "010", {stat_line(10, "lead0", 'S', 0, 1), "", "", "", "", ""});
  write_file(d.path() + "/77", "a file, not a directory");
  ProcessTable t;
  EXPECT_EQ(t.seed_from_proc(d.path()), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.find(10)->comm, "ok");
}

TEST(ProcessProcSeed, MissingStatusFallsBackToDirectoryOwner) {
  TempDir d;
  make_pid(d.path(), "20", {stat_line(20, "x", 'S', 1, 1), "", "", "", "", ""});
  ProcessTable t;
  t.seed_from_proc(d.path());
  ASSERT_NE(t.find(20), nullptr);
  EXPECT_EQ(t.find(20)->uid, ::getuid());
}

TEST(ProcessProcSeed, CmdlineIsBoundedTo64KiB) {
  TempDir d;
  std::string huge(70000, 'a');
  huge += '\0';
  huge += "tail";
  make_pid(d.path(), "30", {stat_line(30, "x", 'S', 1, 1), huge, "Uid:\t0\t0\t0\t0\n", "", "", ""});
  ProcessTable t;
  t.seed_from_proc(d.path());
  ASSERT_NE(t.find(30), nullptr);
  ASSERT_EQ(t.find(30)->args.size(), 1u);
  EXPECT_EQ(t.find(30)->args[0].size(), 64u * 1024u);

  auto rec = read_proc_pid(d.path(), 30);
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->cmdline_truncated);
}

TEST(ProcessProcSeed, HugeStatFileIsSkippedNotFatal) {
  TempDir d;
  // The ')' lies beyond the read bound, so the line cannot be parsed: skip, do not crash.
  std::string stat = "40 (" + std::string(40000, 'x') + ") S 1";
  for (int i = 0; i < 30; ++i) stat += " 1";
  make_pid(d.path(), "40", {stat, "", "", "", "", ""});
  make_pid(d.path(), "41", {stat_line(41, "fine", 'S', 1, 1), "", "", "", "", ""});
  ProcessTable t;
  EXPECT_EQ(t.seed_from_proc(d.path()), 1u);
  EXPECT_EQ(t.find(40), nullptr);
  EXPECT_NE(t.find(41), nullptr);
}

TEST(ProcessProcSeed, ZombieIsSeededAsExited) {
  TempDir d;
  make_pid(d.path(), "50", {stat_line(50, "defunct", 'Z', 1, 1), "", "", "", "", ""});
  ProcessTable t(100, 1'000'000'000);
  t.seed_from_proc(d.path());
  const ProcessInfo* p = t.find(50);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->exited);
  EXPECT_GT(p->exit_ns, 0u);
  EXPECT_EQ(t.gc(p->exit_ns + 2'000'000'000), 1u);
}

TEST(ProcessProcSeed, EventEntriesWinOverProc) {
  TempDir d;
  make_pid(d.path(), "60",
           {stat_line(60, "procname", 'S', 1, 1), "old", "Uid:\t0\t0\t0\t0\n", "", "/old", "/"});
  ProcessTable t;
  t.on_exec(60, 2, 1000, "evname", "/from/event", Args{"ev"}, "/evcwd", 5, 1, 60, 1);
  EXPECT_EQ(t.seed_from_proc(d.path()), 0u);
  EXPECT_EQ(t.find(60)->exe, "/from/event");
  EXPECT_EQ(t.find(60)->agent_root, 60u);
  EXPECT_FALSE(t.find(60)->from_proc);
}

TEST(ProcessProcSeed, ZombieDoesNotOverwriteRecordedExit) {
  TempDir d;
  make_pid(d.path(), "61", {stat_line(61, "z", 'Z', 1, 1), "", "", "", "", ""});
  ProcessTable t;
  t.on_exec(61, 1, 0, "ev", "/ev", Args{}, "/", 0, 1, 0, 0);
  t.on_exit(61, 9, 1234);
  t.seed_from_proc(d.path());
  EXPECT_EQ(t.find(61)->exit_status, 9);
  EXPECT_EQ(t.find(61)->exit_ns, 1234u);
  EXPECT_EQ(t.find(61)->exe, "/ev");
}

TEST(ProcessProcSeed, ReseedRefreshesAndMarksVanishedProcessesExited) {
  TempDir d;
  make_pid(d.path(), "70", {stat_line(70, "a", 'S', 1, 100), "", "", "", "/a", ""});
  make_pid(d.path(), "71", {stat_line(71, "b", 'S', 1, 100), "", "", "", "/b", ""});
  ProcessTable t;
  EXPECT_EQ(t.seed_from_proc(d.path()), 2u);
  fs::remove_all(d.path() + "/71");
  fs::remove(d.path() + "/70/exe");
  fs::create_symlink("/a2", d.path() + "/70/exe");
  EXPECT_EQ(t.seed_from_proc(d.path()), 1u);
  EXPECT_EQ(t.find(70)->exe, "/a2");
  EXPECT_FALSE(t.find(70)->exited);
  ASSERT_NE(t.find(71), nullptr);
  EXPECT_TRUE(t.find(71)->exited);
}

TEST(ProcessProcSeed, MissingRootSeedsNothing) {
  ProcessTable t;
  EXPECT_EQ(t.seed_from_proc("/nonexistent/rein/proc"), 0u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProcessProcSeed, SeedRespectsCapacity) {
  TempDir d;
  for (uint32_t pid = 100; pid < 120; ++pid) {
    make_pid(d.path(), std::to_string(pid), {stat_line(pid, "x", 'S', 1, pid), "", "", "", "", ""});
  }
  ProcessTable t(8);
  // Directory order is arbitrary; whatever it is, the youngest processes are the ones kept.
  EXPECT_GE(t.seed_from_proc(d.path()), 8u);
  EXPECT_EQ(t.size(), 8u);
  EXPECT_EQ(t.evictions(), 12u);
  for (uint32_t pid = 112; pid < 120; ++pid) EXPECT_NE(t.find(pid), nullptr) << pid;
}

TEST(ProcessProcSeed, RealProcFindsThisProcess) {
  ProcessTable t;
  ASSERT_GT(t.seed_from_proc("/proc"), 0u);
  const ProcessInfo* me = t.find(static_cast<uint32_t>(::getpid()));
  ASSERT_NE(me, nullptr);
  EXPECT_EQ(me->ppid, static_cast<uint32_t>(::getppid()));
  EXPECT_EQ(me->uid, ::getuid());
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(me->exe, std::string(buf, static_cast<size_t>(n)));
  EXPECT_EQ(me->cwd, fs::current_path().string());
  EXPECT_FALSE(me->args.empty());
  EXPECT_GT(me->start_ns, 0u);
}

}  // namespace
}  // namespace rein::process
