#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "enforce/policy_compiler.h"
#include "pipeline/selectors.h"
#include "policy/policy_parser.h"

using namespace rein;
using rein::enforce::KernelPolicy;

namespace {

policy::Policy parse(const std::string& yaml, const char* file = "p.yaml") {
  auto p = policy::parse_policy(yaml, file);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  if (!p.ok()) return policy::Policy{};
  return std::move(p).value();
}

KernelPolicy compile(const std::string& yaml) {
  auto p = parse(yaml);
  auto k = enforce::compile_policy(p);
  EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.error().message);
  if (!k.ok()) return KernelPolicy{};
  return std::move(k).value();
}

std::string file_rule(const std::string& paths, const std::string& extra = "") {
  return "apiVersion: rein/v1\nrules:\n  - name: r\n    action: deny\n    file:\n      paths: " + paths +
         "\n" + extra;
}

std::string net_rule(const std::string& body, const std::string& action = "deny") {
  return "apiVersion: rein/v1\nrules:\n  - name: n\n    action: " + action + "\n    network: " + body + "\n";
}

// The v4-mapped form, spelt out independently of the compiler.
std::array<uint8_t, 16> v4_mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

std::array<uint8_t, 16> key_addr(const rein_net_key& k) {
  std::array<uint8_t, 16> a{};
  std::memcpy(a.data(), k.addr, 16);
  return a;
}

constexpr uint32_t kAllKernelOps = 0x1ffeu;  // REIN_OP_CREATE (bit 1) .. REIN_OP_XATTR (bit 12)

}  // namespace

