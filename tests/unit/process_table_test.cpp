#include "process/process_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace rein::process {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

using Args = std::vector<std::string>;
using Pids = std::vector<uint32_t>;

// Exec with only the fields a test cares about; the rest are fixed, recognisable values.
ProcessInfo& exec(ProcessTable& t, uint32_t pid, uint32_t ppid, uint64_t ts,
                  std::string exe = "/bin/true", uint32_t agent = 0, uint64_t agent_start = 0) {
  return t.on_exec(pid, ppid, 1000, "comm", std::move(exe), Args{"a0", "a1"}, "/cwd", 77, ts, agent,
                   agent_start);
}

TEST(ProcessTable, ForkInheritsFromLiveParent) {
  ProcessTable t;
  t.on_exec(100, 1, 1001, "bash", "/bin/bash", Args{"bash", "-c", "x"}, "/home/u", 555, 10 * kMs,
            100, 10 * kMs);
  ProcessInfo& c = t.on_fork(101, 100, "bash-child", 20 * kMs, 100, 10 * kMs);
  EXPECT_EQ(c.pid, 101u);
  EXPECT_EQ(c.ppid, 100u);
  EXPECT_EQ(c.comm, "bash-child");
  EXPECT_EQ(c.exe, "/bin/bash");
  EXPECT_EQ(c.args, (Args{"bash", "-c", "x"}));
  EXPECT_EQ(c.cwd, "/home/u");
  EXPECT_EQ(c.cgroup_id, 555u);
  EXPECT_EQ(c.uid, 1001u);
  EXPECT_EQ(c.start_ns, 20 * kMs);
  EXPECT_EQ(c.agent_root, 100u);
  EXPECT_EQ(c.agent_start_ns, 10 * kMs);
  EXPECT_FALSE(c.exited);
  EXPECT_FALSE(c.from_proc);
  EXPECT_EQ(t.find(101), &c);
  EXPECT_EQ(t.size(), 2u);
}

TEST(ProcessTable, ForkFromUnknownOrExitedParentInheritsNothing) {
  ProcessTable t;
  ProcessInfo& orphan = t.on_fork(50, 49, "x", 1 * kMs, 0, 0);
  EXPECT_TRUE(orphan.exe.empty());
  EXPECT_TRUE(orphan.args.empty());
  EXPECT_EQ(orphan.uid, 0u);
  EXPECT_EQ(orphan.cgroup_id, 0u);

  exec(t, 60, 1, 2 * kMs, "/usr/bin/dead");
  t.on_exit(60, 0, 3 * kMs);
  // An exited parent's entry is only kept for late records; it cannot be forking.
  ProcessInfo& c = t.on_fork(61, 60, "y", 4 * kMs, 0, 0);
  EXPECT_TRUE(c.exe.empty());
  EXPECT_EQ(c.ppid, 60u);
}

TEST(ProcessTable, ExecKeepsPidPpidAndStartButReplacesImage) {
  ProcessTable t;
  exec(t, 100, 1, 1 * kMs, "/bin/sh");
  t.on_fork(101, 100, "sh", 2 * kMs, 0, 0);
  // The kernel reports ppid 1 after reparenting; the recorded parent must win.
  ProcessInfo& p = t.on_exec(101, 1, 0, "python3", "/usr/bin/python3", Args{"python3", "a.py"},
                             "/srv", 999, 5 * kMs, 0, 0);
  EXPECT_EQ(p.pid, 101u);
  EXPECT_EQ(p.ppid, 100u);
  EXPECT_EQ(p.start_ns, 2 * kMs);
  EXPECT_EQ(p.comm, "python3");
  EXPECT_EQ(p.exe, "/usr/bin/python3");
  EXPECT_EQ(p.args, (Args{"python3", "a.py"}));
  EXPECT_EQ(p.cwd, "/srv");
  EXPECT_EQ(p.cgroup_id, 999u);
  EXPECT_EQ(p.uid, 0u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.missed_exits(), 0u);
}

