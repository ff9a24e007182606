// Rule evaluation as the kernel does it: the compiler's rule sets, a longest-prefix lookup
// and the shared rule_eval.h code (enforce::KernelModel), for each shadowing case of
// issue 8 and the ways rules combine (docs/policy.md, "How rules combine").
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "enforce/kernel_model.h"
#include "enforce/policy_compiler.h"
#include "enforce/reference_eval.h"
#include "enforce/rule_sets.h"
#include "policy/policy_parser.h"

using namespace rein;
using enforce::KernelModel;
using enforce::KernelVerdict;

namespace {

constexpr uint64_t kAgentA = 1ULL << 0;
constexpr uint64_t kAgentB = 1ULL << 1;
constexpr uint64_t kDiscovered = 1ULL << REIN_CLASS_DISCOVERED;

policy::Policy parse(const std::string& yaml) {
  auto p = policy::parse_policy(yaml, "p.yaml");
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(p).value() : policy::Policy{};
}

KernelModel model(const std::string& yaml) {
  auto k = enforce::compile_policy(parse(yaml));
  EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.error().message);
  return KernelModel(k.ok() ? *k : enforce::KernelPolicy{});
}

std::array<uint8_t, 16> v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}
std::array<uint8_t, 16> v6(const char* text) {
  auto a = policy::IpAddress::parse(text);
  EXPECT_TRUE(a && a->v6) << text;
  return a ? a->bytes : std::array<uint8_t, 16>{};
}

KernelVerdict verdict(uint8_t action, uint32_t rule) {
  return {action, rule};
}
const KernelVerdict kNone{};

const std::string kAgents = R"(agents:
  - name: A
    pid: [1]
  - name: B
    pid: [2]
)";

}  // namespace

TEST(RuleEval, NarrowCidrDoesNotHideABroaderDeny) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: deny-8
    action: deny
    network: {cidrs: ["127.0.0.0/8"], ports: [9]}
  - name: audit-32
    action: audit
    network: {cidrs: ["127.0.0.9/32"], ports: [443]}
)");
  EXPECT_EQ(m.connect(v4(127, 0, 0, 9), 9, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v4(127, 0, 0, 9), 443, kAgentA), verdict(REIN_ACT_AUDIT, 1));
  EXPECT_EQ(m.connect(v4(127, 0, 0, 9), 80, kAgentA), kNone);
  EXPECT_EQ(m.connect(v4(127, 0, 0, 5), 9, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v4(127, 0, 0, 5), 443, kAgentA), kNone);
}

TEST(RuleEval, AllowListPortsAreChecked) {
  auto m = model(R"(apiVersion: rein/v1
allow:
  - name: loopback-https
    otherwise: deny
    network: {cidrs: ["127.0.0.0/8"], ports: [443]}
)");
  EXPECT_EQ(m.connect(v4(127, 0, 0, 5), 22, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v4(127, 0, 0, 5), 443, kAgentA), kNone);
  EXPECT_EQ(m.connect(v4(10, 0, 0, 1), 443, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v6("::1"), 443, kAgentA), verdict(REIN_ACT_DENY, 0));
}

TEST(RuleEval, TwoAllowListsForTwoAgentsKeepTheirOwnCatchAll) {
  auto m = model("apiVersion: rein/v1\n" + kAgents + R"(allow:
  - name: a-net
    agents: [A]
    otherwise: deny
    network: {cidrs: ["10.0.0.0/8"]}
  - name: b-net
    agents: [B]
    otherwise: audit
    network: {cidrs: ["192.168.0.0/16"]}
)");
  EXPECT_EQ(m.connect(v4(10, 1, 1, 1), 80, kAgentA), kNone);
  EXPECT_EQ(m.connect(v4(192, 168, 1, 1), 80, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v4(192, 168, 1, 1), 80, kAgentB), kNone);
  EXPECT_EQ(m.connect(v4(10, 1, 1, 1), 80, kAgentB), verdict(REIN_ACT_AUDIT, 1));
  EXPECT_EQ(m.connect(v4(8, 8, 8, 8), 80, kDiscovered), kNone);  // in neither scope
}

