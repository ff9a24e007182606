// `rein replay --policy`: the kernel's verdicts under the new policy (pipeline/replay_kernel.h),
// on records built the way the BPF programs lay them out.
#include "pipeline/replay_kernel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "abi_record_builder.h"
#include "policy/policy_parser.h"

namespace {

using namespace rein::testrec;
using rein::pipeline::ReplayKernel;

constexpr const char* kPolicy = R"(apiVersion: rein/v1
rules:
  - name: audit-etc
    action: audit
    file:
      paths: ["/etc/**"]
  - name: no-notes
    action: deny
    file:
      paths: ["/work/notes/**"]
  - name: no-listener
    action: deny
    network:
      cidrs: ["127.0.0.1/32"]
      ports: [4242]
  - name: no-nc
    action: deny
    exec:
      paths: [/usr/bin/nc]
)";

std::unique_ptr<ReplayKernel> build(const char* text = kPolicy) {
  auto p = rein::policy::parse_policy(text, "test.yaml");
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  auto k = ReplayKernel::build(*p, {0});
  EXPECT_TRUE(k);
  return std::move(*k);
}

std::string str(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

template <class T>
T as(const std::string& s) {
  T t{};
  EXPECT_GE(s.size(), sizeof(T));
  std::memcpy(&t, s.data(), sizeof(T));
  return t;
}

TEST(ReplayKernel, DeniedConnectGetsThePolicyNetRecordTheKernelWouldSend) {
  auto k = build();
  std::string rec =
      str(connect_rec({.ts = 5, .tgid = 300, .agent = 300}, sockaddr_v4("127.0.0.1", 4242)));
  auto pn = k->judge(rec);
  ASSERT_TRUE(pn);
  auto e = as<rein_policy_net>(*pn);
  EXPECT_EQ(e.h.kind, REIN_REC_POLICY_NET);
  EXPECT_EQ(e.h.size, sizeof(rein_policy_net));
  EXPECT_EQ(e.h.tgid, 300u);
  EXPECT_EQ(e.h.ts_ns, 5u);
  EXPECT_EQ(e.rule, 2u);  // the rule index itself, as net_policy() sends it
  EXPECT_EQ(e.action, REIN_ACT_DENY);
  EXPECT_EQ(e.outcome, REIN_OUT_PREVENTED);
  EXPECT_EQ(e.port, 4242);
  EXPECT_EQ(e.family, 2);
  EXPECT_EQ(e.addr[10], 0xff);
  EXPECT_EQ(e.addr[12], 127);
  EXPECT_EQ(e.budget, 0u);

  std::string other = str(connect_rec({.tgid = 300, .agent = 300}, sockaddr_v4("127.0.0.1", 4243)));
  EXPECT_FALSE(k->judge(other)) << "another port";
  std::string untracked =
      str(connect_rec({.tgid = 301, .agent = 0}, sockaddr_v4("127.0.0.1", 4242)));
  EXPECT_FALSE(k->judge(untracked)) << "the kernel judges tracked processes only";
}

TEST(ReplayKernel, FileVerdictsAreWrittenIntoTheRecord) {
  auto k = build();
  std::string rec = str(file_rec(
      {.h = {.tgid = 300, .agent = 300}, .op = REIN_OP_WRITE, .path = "/work/notes/out.txt"}));
  EXPECT_FALSE(k->judge(rec));
  auto f = as<rein_file>(rec);
  EXPECT_EQ(f.rule, 2u);  // rule index + 1
  EXPECT_EQ(f.action, REIN_ACT_DENY);
  EXPECT_EQ(f.outcome, REIN_OUT_KILLED);

  std::string audit =
      str(file_rec({.h = {.tgid = 300, .agent = 300}, .op = REIN_OP_CREATE, .path = "/etc/hosts"}));
  k->judge(audit);
  EXPECT_EQ(as<rein_file>(audit).outcome, REIN_OUT_AUDITED);

  std::string outside = str(
      file_rec({.h = {.tgid = 300, .agent = 300}, .op = REIN_OP_WRITE, .path = "/work/other.txt"}));
  std::string before = outside;
  k->judge(outside);
  EXPECT_EQ(outside, before);

  // rename: the more severe of both names acts
  std::string ren = str(file_rec({.h = {.tgid = 300, .agent = 300},
                                  .op = REIN_OP_RENAME,
                                  .path = "/etc/x",
                                  .path2 = "/work/notes/x"}));
  k->judge(ren);
  EXPECT_EQ(as<rein_file>(ren).action, REIN_ACT_DENY);

  std::string open = str(file_open_rec({.h = {.tgid = 300, .agent = 300},
                                        .file_id = 1,
                                        .fd = 3,
                                        .flags = REIN_F_CREATED,
                                        .open_flags = 01101,
                                        .mode = 0100644,
                                        .path = "/work/notes/new.txt"}));
  k->judge(open);
  EXPECT_EQ(as<rein_file_open>(open).outcome, REIN_OUT_KILLED);
}

TEST(ReplayKernel, ExecPathRule) {
  auto k = build();
  std::string rec = str(exec_rec({.h = {.tgid = 310, .agent = 300}, .exe = "/usr/bin/nc"}));
  k->judge(rec);
  auto e = as<rein_exec>(rec);
  EXPECT_EQ(e.rule, 4u);
  EXPECT_EQ(e.outcome, REIN_OUT_KILLED);
  std::string other = str(exec_rec({.h = {.tgid = 311, .agent = 300}, .exe = "/usr/bin/ls"}));
  k->judge(other);
  EXPECT_EQ(as<rein_exec>(other).rule, 0u);
}

// The kernel judges the file that ran, then the absolute name it was exec'd by.
TEST(ReplayKernel, ExecRuleOnTheNameExecdBy) {
  auto k = build();
  std::string rec = str(exec_rec(
      {.h = {.tgid = 312, .agent = 300}, .exe = "/usr/bin/nc.openbsd", .exec_name = "/usr/bin/nc"}));
  k->judge(rec);
  EXPECT_EQ(as<rein_exec>(rec).rule, 4u);
  EXPECT_EQ(as<rein_exec>(rec).outcome, REIN_OUT_KILLED);
  // a relative name is not judged (the kernel's rule keys are absolute paths and basenames)
  std::string rel = str(exec_rec(
      {.h = {.tgid = 313, .agent = 300}, .exe = "/usr/bin/nc.openbsd", .exec_name = "bin/nc"}));
  k->judge(rel);
  EXPECT_EQ(as<rein_exec>(rel).rule, 0u);
}

TEST(ReplayKernel, ExecMapIsJudgedByTheExecRules) {
  auto k = build();
  std::string rec = str(exec_map_rec({.tgid = 314, .agent = 300}, "/usr/bin/nc"));
  k->judge(rec);
  EXPECT_EQ(as<rein_mechanism>(rec).rule, 4u);
  EXPECT_EQ(as<rein_mechanism>(rec).outcome, REIN_OUT_KILLED);
  std::string other = str(exec_map_rec({.tgid = 314, .agent = 300}, "/usr/bin/ls"));
  k->judge(other);
  EXPECT_EQ(as<rein_mechanism>(other).rule, 0u);
}

// What the kernel bans under any rule of a kind: io_uring under a file rule, a raw socket
// under a network rule, a BPF object by id under either; a reach for the sensor always.
// As the kernel: a path longer than the 256-byte key is judged by its file name.
TEST(ReplayKernel, ExecPathPastTheKeyIsJudgedByItsFileName) {
  auto k = build();
  const std::string deep = "/" + std::string(300, 'd') + "/nc";
  std::string rec = str(exec_rec({.h = {.tgid = 330, .agent = 300}, .exe = deep}));
  k->judge(rec);
  EXPECT_EQ(as<rein_exec>(rec).rule, 0u);  // no-nc names /usr/bin/nc, not the file name
  auto b = build(R"(apiVersion: rein/v1
rules:
  - name: no-nc
    action: deny
    exec:
      paths: [nc]
)");
  std::string rec2 = str(exec_rec({.h = {.tgid = 331, .agent = 300}, .exe = deep}));
  b->judge(rec2);
  EXPECT_EQ(as<rein_exec>(rec2).rule, 1u);
  EXPECT_EQ(as<rein_exec>(rec2).outcome, REIN_OUT_KILLED);
}

TEST(ReplayKernel, ScopeBansFollowTheReplayPolicy) {
  auto k = build();
  k->on_track(300, 0);
  std::string raw = str(raw_socket_rec({.tgid = 301, .agent = 300}, 17, 2));
  k->judge(raw);
  EXPECT_EQ(as<rein_mechanism>(raw).rule, 3u);  // no-listener, the first network rule
  EXPECT_EQ(as<rein_mechanism>(raw).outcome, REIN_OUT_KILLED);
  rein_mechanism u{};
  u.h.kind = REIN_REC_MECHANISM;
  u.h.agent = 300;
  u.mechanism = REIN_MECH_IO_URING_SETUP;
  std::string uring(reinterpret_cast<const char*>(&u), sizeof(u));
  k->judge(uring);
  EXPECT_EQ(as<rein_mechanism>(uring).rule, 1u);  // audit-etc, the first file rule
  std::string grab = str(tamper_rec({.tgid = 301, .agent = 300}, 14));
  k->judge(grab);
  EXPECT_EQ(as<rein_mechanism>(grab).rule, 1u);
  EXPECT_EQ(as<rein_mechanism>(grab).flags, 14u);
  std::string untracked = str(raw_socket_rec({.tgid = 900}, 17, 2));
  k->judge(untracked);
  EXPECT_EQ(as<rein_mechanism>(untracked).rule, 0u);

  auto none = build("apiVersion: rein/v1\n");
  none->on_track(300, 0);
  std::string raw2 = str(raw_socket_rec({.tgid = 301, .agent = 300}, 17, 2));
  none->judge(raw2);
  EXPECT_EQ(as<rein_mechanism>(raw2).outcome, 0);
  std::string ptr = str(tamper_rec({.tgid = 301, .agent = 300}, 0x10000 | 101));
  none->judge(ptr);
  EXPECT_EQ(as<rein_mechanism>(ptr).outcome, REIN_OUT_KILLED);
}

TEST(ReplayKernel, FilelessRuleActsOnAnExecWithNoNameOnDisk) {
  auto k = build(R"(apiVersion: rein/v1
rules:
  - name: no-fileless
    action: deny
    exec: {fileless: true}
)");
  std::string rec = str(exec_rec(
      {.h = {.tgid = 320, .agent = 300}, .flags = REIN_F_FILELESS, .exe = "/memfd:payload"}));
  k->judge(rec);
  EXPECT_EQ(as<rein_exec>(rec).rule, 1u);
  EXPECT_EQ(as<rein_exec>(rec).outcome, REIN_OUT_KILLED);
  std::string named = str(exec_rec({.h = {.tgid = 321, .agent = 300}, .exe = "/usr/bin/true"}));
  k->judge(named);
  EXPECT_EQ(as<rein_exec>(named).rule, 0u);
}

TEST(ReplayKernel, BudgetBlockRefusesLlmEndpointsOfThatAgent) {
  auto k = build();
  std::array<uint8_t, 16> a{};
  a[10] = a[11] = 0xff;
  a[12] = 10, a[13] = 1, a[14] = 2, a[15] = 3;
  k->add_llm_endpoint(a, 443);
  k->block_llm(300, 1);
  std::string rec = str(connect_rec({.tgid = 300, .agent = 300}, sockaddr_v4("10.1.2.3", 443)));
  auto pn = k->judge(rec);
  ASSERT_TRUE(pn);
  EXPECT_EQ(as<rein_policy_net>(*pn).budget, 1u);
  std::string other_agent =
      str(connect_rec({.tgid = 400, .agent = 400}, sockaddr_v4("10.1.2.3", 443)));
  EXPECT_FALSE(k->judge(other_agent));
  k->block_llm(300, 0);
  EXPECT_FALSE(k->judge(rec));
}

}  // namespace