TEST(ProcessTable, ExecOfUnknownPidIsFirstSighting) {
  ProcessTable t;
  ProcessInfo& p = exec(t, 7, 3, 42 * kMs, "/bin/x", 7, 42 * kMs);
  EXPECT_EQ(p.ppid, 3u);
  EXPECT_EQ(p.start_ns, 42 * kMs);
  EXPECT_EQ(p.agent_root, 7u);
  EXPECT_EQ(p.args, (Args{"a0", "a1"}));
}

TEST(ProcessTable, ExecCanStartAgentOnTrackedEntry) {
  ProcessTable t;
  t.on_fork(10, 1, "sh", 1 * kMs, 0, 0);
  ProcessInfo& p = exec(t, 10, 1, 2 * kMs, "/usr/bin/claude", 10, 2 * kMs);
  EXPECT_EQ(p.agent_root, 10u);
  EXPECT_EQ(p.agent_start_ns, 2 * kMs);
}

TEST(ProcessTable, ExitMarksEntryAndGcHonoursGrace) {
  ProcessTable t(100, 5 * kSec);
  exec(t, 10, 1, 1 * kSec);
  t.on_exit(10, 256, 2 * kSec);
  const ProcessInfo* p = t.find(10);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->exited);
  EXPECT_EQ(p->exit_ns, 2 * kSec);
  EXPECT_EQ(p->exit_status, 256);
  EXPECT_EQ(p->exe, "/bin/true");  // late records still enrich

  EXPECT_EQ(t.gc(3 * kSec), 0u);
  EXPECT_EQ(t.gc(7 * kSec), 0u);  // exactly the grace period: not older than it yet
  EXPECT_NE(t.find(10), nullptr);
  EXPECT_EQ(t.gc(7 * kSec + 1), 1u);
  EXPECT_EQ(t.find(10), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ProcessTable, GcKeepsLiveEntriesAndClockGoingBackwards) {
  ProcessTable t(100, 1 * kSec);
  exec(t, 1, 0, 1 * kSec);
  exec(t, 2, 1, 1 * kSec);
  t.on_exit(2, 0, 10 * kSec);
  EXPECT_EQ(t.gc(0), 0u);  // now before the exit: never underflow into "ancient"
  EXPECT_EQ(t.gc(100 * kSec), 1u);
  EXPECT_NE(t.find(1), nullptr);
  EXPECT_EQ(t.gc(1000 * kSec), 0u);
}

TEST(ProcessTable, ExitOfUnknownPidIsIgnoredAndRepeatKeepsFirst) {
  ProcessTable t;
  t.on_exit(999, 9, 1);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.find(999), nullptr);

  exec(t, 5, 1, 1);
  t.on_exit(5, 3, 10);
  t.on_exit(5, 4, 20);
  EXPECT_EQ(t.find(5)->exit_status, 3);
  EXPECT_EQ(t.find(5)->exit_ns, 10u);
}

TEST(ProcessTable, PidReuseAfterExitReplacesEntry) {
  ProcessTable t;
  exec(t, 200, 1, 1 * kSec, "/old/binary");
  t.on_exit(200, 0, 2 * kSec);
  ProcessInfo& n = t.on_fork(200, 300, "new", 3 * kSec, 0, 0);
  EXPECT_FALSE(n.exited);
  EXPECT_EQ(n.exit_status, -1);
  EXPECT_EQ(n.ppid, 300u);
  EXPECT_EQ(n.comm, "new");
  EXPECT_TRUE(n.exe.empty());  // nothing stale from the previous owner of the pid
  EXPECT_EQ(n.start_ns, 3 * kSec);
  EXPECT_EQ(t.missed_exits(), 0u);

  t.on_exit(200, 0, 4 * kSec);
  ProcessInfo& e = exec(t, 200, 301, 5 * kSec, "/newer");
  EXPECT_FALSE(e.exited);
  EXPECT_EQ(e.ppid, 301u);  // a fresh entry takes the event's ppid
  EXPECT_EQ(e.start_ns, 5 * kSec);
  EXPECT_EQ(e.exe, "/newer");
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.missed_exits(), 0u);
}