TEST(RuleEval, BothAllowListsApplyToAnAgentInBoth) {
  auto m = model(R"(apiVersion: rein/v1
allow:
  - name: first
    otherwise: audit
    network: {cidrs: ["10.0.0.0/8"]}
  - name: second
    otherwise: deny
    network: {cidrs: ["10.1.0.0/16"]}
)");
  // inside both lists: allowed; inside only the first: the second's catch-all denies
  EXPECT_EQ(m.connect(v4(10, 1, 2, 3), 1, kAgentA), kNone);
  EXPECT_EQ(m.connect(v4(10, 2, 2, 3), 1, kAgentA), verdict(REIN_ACT_DENY, 1));
  EXPECT_EQ(m.connect(v4(11, 0, 0, 1), 1, kAgentA), verdict(REIN_ACT_DENY, 1));
}

TEST(RuleEval, MostSevereWinsThenLowestIndex) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: pause-all
    action: pause
    network: {cidrs: ["10.0.0.0/8"]}
  - name: deny-narrow
    action: deny
    network: {cidrs: ["10.0.0.0/24"]}
  - name: deny-narrower
    action: deny
    network: {cidrs: ["10.0.0.0/28"]}
  - name: audit-all
    action: audit
    network: {cidrs: ["0.0.0.0/0"]}
)");
  EXPECT_EQ(m.connect(v4(10, 0, 0, 1), 1, kAgentA), verdict(REIN_ACT_DENY, 1));
  EXPECT_EQ(m.connect(v4(10, 0, 0, 100), 1, kAgentA), verdict(REIN_ACT_DENY, 1));
  EXPECT_EQ(m.connect(v4(10, 9, 0, 1), 1, kAgentA), verdict(REIN_ACT_PAUSE, 0));
  EXPECT_EQ(m.connect(v4(9, 9, 9, 9), 1, kAgentA), verdict(REIN_ACT_AUDIT, 3));
}

TEST(RuleEval, ScopesAreCheckedPerRule) {
  auto m = model("apiVersion: rein/v1\n" + kAgents + R"(rules:
  - name: a-deny
    agents: [A]
    action: deny
    network: {cidrs: ["10.0.0.0/8"]}
  - name: everyone-audit
    action: audit
    network: {cidrs: ["10.0.0.1/32"]}
)");
  EXPECT_EQ(m.connect(v4(10, 0, 0, 1), 1, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v4(10, 0, 0, 1), 1, kAgentB), verdict(REIN_ACT_AUDIT, 1));
  EXPECT_EQ(m.connect(v4(10, 0, 0, 2), 1, kAgentB), kNone);
}

TEST(RuleEval, Ipv6CatchAllCidrDoesNotCoverIpv4) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: v6-all
    action: deny
    network: {cidrs: ["::/0"]}
  - name: v6-low
    action: audit
    network: {cidrs: ["::/64"]}
)");
  EXPECT_EQ(m.connect(v4(1, 2, 3, 4), 80, kAgentA), kNone);
  EXPECT_EQ(m.connect(v6("::1"), 80, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v6("2001:db8::1"), 80, kAgentA), verdict(REIN_ACT_DENY, 0));
}

TEST(RuleEval, PortsOnlyRuleCoversEveryAddress) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: smtp
    action: deny
    network: {ports: [25]}
)");
  EXPECT_EQ(m.connect(v4(1, 2, 3, 4), 25, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v6("2001:db8::1"), 25, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.connect(v4(1, 2, 3, 4), 26, kAgentA), kNone);
}