TEST(EnforceCompiler, Fnv1aIsTheReferenceFunction) {
  // Published FNV-1a 64 test vectors: the kernel side computes the same function.
  EXPECT_EQ(pipeline::fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(pipeline::fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(pipeline::fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(EnforceCompiler, SubtreeGlobBecomesAPrefixAndTheDirectoryItself) {
  auto k = compile(file_rule(R"(["/root/.ssh/**"])"));
  ASSERT_EQ(k.file_prefixes.size(), 2u);
  EXPECT_EQ(k.file_prefixes[0].first, "/root/.ssh/");
  // "/root/.ssh/**" also matches /root/.ssh (renaming or removing the directory)
  EXPECT_EQ(k.file_prefixes[1].first, "/root/.ssh");
  EXPECT_EQ(k.file_prefixes[1].second.exact, 1);
  EXPECT_EQ(k.file_prefixes[1].second.prefix_len, 10);
  const rein_rule& r = k.file_prefixes[0].second;
  EXPECT_EQ(r.exact, 0);
  EXPECT_EQ(r.rule, 0u);
  EXPECT_EQ(r.action, REIN_ACT_DENY);
  EXPECT_EQ(r.ops, kAllKernelOps);
  EXPECT_EQ(r.scope, ~0ULL);
  EXPECT_TRUE(k.file_basenames.empty());
  EXPECT_TRUE(k.user_space_notes.empty());
}

TEST(EnforceCompiler, LiteralPathIsExact) {
  auto k = compile(file_rule(R"(["/etc/shadow"])"));
  ASSERT_EQ(k.file_prefixes.size(), 1u);
  EXPECT_EQ(k.file_prefixes[0].first, "/etc/shadow");
  EXPECT_EQ(k.file_prefixes[0].second.exact, 1);
  EXPECT_EQ(k.file_prefixes[0].second.prefix_len, 11);
}

TEST(EnforceCompiler, AnyDepthNameBecomesBasenameHash) {
  auto k = compile(file_rule(R"(["**/.env"])"));
  EXPECT_TRUE(k.file_prefixes.empty());
  ASSERT_EQ(k.file_basenames.size(), 1u);
  EXPECT_EQ(k.file_basenames[0].first, pipeline::fnv1a64(".env"));
  EXPECT_NE(k.file_basenames[0].first, pipeline::fnv1a64("**/.env"));
  EXPECT_EQ(k.file_basenames[0].second.action, REIN_ACT_DENY);
}

TEST(EnforceCompiler, OtherGlobsAreLeftToUserSpace) {
  auto k = compile(file_rule(R"(["/a/*.txt", "/b/**"])"));
  // The prefix pattern still compiles (prefix + the directory); only the wildcard one is noted.
  ASSERT_EQ(k.file_prefixes.size(), 2u);
  EXPECT_EQ(k.file_prefixes[0].first, "/b/");
  EXPECT_TRUE(k.file_basenames.empty());
  ASSERT_EQ(k.user_space_notes.size(), 1u);
  EXPECT_NE(k.user_space_notes[0].find("/a/*.txt"), std::string::npos) << k.user_space_notes[0];
  EXPECT_EQ(k.user_space_notes[0].find("/b/**"), std::string::npos) << k.user_space_notes[0];
}

TEST(EnforceCompiler, FileOpsUseKernelNumbering) {
  auto k = compile(file_rule(R"(["/x/**"])", "      ops: [create, symlink]\n"));
  ASSERT_EQ(k.file_prefixes.size(), 2u);
  EXPECT_EQ(k.file_prefixes[0].second.ops, (1u << REIN_OP_CREATE) | (1u << REIN_OP_SYMLINK));

  k = compile(file_rule(R"(["/x/**"])", "      ops: [write, rename, rmdir]\n"));
  ASSERT_EQ(k.file_prefixes.size(), 2u);
  EXPECT_EQ(k.file_prefixes[0].second.ops,
            (1u << REIN_OP_WRITE) | (1u << REIN_OP_RENAME) | (1u << REIN_OP_RMDIR));

  // Each policy op i lands on bit i + 1 and nowhere else.
  for (unsigned i = 0; i < policy::kFileOpCount; i++) {
    std::string name(policy::file_op_name(static_cast<policy::FileOp>(i)));
    k = compile(file_rule(R"(["/x/**"])", "      ops: [" + name + "]\n"));
    ASSERT_EQ(k.file_prefixes.size(), 2u) << name;
    EXPECT_EQ(k.file_prefixes[0].second.ops, 1u << (i + 1)) << name;
  }
}

TEST(EnforceCompiler, ExecPathsHashPathAndBasename) {
  auto k = compile(R"(apiVersion: rein/v1
rules:
  - name: e
    action: pause
    exec: {paths: [/usr/bin/nc, curl]}
)");
  ASSERT_EQ(k.execs.size(), 2u);
  std::vector<uint64_t> hashes{k.execs[0].first, k.execs[1].first};
  std::sort(hashes.begin(), hashes.end());
  std::vector<uint64_t> want{pipeline::fnv1a64("/usr/bin/nc"), pipeline::fnv1a64("curl")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(hashes, want);
  for (const auto& [h, r] : k.execs) {
    EXPECT_EQ(r.action, REIN_ACT_PAUSE);
    EXPECT_EQ(r.rule, 0u);
  }
}

TEST(EnforceCompiler, ExecWithArgvStaysInUserSpace) {
  auto k = compile(R"(apiVersion: rein/v1
rules:
  - name: shells
    action: deny
    exec:
      paths: [curl]
      argv: ["curl .*\\| *sh"]
)");
  EXPECT_TRUE(k.execs.empty());
  ASSERT_EQ(k.user_space_notes.size(), 1u);
  EXPECT_NE(k.user_space_notes[0].find("shells"), std::string::npos);
  EXPECT_NE(k.user_space_notes[0].find("argv"), std::string::npos);
}

TEST(EnforceCompiler, Ipv4CidrIsMappedWithPrefixPlus96) {
  auto k = compile(net_rule(R"({cidrs: ["10.0.0.0/8"]})"));
  ASSERT_EQ(k.networks.size(), 1u);
  EXPECT_EQ(k.networks[0].first.prefixlen, 104u);
  EXPECT_EQ(key_addr(k.networks[0].first), v4_mapped(10, 0, 0, 0));
  EXPECT_EQ(k.networks[0].second.nports, 0);
  EXPECT_EQ(k.networks[0].second.action, REIN_ACT_DENY);

  // Host bits are cleared before the key is built.
  k = compile(net_rule(R"({cidrs: ["192.168.7.9/16"]})"));
  ASSERT_EQ(k.networks.size(), 1u);
  EXPECT_EQ(k.networks[0].first.prefixlen, 112u);
  EXPECT_EQ(key_addr(k.networks[0].first), v4_mapped(192, 168, 0, 0));
}

TEST(EnforceCompiler, Ipv6CidrKeepsItsPrefix) {
  auto k = compile(net_rule(R"({cidrs: ["fd00::/8"]})"));
  ASSERT_EQ(k.networks.size(), 1u);
  EXPECT_EQ(k.networks[0].first.prefixlen, 8u);
  std::array<uint8_t, 16> want{};
  want[0] = 0xfd;
  EXPECT_EQ(key_addr(k.networks[0].first), want);
}

TEST(EnforceCompiler, PortRangesAreCopied) {
  auto k = compile(net_rule(R"({cidrs: ["1.2.3.4/32"], ports: [80, "8000-8100", 443, 22]})"));
  ASSERT_EQ(k.networks.size(), 1u);
  const rein_rule& r = k.networks[0].second;
  EXPECT_EQ(k.networks[0].first.prefixlen, 128u);
  ASSERT_EQ(r.nports, 4);
  EXPECT_EQ(r.ports[0][0], 80);
  EXPECT_EQ(r.ports[0][1], 80);
  EXPECT_EQ(r.ports[1][0], 8000);
  EXPECT_EQ(r.ports[1][1], 8100);
  EXPECT_EQ(r.ports[2][0], 443);
  EXPECT_EQ(r.ports[3][0], 22);
  EXPECT_EQ(r.ports[3][1], 22);
}

TEST(EnforceCompiler, FivePortRangesAreAnErrorWithPosition) {
  auto p = parse(R"(apiVersion: rein/v1
rules:
  - name: ok
    action: audit
    network: {ports: [1]}
  - name: many
    action: deny
    network: {ports: [1, 2, 3, 4, 5]}
)",
                 "ports.yaml");
  auto k = enforce::compile_policy(p);
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find("ports.yaml:6:5:"), std::string::npos) << k.error().message;
  EXPECT_NE(k.error().message.find("rules[1]"), std::string::npos) << k.error().message;
}

TEST(EnforceCompiler, ExactHostsAreHashedWildcardsAreNot) {
  auto k = compile(net_rule(R"({hosts: ["evil.example.com", "*.x.com"], ports: [443]})"));
  ASSERT_EQ(k.hosts.size(), 1u);
  EXPECT_EQ(k.hosts[0].first, pipeline::fnv1a64("evil.example.com"));
  EXPECT_EQ(k.hosts[0].second.nports, 1);
  EXPECT_EQ(k.hosts[0].second.ports[0][0], 443);
  EXPECT_TRUE(k.networks.empty());
  EXPECT_FALSE(k.user_space_notes.empty());

  // Case and a trailing dot are normalised before hashing.
  k = compile(net_rule(R"({hosts: ["Evil.Example.COM."]})"));
  ASSERT_EQ(k.hosts.size(), 1u);
  EXPECT_EQ(k.hosts[0].first, pipeline::fnv1a64("evil.example.com"));
}

TEST(EnforceCompiler, FileAllowScopeIsCatchAllPlusHoles) {
  auto p = parse(R"(apiVersion: rein/v1
rules:
  - name: r0
    action: audit
    file: {paths: ["/etc/**"]}
allow:
  - name: workspace-only
    otherwise: pause
    file: {paths: ["/work/**", "/tmp/**"], ops: [write]}
)");
  auto k = enforce::compile_policy(p);
  ASSERT_TRUE(k.ok());
  uint32_t idx = enforce::allow_rule_index(p, 0);
  EXPECT_EQ(idx, 1u);
  const rein_rule* root = nullptr;
  std::vector<std::string> holes;
  for (const auto& [prefix, r] : k->file_prefixes) {
    if (prefix == "/") {
      root = &r;
    } else if (r.rule == idx) {
      EXPECT_EQ(r.action, REIN_ACT_NONE) << prefix;
      EXPECT_EQ(r.ops, 1u << REIN_OP_WRITE) << prefix;
      holes.push_back(prefix);
    } else {
      EXPECT_TRUE(prefix == "/etc/" || prefix == "/etc") << prefix;
      EXPECT_EQ(r.rule, 0u);
    }
  }
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->action, REIN_ACT_PAUSE);
  EXPECT_EQ(root->rule, idx);
  EXPECT_EQ(root->exact, 0);
  EXPECT_EQ(root->ops, 1u << REIN_OP_WRITE);
  std::sort(holes.begin(), holes.end());
  EXPECT_EQ(holes, (std::vector<std::string>{"/tmp", "/tmp/", "/work", "/work/"}));
}

TEST(EnforceCompiler, NetworkAllowScopeCoversBothFamilies) {
  auto p = parse(R"(apiVersion: rein/v1
allow:
  - name: only-internal
    otherwise: deny
    network: {cidrs: ["10.0.0.0/8"]}
)");
  auto k = enforce::compile_policy(p);
  ASSERT_TRUE(k.ok());
  bool all6 = false, all4 = false, hole = false;
  for (const auto& [key, r] : k->networks) {
    EXPECT_EQ(r.rule, 0u);
    auto a = key_addr(key);
    if (key.prefixlen == 0) {
      all6 = true;
      EXPECT_EQ(a, (std::array<uint8_t, 16>{}));
      EXPECT_EQ(r.action, REIN_ACT_DENY);
    } else if (key.prefixlen == 96) {
      all4 = true;
      EXPECT_EQ(a, v4_mapped(0, 0, 0, 0));
      EXPECT_EQ(r.action, REIN_ACT_DENY);
    } else {
      hole = true;
      EXPECT_EQ(key.prefixlen, 104u);
      EXPECT_EQ(a, v4_mapped(10, 0, 0, 0));
      EXPECT_EQ(r.action, REIN_ACT_NONE);
    }
  }
  EXPECT_TRUE(all6);
  EXPECT_TRUE(all4);
  EXPECT_TRUE(hole);
  EXPECT_EQ(k->networks.size(), 3u);
}

TEST(EnforceCompiler, ScopeMaskBits) {
  auto p = parse(R"(apiVersion: rein/v1
agents:
  - name: agentA
    exe: [a]
  - name: agentB
    exe: [b]
rules:
  - name: everyone
    action: deny
    file: {paths: ["/x/**"]}
  - name: only-b
    agents: [agentB]
    action: deny
    file: {paths: ["/x/**"]}
  - name: only-a
    agents: [agentA]
    action: deny
    file: {paths: ["/x/**"]}
  - name: discovered
    agents: [autodiscovered]
    action: deny
    file: {paths: ["/x/**"]}
  - name: a-and-discovered
    agents: [agentA, autodiscovered]
    action: deny
    file: {paths: ["/x/**"]}
)");
  ASSERT_EQ(p.rules.size(), 5u);
  EXPECT_EQ(enforce::scope_mask(p, p.rules[0].scope), ~0ULL);
  EXPECT_EQ(enforce::scope_mask(p, p.rules[1].scope), 1ULL << 1);
  EXPECT_EQ(enforce::scope_mask(p, p.rules[2].scope), 1ULL << 0);
  EXPECT_EQ(enforce::scope_mask(p, p.rules[3].scope), 1ULL << 63);
  EXPECT_EQ(enforce::scope_mask(p, p.rules[4].scope), (1ULL << 63) | 1ULL);

  auto k = enforce::compile_policy(p);
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->file_prefixes.size(), 10u);  // each "/x/**": the subtree and the directory
  for (const auto& [prefix, r] : k->file_prefixes)
    EXPECT_EQ(r.scope, enforce::scope_mask(p, p.rules[r.rule].scope)) << r.rule;
}

TEST(EnforceCompiler, RuleIndicesRulesThenAllowScopes) {
  auto p = parse(R"(apiVersion: rein/v1
rules:
  - name: r0
    action: deny
    exec: {paths: [nc]}
  - name: r1
    action: audit
    network: {cidrs: ["1.1.1.1/32"]}
  - name: r2
    action: audit
    file: {paths: ["**/id_rsa"]}
allow:
  - name: a0
    otherwise: audit
    network: {cidrs: ["::1/128"]}
  - name: a1
    otherwise: deny
    file: {paths: ["/w/**"]}
)");
  auto k = enforce::compile_policy(p);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(enforce::allow_rule_index(p, 0), 3u);
  EXPECT_EQ(enforce::allow_rule_index(p, 1), 4u);
  ASSERT_EQ(k->execs.size(), 1u);
  EXPECT_EQ(k->execs[0].second.rule, 0u);
  ASSERT_EQ(k->file_basenames.size(), 1u);
  EXPECT_EQ(k->file_basenames[0].second.rule, 2u);
  EXPECT_EQ(k->file_basenames[0].second.action, REIN_ACT_AUDIT);
  for (const auto& [key, r] : k->networks) {
    if (key.prefixlen == 128 && key.addr[15] == 1 && key.addr[10] == 0) {
      EXPECT_EQ(r.rule, 3u);
      EXPECT_EQ(r.action, REIN_ACT_NONE);
    } else if (key.prefixlen == 128) {
      EXPECT_EQ(r.rule, 1u);
      EXPECT_EQ(key_addr(key), v4_mapped(1, 1, 1, 1));
    } else {
      EXPECT_EQ(r.rule, 3u);
      EXPECT_EQ(r.action, REIN_ACT_AUDIT);
    }
  }
  for (const auto& [prefix, r] : k->file_prefixes) EXPECT_EQ(r.rule, 4u) << prefix;
}

TEST(EnforceCompiler, LlmRulesAndExecAllowListsAreNoted) {
  auto k = compile(R"(apiVersion: rein/v1
rules:
  - name: no-gpt5
    action: audit
    llm: {models: ["gpt-5*"]}
allow:
  - name: tools
    otherwise: deny
    exec: {paths: [git]}
)");
  EXPECT_TRUE(k.execs.empty());
  ASSERT_EQ(k.user_space_notes.size(), 2u);
  EXPECT_NE(k.user_space_notes[0].find("no-gpt5"), std::string::npos);
  EXPECT_NE(k.user_space_notes[1].find("tools"), std::string::npos);
}

TEST(EnforceCompiler, TooManyAgentsForTheScopeBits) {
  std::string yaml = "apiVersion: rein/v1\nagents:\n";
  for (int i = 0; i < REIN_CLASS_CLI + 1; i++)
    yaml += "  - name: a" + std::to_string(i) + "\n    pid: [" + std::to_string(i + 1) + "]\n";
  auto p = parse(yaml);
  ASSERT_EQ(p.agents.size(), size_t(REIN_CLASS_CLI + 1));
  EXPECT_FALSE(enforce::compile_policy(p).ok());
  p.agents.pop_back();
  EXPECT_TRUE(enforce::compile_policy(p).ok());
}

TEST(EnforceCompiler, MappedAddress) {
  auto v4 = policy::IpAddress::parse("10.1.2.3");
  ASSERT_TRUE(v4);
  EXPECT_EQ(enforce::mapped_address(*v4), v4_mapped(10, 1, 2, 3));
  auto v6 = policy::IpAddress::parse("2001:db8::7");
  ASSERT_TRUE(v6);
  std::array<uint8_t, 16> want{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  EXPECT_EQ(enforce::mapped_address(*v6), want);
}