TEST(ProcessTable, ForkOverLiveEntryCountsMissedExit) {
  ProcessTable t;
  exec(t, 300, 1, 1 * kSec, "/stale");
  ProcessInfo& n = t.on_fork(300, 2, "fresh", 9 * kSec, 0, 0);
  EXPECT_EQ(t.missed_exits(), 1u);
  EXPECT_EQ(n.ppid, 2u);
  EXPECT_EQ(n.start_ns, 9 * kSec);
  EXPECT_TRUE(n.exe.empty());
  EXPECT_EQ(t.size(), 1u);
}

TEST(ProcessTable, OrphanKeepsRecordedParentAndAncestryStopsWhenItIsGone) {
  ProcessTable t(100, 1 * kSec);
  exec(t, 100, 1, 1 * kSec);
  t.on_fork(101, 100, "mid", 2 * kSec, 0, 0);
  t.on_fork(102, 101, "leaf", 3 * kSec, 0, 0);
  EXPECT_EQ(t.ancestry(102), (Pids{102, 101, 100}));

  t.on_exit(101, 0, 4 * kSec);
  EXPECT_EQ(t.ancestry(102), (Pids{102, 101, 100}));  // still within grace
  t.gc(10 * kSec);
  EXPECT_EQ(t.find(101), nullptr);
  ASSERT_NE(t.find(102), nullptr);
  EXPECT_EQ(t.find(102)->ppid, 101u);
  EXPECT_EQ(t.ancestry(102), (Pids{102}));
  EXPECT_EQ(t.ancestry(555), Pids{});
}

TEST(ProcessTable, AncestryStopsAtCyclesAndSelfParent) {
  ProcessTable t;
  exec(t, 10, 11, 1);
  exec(t, 11, 10, 2);
  EXPECT_EQ(t.ancestry(10), (Pids{10, 11}));
  EXPECT_EQ(t.ancestry(11), (Pids{11, 10}));
  exec(t, 5, 5, 3);
  EXPECT_EQ(t.ancestry(5), (Pids{5}));
  exec(t, 1, 0, 0);
  EXPECT_EQ(t.ancestry(1), (Pids{1}));
}

TEST(ProcessTable, AncestryRespectsMaxDepth) {
  ProcessTable t;
  exec(t, 1, 0, 0);
  for (uint32_t pid = 2; pid <= 100; ++pid) t.on_fork(pid, pid - 1, "c", pid, 0, 0);
  EXPECT_EQ(t.ancestry(100).size(), 64u);
  EXPECT_EQ(t.ancestry(100, 3), (Pids{100, 99, 98}));
  EXPECT_EQ(t.ancestry(100, 0), Pids{});
  EXPECT_EQ(t.ancestry(100, 1000).size(), 100u);
  EXPECT_EQ(t.ancestry(100, 1000).back(), 1u);
}

TEST(ProcessTable, ReusedParentPidIsNotAnAncestor) {
  ProcessTable t(100, 1 * kSec);
  exec(t, 400, 1, 1 * kSec);
  t.on_fork(500, 400, "daemon", 2 * kSec, 0, 0);
  t.on_exit(400, 0, 3 * kSec);
  t.gc(10 * kSec);
  // Unrelated process gets pid 400 long after 500 was born.
  exec(t, 400, 1, 20 * kSec, "/unrelated");
  EXPECT_EQ(t.ancestry(500), (Pids{500}));
  EXPECT_EQ(t.descendants(400), Pids{});
}