TEST(RuleEval, NarrowFilePrefixDoesNotHideABroaderDeny) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: deny-a
    action: deny
    file: {paths: ["/a/**"]}
  - name: audit-ab
    action: audit
    file: {paths: ["/a/b/**"]}
  - name: audit-etc
    action: audit
    file: {paths: ["/etc/**"]}
  - name: shadow
    action: deny
    file: {paths: ["/etc/shadow"], ops: [write]}
)");
  EXPECT_EQ(m.file("/a/b/x", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.file("/a/b", REIN_OP_UNLINK, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.file("/a", REIN_OP_RMDIR, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.file("/ab", REIN_OP_WRITE, kAgentA), kNone);
  EXPECT_EQ(m.file("/etc/shadow", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_DENY, 3));
  EXPECT_EQ(m.file("/etc/shadow", REIN_OP_CHMOD, kAgentA), verdict(REIN_ACT_AUDIT, 2));
  EXPECT_EQ(m.file("/etc/shadowx", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_AUDIT, 2));
}

TEST(RuleEval, FileOpsSelectTheRule) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: deny-unlink
    action: deny
    file: {paths: ["/a/**"], ops: [unlink]}
  - name: audit-write
    action: audit
    file: {paths: ["/a/b/**"], ops: [write]}
)");
  EXPECT_EQ(m.file("/a/b/x", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_AUDIT, 1));
  EXPECT_EQ(m.file("/a/b/x", REIN_OP_UNLINK, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.file("/a/b/x", REIN_OP_CHMOD, kAgentA), kNone);
}

TEST(RuleEval, BasenameAndPrefixRulesCombine) {
  auto m = model(R"(apiVersion: rein/v1
rules:
  - name: env-audit
    action: audit
    file: {paths: ["**/.env"]}
  - name: work-pause
    action: pause
    file: {paths: ["/work/**"]}
  - name: env-deny-writes
    action: deny
    file: {paths: ["**/.env"], ops: [write]}
)");
  EXPECT_EQ(m.file("/work/.env", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_DENY, 2));
  EXPECT_EQ(m.file("/work/.env", REIN_OP_CHMOD, kAgentA), verdict(REIN_ACT_PAUSE, 1));
  EXPECT_EQ(m.file("/x/.env", REIN_OP_CHMOD, kAgentA), verdict(REIN_ACT_AUDIT, 0));
  EXPECT_EQ(m.file("/x/env", REIN_OP_WRITE, kAgentA), kNone);
}

TEST(RuleEval, FileAllowListWithBasenameAndPrefixHoles) {
  auto m = model("apiVersion: rein/v1\n" + kAgents + R"(rules:
  - name: ssh
    action: deny
    file: {paths: ["/work/.ssh/**"]}
allow:
  - name: a-files
    agents: [A]
    otherwise: deny
    file: {paths: ["/work/**", "**/.cache"], ops: [write, create]}
  - name: b-files
    agents: [B]
    otherwise: pause
    file: {paths: ["/tmp/**"]}
)");
  EXPECT_EQ(m.file("/work/x", REIN_OP_WRITE, kAgentA), kNone);
  EXPECT_EQ(m.file("/etc/.cache", REIN_OP_WRITE, kAgentA), kNone);
  EXPECT_EQ(m.file("/etc/x", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_DENY, 1));
  EXPECT_EQ(m.file("/etc/x", REIN_OP_UNLINK, kAgentA), kNone);  // not a listed op
  EXPECT_EQ(m.file("/work/.ssh/k", REIN_OP_WRITE, kAgentA), verdict(REIN_ACT_DENY, 0));
  EXPECT_EQ(m.file("/work/x", REIN_OP_WRITE, kAgentB), verdict(REIN_ACT_PAUSE, 2));
  EXPECT_EQ(m.file("/tmp/x", REIN_OP_UNLINK, kAgentB), kNone);
}

TEST(RuleEval, LearnedAddressesMergeAndNeverOverrideADeny) {
  auto p = parse(R"(apiVersion: rein/v1
rules:
  - name: deny-lo
    action: deny
    network: {cidrs: ["127.0.0.0/8"]}
  - name: audit-host
    action: audit
    network: {hosts: ["audited.example"]}
allow:
  - name: only-good
    otherwise: deny
    network: {hosts: ["good.example"], ports: [443]}
)");
  auto k = enforce::compile_policy(p);
  ASSERT_TRUE(k.ok());
  KernelModel m(*k);
  // what the kernel learns from an answer naming audited.example: the host's rule as compiled
  rein_rule audit{};
  for (const auto& [h, set] : k->host_sets)
    for (uint32_t i = 0; i < set.n; i++)
      if (set.r[i].rule == 1) audit = set.r[i];
  ASSERT_EQ(audit.action, REIN_ACT_AUDIT);
  EXPECT_EQ(m.learn(v4(127, 0, 0, 3), audit), 0);
  EXPECT_EQ(m.connect(v4(127, 0, 0, 3), 80, kAgentA), verdict(REIN_ACT_DENY, 0));

  rein_rule good{};
  for (const auto& [h, set] : k->host_sets)
    for (uint32_t i = 0; i < set.n; i++)
      if (set.r[i].rule == 2) good = set.r[i];
  ASSERT_EQ(good.action, REIN_ACT_NONE);
  EXPECT_EQ(good.list, enforce::allow_list_id(p, 0));
  EXPECT_EQ(m.connect(v4(8, 8, 8, 8), 443, kAgentA), verdict(REIN_ACT_DENY, 2));
  EXPECT_EQ(m.learn(v4(8, 8, 8, 8), good), 0);
  EXPECT_EQ(m.connect(v4(8, 8, 8, 8), 443, kAgentA), kNone);
  EXPECT_EQ(m.connect(v4(8, 8, 8, 8), 22, kAgentA), verdict(REIN_ACT_DENY, 2));  // port not allowed
  // allowed name on a denied address: the CIDR deny stays
  EXPECT_EQ(m.learn(v4(127, 0, 0, 4), good), 0);
  EXPECT_EQ(m.connect(v4(127, 0, 0, 4), 443, kAgentA), verdict(REIN_ACT_DENY, 0));
  // learning the same entry twice changes nothing
  EXPECT_EQ(m.learn(v4(8, 8, 8, 8), good), 0);
  EXPECT_EQ(m.connect(v4(8, 8, 8, 8), 443, kAgentA), kNone);
}

TEST(RuleEval, FullSetKeepsDeniesAndCatchAllsWhenLearning) {
  rein_rule_set s{};
  for (uint32_t i = 0; i < REIN_RULESET_MAX; i++) {
    rein_rule r{};
    r.rule = i;
    r.scope = ~0ULL;
    r.ops = ~0u;
    r.action = i == 0 ? REIN_ACT_DENY : i == 1 ? REIN_ACT_AUDIT : REIN_ACT_PAUSE;
    if (i == 2) r.list = 1;  // a catch-all
    rein_set_add(&s, &r);
  }
  ASSERT_EQ(s.n, uint32_t(REIN_RULESET_MAX));
  rein_rule allow{};
  allow.rule = 100;
  allow.list = 1;
  allow.scope = ~0ULL;
  allow.ops = ~0u;
  EXPECT_EQ(rein_set_add(&s, &allow), -1);  // dropped: its list's catch-all keeps firing
  rein_rule deny = allow;
  deny.list = 0;
  deny.action = REIN_ACT_DENY;
  EXPECT_EQ(rein_set_add(&s, &deny), 1);  // replaces the audit rule
  EXPECT_EQ(s.r[1].rule, 100u);
  EXPECT_EQ(s.r[0].action, REIN_ACT_DENY);
  EXPECT_EQ(s.r[2].list, 1);
}

TEST(RuleEval, MoreThanSixteenCoveringRulesIsAnErrorWithPosition) {
  std::string yaml = "apiVersion: rein/v1\nrules:\n";
  for (int i = 0; i < REIN_RULESET_MAX + 1; i++)
    yaml += "  - name: r" + std::to_string(i) + "\n    action: audit\n    network: {cidrs: [\"10." +
            std::to_string(i) + ".0.0/16\", \"10.0.0.0/8\"]}\n";
  auto k = enforce::compile_policy(parse(yaml));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find("p.yaml:"), std::string::npos) << k.error().message;
  EXPECT_NE(k.error().message.find("more than 16 rules cover"), std::string::npos)
      << k.error().message;

  yaml = "apiVersion: rein/v1\nrules:\n";
  for (int i = 0; i < REIN_RULESET_MAX; i++)
    yaml += "  - name: r" + std::to_string(i) +
            "\n    action: audit\n    network: {cidrs: [\"10.0.0.0/8\"]}\n";
  EXPECT_TRUE(enforce::compile_policy(parse(yaml)).ok());
  // a 17th rule on a separate branch still fits
  yaml += "  - name: other\n    action: audit\n    network: {cidrs: [\"11.0.0.0/8\"]}\n";
  EXPECT_TRUE(enforce::compile_policy(parse(yaml)).ok());
  // file prefixes: the error names the path
  yaml = "apiVersion: rein/v1\nrules:\n";
  for (int i = 0; i < REIN_RULESET_MAX + 1; i++)
    yaml +=
        "  - name: f" + std::to_string(i) + "\n    action: audit\n    file: {paths: [\"/a/**\"]}\n";
  k = enforce::compile_policy(parse(yaml));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find("cover path '/a"), std::string::npos) << k.error().message;
}