TEST(ProcessTable, DescendantsAreLiveOnesThroughExitedIntermediates) {
  ProcessTable t;
  exec(t, 1, 0, 1);
  t.on_fork(2, 1, "c", 2, 0, 0);
  t.on_fork(3, 2, "c", 3, 0, 0);
  t.on_fork(4, 2, "c", 4, 0, 0);
  t.on_fork(5, 1, "c", 5, 0, 0);
  t.on_fork(6, 4, "c", 6, 0, 0);
  t.on_fork(7, 99, "c", 7, 0, 0);  // unrelated
  t.on_exit(2, 0, 10);
  t.on_exit(6, 0, 11);
  EXPECT_EQ(t.descendants(1), (Pids{5, 3, 4}));
  EXPECT_EQ(t.descendants(2), (Pids{3, 4}));
  EXPECT_EQ(t.descendants(4), Pids{});
  EXPECT_EQ(t.descendants(3), Pids{});
  EXPECT_EQ(t.descendants(12345), Pids{});
}

TEST(ProcessTable, DescendantsSurviveCycles) {
  ProcessTable t;
  exec(t, 10, 11, 1);
  exec(t, 11, 10, 1);
  exec(t, 12, 12, 1);
  EXPECT_EQ(t.descendants(10), (Pids{11}));
  EXPECT_EQ(t.descendants(12), Pids{});
}

TEST(ProcessTable, EvictsExitedFirstOldestExitFirst) {
  ProcessTable t(3, 100 * kSec);
  t.on_fork(1, 0, "a", 1, 0, 0);
  t.on_fork(2, 0, "b", 2, 0, 0);
  t.on_fork(3, 0, "c", 3, 0, 0);
  t.on_exit(3, 0, 10);
  t.on_exit(2, 0, 20);
  t.on_fork(4, 0, "d", 30, 0, 0);
  EXPECT_EQ(t.find(3), nullptr);
  EXPECT_NE(t.find(2), nullptr);
  EXPECT_NE(t.find(1), nullptr);
  t.on_fork(5, 0, "e", 31, 0, 0);
  EXPECT_EQ(t.find(2), nullptr);
  EXPECT_NE(t.find(1), nullptr);
  t.on_fork(6, 0, "f", 32, 0, 0);
  EXPECT_EQ(t.find(1), nullptr);  // only live ones left: the oldest goes
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.evictions(), 3u);
}

TEST(ProcessTable, EvictsOldestStartNotOldestInsert) {
  ProcessTable t(3);
  t.on_fork(1, 0, "a", 30, 0, 0);
  t.on_fork(2, 0, "b", 10, 0, 0);
  t.on_fork(3, 0, "c", 20, 0, 0);
  t.on_fork(4, 0, "d", 40, 0, 0);
  EXPECT_EQ(t.find(2), nullptr);
  EXPECT_NE(t.find(1), nullptr);
  EXPECT_NE(t.find(3), nullptr);
  EXPECT_EQ(t.evictions(), 1u);
}

TEST(ProcessTable, AgentRootOutlivesEverythingElse) {
  ProcessTable t(3);
  exec(t, 10, 1, 1, "/agent", 10, 1);
  t.on_fork(11, 10, "tool", 2, 10, 1);
  t.on_fork(12, 1, "other", 3, 0, 0);
  t.on_fork(13, 1, "other", 4, 0, 0);
  EXPECT_EQ(t.find(12), nullptr);  // untracked goes before an older tracked member
  EXPECT_NE(t.find(11), nullptr);
  t.on_fork(14, 10, "tool", 5, 10, 1);
  EXPECT_EQ(t.find(13), nullptr);
  t.on_fork(15, 10, "tool", 6, 10, 1);
  EXPECT_EQ(t.find(11), nullptr);  // oldest tracked member, never the root
  EXPECT_NE(t.find(10), nullptr);
  EXPECT_NE(t.find(14), nullptr);
  EXPECT_NE(t.find(15), nullptr);
  EXPECT_EQ(t.evictions(), 3u);

  // Only agent roots left: then the oldest root has to go.
  ProcessTable roots(2);
  exec(roots, 20, 1, 1, "/a", 20, 1);
  exec(roots, 21, 1, 2, "/a", 21, 2);
  exec(roots, 22, 1, 3, "/a", 22, 3);
  EXPECT_EQ(roots.find(20), nullptr);
  EXPECT_NE(roots.find(21), nullptr);
  EXPECT_NE(roots.find(22), nullptr);
}