TEST(RuleEval, ReferenceAgreesOnTheIssueCases) {
  auto p = parse(R"(apiVersion: rein/v1
rules:
  - name: deny-8
    action: deny
    network: {cidrs: ["127.0.0.0/8"], ports: [9]}
  - name: audit-32
    action: audit
    network: {cidrs: ["127.0.0.9/32"], ports: [443]}
)");
  policy::AgentRef who{"s", "x", true};
  auto v = enforce::reference_connect(p, who, *policy::IpAddress::parse("127.0.0.9"), 9, {});
  ASSERT_TRUE(v.action);
  EXPECT_EQ(*v.action, policy::Action::kDeny);
  EXPECT_EQ(v.rule, 0u);
  v = enforce::reference_connect(p, who, *policy::IpAddress::parse("127.0.0.9"), 80, {});
  EXPECT_FALSE(v.action);
}

TEST(RuleEval, LeafSetsHoldEveryCoveringRuleOfTheirFamily) {
  auto k = enforce::compile_policy(parse(R"(apiVersion: rein/v1
rules:
  - name: v6-all
    action: deny
    network: {cidrs: ["::/0"]}
  - name: v4-8
    action: audit
    network: {cidrs: ["10.0.0.0/8"]}
  - name: v4-32
    action: audit
    network: {cidrs: ["10.0.0.1/32"]}
  - name: a-dir
    action: deny
    file: {paths: ["/a/**"]}
  - name: a-file
    action: audit
    file: {paths: ["/a/b"]}
)"));
  ASSERT_TRUE(k.ok());
  std::map<std::string, std::vector<uint32_t>> net;
  for (const auto& [key, set] : k->network_sets) {
    auto& rules = net[enforce::net_key_text(key)];
    for (uint32_t i = 0; i < set.n; i++) rules.push_back(set.r[i].rule);
  }
  // the whole IPv4 range is a leaf of its own, so ::/0 never reaches IPv4 peers
  ASSERT_TRUE(net.count("0.0.0.0/0"));
  EXPECT_TRUE(net["0.0.0.0/0"].empty());
  EXPECT_EQ(net["::/0"], (std::vector<uint32_t>{0}));
  EXPECT_EQ(net["10.0.0.0/8"], (std::vector<uint32_t>{1}));
  EXPECT_EQ(net["10.0.0.1/32"], (std::vector<uint32_t>{1, 2}));
  std::map<std::string, std::vector<uint32_t>> files;
  for (const auto& [prefix, set] : k->file_prefix_sets)
    for (uint32_t i = 0; i < set.n; i++) files[prefix].push_back(set.r[i].rule);
  EXPECT_EQ(files["/a/"], (std::vector<uint32_t>{3}));
  EXPECT_EQ(files["/a"], (std::vector<uint32_t>{3}));  // the directory entry of "/a/**"
  EXPECT_EQ(files["/a/b"], (std::vector<uint32_t>{3, 4}));
}

// Exec rules on one executable in different scopes (or with different actions) all stay in
// the kernel's set: the most severe that applies to the process decides.
TEST(RuleEval, TwoExecRulesOnOneExecutableBothHold) {
  auto k = enforce::compile_policy(parse("apiVersion: rein/v1\n" + kAgents + R"(rules:
  - name: audit-curl
    action: audit
    exec: {paths: [curl]}
  - name: deny-curl-for-a
    agents: [A]
    action: deny
    exec: {paths: [curl]}
)"));
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_EQ(k->exec_sets.size(), 1u);
  const rein_rule_set& set = k->exec_sets[0].second;
  EXPECT_EQ(set.n, 2u);
  auto decide = [&](uint64_t scope) {
    rein_eval_query q{};
    q.scope = scope;
    rein_eval_state st;
    rein_eval_init(&st);
    rein_eval_rules(&set, &q, &st);
    rein_eval_otherwise(&set, &q, &st);
    return std::make_pair(st.action, st.rule);
  };
  EXPECT_EQ(decide(kAgentA), std::make_pair(uint8_t(REIN_ACT_DENY), uint32_t(1)));
  EXPECT_EQ(decide(kAgentB), std::make_pair(uint8_t(REIN_ACT_AUDIT), uint32_t(0)));
}