TEST(ProcessTable, ExitedAgentRootIsEvictedLikeAnyExitedEntry) {
  ProcessTable t(2, 100 * kSec);
  exec(t, 10, 1, 1, "/agent", 10, 1);
  t.on_fork(11, 1, "x", 2, 0, 0);
  t.on_exit(10, 0, 3);
  t.on_fork(12, 1, "y", 4, 0, 0);
  EXPECT_EQ(t.find(10), nullptr);
  EXPECT_NE(t.find(11), nullptr);
}

TEST(ProcessTable, ExecPromotingToAgentRootChangesEvictionTier) {
  ProcessTable t(2);
  t.on_fork(1, 0, "a", 1, 0, 0);
  t.on_fork(2, 0, "b", 2, 0, 0);
  exec(t, 1, 0, 3, "/agent", 1, 3);
  t.on_fork(3, 0, "c", 4, 0, 0);
  EXPECT_NE(t.find(1), nullptr);
  EXPECT_EQ(t.find(2), nullptr);
}

TEST(ProcessTable, ZeroCapacityStillHoldsOneEntry) {
  ProcessTable t(0);
  ProcessInfo& p = exec(t, 1, 0, 1);
  EXPECT_EQ(p.pid, 1u);
  exec(t, 2, 0, 2);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.find(2), nullptr);
}

TEST(ProcessTable, ChurnStaysBoundedWithGc) {
  ProcessTable t(65536, 10 * kMs);
  exec(t, 1, 0, 0, "/agent", 1, 0);
  uint64_t ts = 1 * kMs;
  for (uint32_t i = 0; i < 2000; ++i) {
    const uint32_t pid = 1000 + (i % 300);  // pids get reused many times
    t.on_fork(pid, 1, "sh", ts, 1, 0);
    ts += 100'000;
    t.on_exec(pid, 1, 0, "tool", "/bin/tool", Args{"tool", std::to_string(i)}, "/", 1, ts, 1, 0);
    ts += 100'000;
    t.on_exit(pid, 0, ts);
    ts += 800'000;
    t.gc(ts);
    // Exits are 1 ms apart and the grace is 10 ms: at most ~11 exited entries survive gc.
    ASSERT_LE(t.size(), 1u + 11u) << "cycle " << i;
  }
  EXPECT_EQ(t.evictions(), 0u);
  EXPECT_EQ(t.missed_exits(), 0u);
  t.gc(ts + 1 * kSec);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_NE(t.find(1), nullptr);
}

TEST(ProcessTable, ChurnWithoutGcIsBoundedByEviction) {
  ProcessTable t(64, 100 * kSec);
  exec(t, 1, 0, 0, "/agent", 1, 0);
  uint64_t ts = 1;
  for (uint32_t i = 0; i < 2000; ++i) {
    const uint32_t pid = 2 + i;  // all distinct: nothing is replaced, so eviction must work
    t.on_fork(pid, 1, "sh", ts++, 1, 0);
    t.on_exec(pid, 1, 0, "tool", "/bin/tool", Args{"tool"}, "/", 1, ts++, 1, 0);
    if (i % 2 == 0) t.on_exit(pid, 0, ts++);  // half stay live, never reported (missed)
    ASSERT_LE(t.size(), 64u);
  }
  EXPECT_EQ(t.size(), 64u);
  EXPECT_EQ(t.evictions(), 2001u - 64u);
  ASSERT_NE(t.find(1), nullptr);
  EXPECT_EQ(t.find(1)->exe, "/agent");
  ASSERT_NE(t.find(2001), nullptr);  // the newest survives
}

}  // namespace
}  // namespace rein::process
