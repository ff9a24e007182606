#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"
#include "policy/policy_parser.h"

using namespace rein::policy;

namespace {

const char* kFullExample = R"(apiVersion: rein/v1
agents:
  - name: claude
    exe: [claude, /usr/local/bin/codex]
    cmdline: ["python3 .*agent\\.py"]
    cgroup: ["/kubepods.slice/pod1"]
    pid: [1234]
autodiscover: true
rules:
  - name: protect-ssh
    agents: [claude]
    action: deny
    file:
      paths: ["/root/.ssh/**", "**/.env", "/etc/shadow"]
      ops: [create, write, truncate, rename, unlink, chmod, chown, mkdir, rmdir, link, symlink, xattr]
  - name: no-metadata
    action: deny
    network:
      cidrs: ["169.254.169.254/32", "fd00::/8"]
      ports: [80, "8000-8100"]
      hosts: ["evil.example.com", "*.pastebin.com"]
  - name: hold-shells
    action: pause
    exec:
      paths: [/usr/bin/nc, curl]
      argv: ["curl .*\\| *(ba)?sh"]
  - name: no-gpt5
    action: audit
    llm:
      providers: [openai]
      models: ["gpt-5*"]
      hosts: ["api.openai.com"]
allow:
  - name: workspace-only
    agents: [claude]
    otherwise: deny
    file: { paths: ["/work/**", "/tmp/**"] }
budgets:
  - name: claude-daily
    agents: [claude]
    per: session
    window: 24h
    usd: 5.0
    tokens: 2000000
    warn_at: 0.8
    action: block-llm
holds:
  timeout: 5m
  default: deny
)";

std::vector<std::string> check(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& d : check_policy(yaml, "p.yaml")) out.push_back(d.to_string());
  return out;
}

// The policy must produce exactly one diagnostic; returns it.
std::string one(const std::string& yaml) {
  auto d = check(yaml);
  EXPECT_EQ(d.size(), 1u) << ::testing::PrintToString(d);
  return d.empty() ? "" : d[0];
}

std::string with_header(const std::string& body) { return "apiVersion: rein/v1\n" + body; }

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST(PolicyParser, FullExampleParsesFieldByField) {
  auto r = parse_policy(kFullExample, "policy.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Policy& p = *r;
  EXPECT_EQ(p.file, "policy.yaml");
  EXPECT_TRUE(p.autodiscover);

  ASSERT_EQ(p.agents.size(), 1u);
  const Agent& a = p.agents[0];
  EXPECT_EQ(a.name, "claude");
  EXPECT_EQ(a.exe, (std::vector<std::string>{"claude", "/usr/local/bin/codex"}));
  ASSERT_EQ(a.cmdline.size(), 1u);
  EXPECT_EQ(a.cmdline[0].source(), "python3 .*agent\\.py");
  EXPECT_EQ(a.cmdline[0].search("/usr/bin/python3 ./my_agent.py --x"), true);
  EXPECT_EQ(a.cmdline[0].search("python3 agent_py"), false);
  EXPECT_EQ(a.cgroup, (std::vector<std::string>{"/kubepods.slice/pod1"}));
  EXPECT_EQ(a.pid, (std::vector<uint32_t>{1234}));
  EXPECT_EQ(a.loc.line, 3u);
  EXPECT_EQ(a.loc.column, 5u);
  EXPECT_EQ(p.find_agent("claude"), &p.agents[0]);
  EXPECT_EQ(p.find_agent("codex"), nullptr);

  ASSERT_EQ(p.rules.size(), 4u);
  const Rule& ssh = p.rules[0];
  EXPECT_EQ(ssh.name, "protect-ssh");
  EXPECT_EQ(ssh.action, Action::kDeny);
  EXPECT_EQ(ssh.kind(), MatchKind::kFile);
  EXPECT_EQ(ssh.scope.agents, (std::vector<std::string>{"claude"}));
  EXPECT_FALSE(ssh.scope.autodiscovered);
  EXPECT_EQ(ssh.loc.line, 10u);
  const auto& fm = std::get<FileMatch>(ssh.match);
  ASSERT_EQ(fm.paths.size(), 3u);
  EXPECT_EQ(fm.paths[0].pattern(), "/root/.ssh/**");
  EXPECT_TRUE(fm.paths[0].is_prefix_only());
  EXPECT_EQ(fm.paths[1].basename_only(), ".env");
  EXPECT_TRUE(fm.paths[2].is_literal());
  EXPECT_EQ(fm.ops, kAllFileOps);

  const Rule& meta = p.rules[1];
  EXPECT_EQ(meta.name, "no-metadata");
  EXPECT_TRUE(meta.scope.every_agent());
  EXPECT_EQ(meta.kind(), MatchKind::kNetwork);
  const auto& nm = std::get<NetworkMatch>(meta.match);
  ASSERT_EQ(nm.cidrs.size(), 2u);
  EXPECT_EQ(nm.cidrs[0].to_string(), "169.254.169.254/32");
  EXPECT_EQ(nm.cidrs[1].to_string(), "fd00::/8");
  ASSERT_EQ(nm.ports.size(), 2u);
  EXPECT_EQ(nm.ports[0].first, 80);
  EXPECT_EQ(nm.ports[0].last, 80);
  EXPECT_EQ(nm.ports[1].first, 8000);
  EXPECT_EQ(nm.ports[1].last, 8100);
  ASSERT_EQ(nm.hosts.size(), 2u);
  EXPECT_EQ(nm.hosts[0].to_string(), "evil.example.com");
  EXPECT_TRUE(nm.hosts[1].is_wildcard());

  const Rule& shells = p.rules[2];
  EXPECT_EQ(shells.action, Action::kPause);
  const auto& em = std::get<ExecMatch>(shells.match);
  EXPECT_EQ(em.paths, (std::vector<std::string>{"/usr/bin/nc", "curl"}));
  ASSERT_EQ(em.argv.size(), 1u);
  EXPECT_EQ(em.argv[0].search("curl https://x.sh | bash"), true);

  const Rule& gpt = p.rules[3];
  EXPECT_EQ(gpt.action, Action::kAudit);
  const auto& lm = std::get<LlmMatch>(gpt.match);
  EXPECT_EQ(lm.providers, (std::vector<std::string>{"openai"}));
  ASSERT_EQ(lm.models.size(), 1u);
  EXPECT_TRUE(lm.models[0].match("gpt-5-mini"));
  ASSERT_EQ(lm.hosts.size(), 1u);
  EXPECT_EQ(lm.hosts[0].name(), "api.openai.com");

  ASSERT_EQ(p.allow.size(), 1u);
  const AllowScope& ws = p.allow[0];
  EXPECT_EQ(ws.name, "workspace-only");
  EXPECT_EQ(ws.otherwise, Action::kDeny);
  EXPECT_EQ(ws.scope.agents, (std::vector<std::string>{"claude"}));
  EXPECT_EQ(ws.kind(), MatchKind::kFile);
  EXPECT_EQ(std::get<FileMatch>(ws.match).paths.size(), 2u);

  ASSERT_EQ(p.budgets.size(), 1u);
  const Budget& b = p.budgets[0];
  EXPECT_EQ(b.name, "claude-daily");
  EXPECT_EQ(b.per, BudgetPer::kSession);
  EXPECT_EQ(b.window, std::chrono::hours(24));
  EXPECT_EQ(b.usd, 5.0);
  EXPECT_EQ(b.tokens, 2000000u);
  EXPECT_DOUBLE_EQ(b.warn_at, 0.8);
  EXPECT_EQ(b.action, BudgetAction::kBlockLlm);
  EXPECT_EQ(b.scope.agents, (std::vector<std::string>{"claude"}));

  EXPECT_EQ(p.holds.timeout, std::chrono::minutes(5));
  EXPECT_EQ(p.holds.on_timeout, HoldDefault::kDeny);
  EXPECT_TRUE(check_policy(kFullExample, "policy.yaml").empty());
}

TEST(PolicyParser, DefaultsForOptionalFields) {
  auto r = parse_policy(with_header(R"(rules:
  - name: r
    agents: [autodiscovered]
    action: audit
    file: {paths: ["/etc/**"], ops: [write, unlink]}
budgets:
  - name: b
    window: 1h
    tokens: 10
    action: alert
    per: name
)"),
                        "p.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->autodiscover);
  EXPECT_TRUE(r->agents.empty());
  EXPECT_TRUE(r->rules[0].scope.autodiscovered);
  EXPECT_FALSE(r->rules[0].scope.every_agent());
  EXPECT_EQ(std::get<FileMatch>(r->rules[0].match).ops,
            file_op_bit(FileOp::kWrite) | file_op_bit(FileOp::kUnlink));
  EXPECT_DOUBLE_EQ(r->budgets[0].warn_at, 0.8);
  EXPECT_EQ(r->budgets[0].per, BudgetPer::kName);
  EXPECT_FALSE(r->budgets[0].usd.has_value());
  EXPECT_EQ(r->holds.timeout, std::chrono::minutes(5));
  EXPECT_EQ(r->holds.on_timeout, HoldDefault::kDeny);
}

TEST(PolicyParser, MinimalAndEmptySectionsAreValid) {
  EXPECT_TRUE(parse_policy("apiVersion: rein/v1\n", "p").ok());
  auto r = parse_policy("apiVersion: rein/v1\nautodiscover: false\nagents:\nrules: []\nallow:\nbudgets: []\n", "p");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->autodiscover);
  EXPECT_TRUE(r->rules.empty());
}

TEST(PolicyParser, ApiVersionIsRequiredAndExact) {
  EXPECT_EQ(one(""), "p.yaml:1:1: apiVersion: empty policy; it needs at least 'apiVersion: rein/v1'");
  EXPECT_EQ(one("autodiscover: true\n"), "p.yaml:1:1: apiVersion: required key missing");
  EXPECT_EQ(one("apiVersion: rein/v2\n"), "p.yaml:1:13: apiVersion: unsupported apiVersion 'rein/v2' (expected rein/v1)");
  EXPECT_EQ(one("- apiVersion\n"), "p.yaml:1:1: policy: expected a mapping, got a list");
}

TEST(PolicyParser, UnknownKeysAreErrorsWithAHint) {
  EXPECT_EQ(one(with_header("autodiscovr: true\n")),
            "p.yaml:2:1: autodiscovr: unknown key; did you mean 'autodiscover'? (allowed here: apiVersion, agents, "
            "autodiscover, rules, allow, budgets, holds, dns, detections, config_files)");
  std::string d = one(with_header(R"(rules:
  - name: r
    action: deny
    file:
      paths: [/a]
      opz: [write]
)"));
  EXPECT_TRUE(starts_with(d, "p.yaml:7:7: rules[0].file.opz: unknown key; did you mean 'ops'?")) << d;
}

TEST(PolicyParser, DnsResolversAreAddresses) {
  auto p = parse_policy(with_header("dns:\n  resolvers: [10.0.0.2, \"::1\"]\n"), "p.yaml");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->dns_resolvers.size(), 2u);
  EXPECT_EQ(p->dns_resolvers[0].to_string(), "10.0.0.2");
  EXPECT_TRUE(p->dns_resolvers[1].v6);
  EXPECT_EQ(one(with_header("dns:\n  resolvers: [10.0.0.2, dns.example]\n")),
            "p.yaml:3:25: dns.resolvers[1]: 'dns.example' is not an IPv4 or IPv6 address");
  EXPECT_TRUE(starts_with(one(with_header("dns:\n  resolver: [10.0.0.2]\n")),
                          "p.yaml:3:3: dns.resolver: unknown key; did you mean 'resolvers'?"));
  EXPECT_TRUE(parse_policy(with_header("autodiscover: true\n"), "p.yaml")->dns_resolvers.empty());
}

TEST(PolicyParser, WrongTypesNameTheField) {
  EXPECT_EQ(one(with_header("autodiscover: yes\n")), "p.yaml:2:15: autodiscover: expected true or false");
  EXPECT_EQ(one(with_header("autodiscover: \"true\"\n")), "p.yaml:2:15: autodiscover: expected true or false");
  EXPECT_EQ(one(with_header("rules: {a: 1}\n")), "p.yaml:2:8: rules: expected a list, got a mapping");
  EXPECT_EQ(one(with_header("agents:\n  - name: [a]\n    pid: [1]\n")),
            "p.yaml:3:11: agents[0].name: expected a string, got a list");
  EXPECT_EQ(one(with_header("agents:\n  - name: a\n    pid: [\"12x\"]\n")),
            "p.yaml:4:11: agents[0].pid[0]: '12x' is not a whole number");
  EXPECT_EQ(one(with_header("agents:\n  - name: a\n    exe: claude\n")),
            "p.yaml:4:10: agents[0].exe: expected a list, got a scalar");
  EXPECT_EQ(one(with_header("agents:\n  - name:\n    pid: [1]\n")),
            "p.yaml:3:5: agents[0].name: expected a string, got null");
  EXPECT_EQ(one(with_header("holds: 5m\n")), "p.yaml:2:8: holds: expected a mapping, got a scalar");
}

TEST(PolicyParser, EmptyListsWhereOneIsRequired) {
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    action: deny\n    file: {paths: []}\n")),
            "p.yaml:5:19: rules[0].file.paths: empty list (leave the key out instead)");
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    agents: []\n    action: deny\n    exec: {paths: [sh]}\n")),
            "p.yaml:4:13: rules[0].agents: empty list (leave the key out instead)");
}

TEST(PolicyParser, FilelessTakesNoPaths) {
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    action: deny\n    exec: {fileless: true, paths: [sh]}\n")),
            "p.yaml:5:22: rules[0].exec.fileless: a program with no name on disk has no path: give "
            "fileless without paths");
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    action: deny\n    exec: {fileless: yes}\n")),
            "p.yaml:5:22: rules[0].exec.fileless: expected true or false");
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    action: deny\n    exec: {}\n")),
            "p.yaml:5:11: rules[0].exec: needs at least one of paths, argv, fileless");
}

TEST(PolicyParser, ExecPathLongerThanTheKernelMatches) {
  const std::string path = "/" + std::string(256, 'd');
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    action: deny\n    exec: {paths: [" + path +
                            "]}\n")),
            "p.yaml:5:20: rules[0].exec.paths[0]: exec path longer than 256 bytes (the kernel "
            "matches exec paths up to that length; name the program by its file name)");
  EXPECT_EQ(check(with_header("rules:\n  - name: r\n    action: deny\n    exec: {paths: [" +
                              path.substr(0, 256) + "]}\n"))
                .size(),
            0u);
}

TEST(PolicyParser, BadRegexCidrGlobHostPortDuration) {
  std::string d = one(with_header("agents:\n  - name: a\n    cmdline: [\"(unclosed\"]\n"));
  EXPECT_TRUE(starts_with(d, "p.yaml:4:15: agents[0].cmdline[0]: invalid regex")) << d;

  auto errs = check(with_header(R"(rules:
  - name: net
    action: deny
    network:
      cidrs: ["10.0.0.0/8", "300.1.1.1/8", "fd00::/200"]
      ports: [0, "90-80", 443, "1-2-3", 65536]
      hosts: ["ok.example.com", "bad host", "*"]
  - name: files
    action: deny
    file:
      paths: ["/ok/**", "***", "/a/b**", "/x/[z-a]", "relative/path"]
)"));
  std::vector<std::string> want = {
      "p.yaml:6:29: rules[0].network.cidrs[1]: '300.1.1.1' is not an IPv4 or IPv6 address",
      "p.yaml:6:44: rules[0].network.cidrs[2]: prefix length '200' is not a decimal number 0-128",
      "p.yaml:7:15: rules[0].network.ports[0]: 0 is out of range 1..65535",
      "p.yaml:7:18: rules[0].network.ports[1]: port range '90-80' is reversed",
      "p.yaml:7:32: rules[0].network.ports[3]: '1-2-3' is not a port range \"FIRST-LAST\" of ports 1-65535",
      "p.yaml:7:41: rules[0].network.ports[4]: 65536 is out of range 1..65535",
      "p.yaml:8:33: rules[0].network.hosts[1]: host names use letters, digits, '-', '_' and '.' only",
      "p.yaml:8:45: rules[0].network.hosts[2]: '*' is only allowed as a leading \"*.\"",
      "p.yaml:12:25: rules[1].file.paths[1]: bad glob at byte 1: more than two '*' in a row",
      "p.yaml:12:32: rules[1].file.paths[2]: bad glob at byte 5: '**' must be a whole path component (\"**/x\", "
      "\"/a/**/b\", \"/a/**\")",
      "p.yaml:12:42: rules[1].file.paths[3]: bad glob at byte 7: character range is reversed",
      "p.yaml:12:54: rules[1].file.paths[4]: file paths must be absolute or start with '**' (e.g. \"**/.env\")",
  };
  EXPECT_EQ(errs, want);

  EXPECT_EQ(one(with_header("budgets:\n  - name: b\n    window: 5x\n    usd: 1\n    action: alert\n")),
            "p.yaml:4:13: budgets[0].window: '5x' needs a unit: s, m, h or d (e.g. 90s, 5m, 24h, 7d)");
  EXPECT_EQ(one(with_header("budgets:\n  - name: b\n    window: 30s\n    usd: 1\n    action: alert\n")),
            "p.yaml:4:13: budgets[0].window: 30s is outside 1m..30d");
  EXPECT_EQ(one(with_header("holds: {timeout: 2d}\n")), "p.yaml:2:18: holds.timeout: 2d is outside 1s..1d");
}

TEST(PolicyParser, DuplicateNames) {
  EXPECT_EQ(one(with_header("agents:\n  - {name: a, pid: [1]}\n  - {name: a, pid: [2]}\n")),
            "p.yaml:4:12: agents[1].name: duplicate agent name 'a' (first at line 3)");
  // Rules and allow scopes share a namespace: policy.action events carry the name.
  EXPECT_EQ(one(with_header(R"(rules:
  - {name: x, action: deny, exec: {paths: [nc]}}
allow:
  - {name: x, otherwise: deny, exec: {paths: [git]}}
)")),
            "p.yaml:5:12: allow[0].name: duplicate rule name 'x' (first at line 3)");
  EXPECT_EQ(one(with_header(R"(budgets:
  - {name: b, window: 1h, usd: 1, action: alert}
  - {name: b, window: 2h, usd: 1, action: alert}
)")),
            "p.yaml:4:12: budgets[1].name: duplicate budget name 'b' (first at line 3)");
  EXPECT_EQ(one(with_header("autodiscover: true\nautodiscover: false\n")),
            "p.yaml:3:1: autodiscover: duplicate key (first at line 2)");
}

TEST(PolicyParser, ScopesMustNameDefinedAgents) {
  EXPECT_EQ(one(with_header(R"(agents:
  - {name: claude, exe: [claude]}
rules:
  - name: r
    agents: [claude, claud]
    action: deny
    exec: {paths: [nc]}
)")),
            "p.yaml:6:22: rules[0].agents[1]: unknown agent 'claud' (define it under 'agents:' or use 'autodiscovered')");
  // Agents may be defined after the rules that use them.
  EXPECT_TRUE(check(with_header("rules:\n  - {name: r, agents: [late], action: deny, exec: {paths: [nc]}}\n"
                                "agents:\n  - {name: late, pid: [5]}\n"))
                  .empty());
  EXPECT_EQ(one(with_header("agents:\n  - {name: autodiscovered, pid: [1]}\n")),
            "p.yaml:3:12: agents[0].name: 'autodiscovered' is reserved for auto-discovered agents");
}

TEST(PolicyParser, RulesNeedExactlyOneMatchKind) {
  EXPECT_EQ(one(with_header("rules:\n  - name: r\n    action: deny\n")),
            "p.yaml:3:5: rules[0]: needs exactly one of file, network, exec, llm");
  EXPECT_EQ(one(with_header(R"(rules:
  - name: r
    action: deny
    file: {paths: [/a]}
    network: {ports: [22]}
)")),
            "p.yaml:6:5: rules[0].network: 'file' and 'network' in one entry; write one entry per kind");
  EXPECT_EQ(one(with_header("allow:\n  - {name: a, otherwise: deny}\n")),
            "p.yaml:3:5: allow[0]: needs exactly one of file, network, exec, llm");
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, action: deny, network: {}}\n")),
            "p.yaml:3:38: rules[0].network: needs at least one of cidrs, ports, hosts");
}

TEST(PolicyParser, RequiredKeysAndChoices) {
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, exec: {paths: [nc]}}\n")),
            "p.yaml:3:5: rules[0].action: required key missing");
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, action: block, exec: {paths: [nc]}}\n")),
            "p.yaml:3:23: rules[0].action: 'block' is not one of: audit, deny, pause");
  EXPECT_EQ(one(with_header("allow:\n  - {name: a, exec: {paths: [git]}}\n")),
            "p.yaml:3:5: allow[0].otherwise: required key missing");
  EXPECT_EQ(one(with_header("agents:\n  - {name: a}\n")),
            "p.yaml:3:5: agents[0]: an agent needs at least one selector: exe, cmdline, cgroup or pid");
  EXPECT_EQ(one(with_header("agents:\n  - {name: a, cgroup: [kubepods]}\n")),
            "p.yaml:3:24: agents[0].cgroup[0]: cgroup paths start with '/' (relative to the cgroup v2 mount)");
  EXPECT_EQ(one(with_header("agents:\n  - {name: \"bad name\", pid: [1]}\n")),
            "p.yaml:3:12: agents[0].name: 'bad name' is not a valid name: 1-64 of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, action: deny, exec: {paths: [\"/usr/bin/*\"]}}\n")),
            "p.yaml:3:44: rules[0].exec.paths[0]: exec paths are exact; wildcards are not supported (use argv regexes)");
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, action: deny, file: {paths: [/a], ops: [write, delete]}}\n")),
            "p.yaml:3:62: rules[0].file.ops[1]: 'delete' is not a file operation (create, write, truncate, rename, "
            "unlink, chmod, chown, mkdir, rmdir, link, symlink, xattr)");
  EXPECT_EQ(one(with_header("holds: {default: maybe}\n")), "p.yaml:2:18: holds.default: 'maybe' is not one of: deny, allow");
}

TEST(PolicyParser, LlmMatchValidation) {
  std::string d = one(with_header("rules:\n  - {name: r, action: audit, llm: {providers: [opneai]}}\n"));
  EXPECT_TRUE(starts_with(d, "p.yaml:3:48: rules[0].llm.providers[0]: unknown provider 'opneai' (known: openai,")) << d;
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, action: audit, llm: {models: [\"gpt-**\"]}}\n")),
            "p.yaml:3:45: rules[0].llm.models[0]: bad glob at byte 5: '**' in a name glob (use a single '*')");
  EXPECT_EQ(one(with_header("rules:\n  - {name: r, action: audit, llm: {}}\n")),
            "p.yaml:3:35: rules[0].llm: needs at least one of providers, models, hosts");
}

TEST(PolicyParser, BudgetValidation) {
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, action: alert}\n")),
            "p.yaml:3:5: budgets[0]: a budget needs usd, tokens or both");
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, usd: -1, action: alert}\n")),
            "p.yaml:3:32: budgets[0].usd: must be more than 0 and at most 1000000000");
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, usd: .inf, action: alert}\n")),
            "p.yaml:3:32: budgets[0].usd: '.inf' is not a number");
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, tokens: 0, action: alert}\n")),
            "p.yaml:3:35: budgets[0].tokens: 0 is out of range 1..1000000000000000");
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, usd: 1, warn_at: 1.5, action: alert}\n")),
            "p.yaml:3:44: budgets[0].warn_at: must be a fraction more than 0 and at most 1 (e.g. 0.8)");
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, usd: 1, action: stop}\n")),
            "p.yaml:3:43: budgets[0].action: 'stop' is not one of: alert, block-llm, pause, kill");
  EXPECT_EQ(one(with_header("budgets:\n  - {name: b, window: 1h, usd: 1, per: user, action: alert}\n")),
            "p.yaml:3:40: budgets[0].per: 'user' is not one of: session, name");
}

TEST(PolicyParser, YamlTricksAreRefused) {
  EXPECT_EQ(one(with_header("rules: &r []\n")),
            "p.yaml:2:8: yaml: YAML anchors ('&name') are not supported in policy files; write the value out");
  EXPECT_EQ(one(with_header("agents:\n  - &a {name: a, pid: [1]}\n")),
            "p.yaml:3:5: yaml: YAML anchors ('&name') are not supported in policy files; write the value out");
  EXPECT_EQ(one("apiVersion: &v rein/v1\nx: *v\n"),
            "p.yaml:1:13: yaml: YAML anchors ('&name') are not supported in policy files; write the value out");
  EXPECT_EQ(one("apiVersion: !!str rein/v1\n"),
            "p.yaml:1:13: yaml: explicit YAML tags ('!!type', '!tag') are not supported in policy files");
  EXPECT_EQ(one("apiVersion: rein/v1\n---\napiVersion: rein/v1\n"),
            "p.yaml:3:1: yaml: more than one YAML document ('---'); a policy is one document");
  EXPECT_EQ(one(std::string(40, '[') + std::string(40, ']')), "p.yaml:1:17: yaml: nested deeper than 16 levels");
  EXPECT_EQ(one(with_header("? [a, b]\n: c\n")), "p.yaml:2:3: policy: mapping keys must be plain names");
  // A billion-laughs style document cannot be written without aliases; a huge flat one hits
  // the node bound before the schema sees it.
  std::string flat = "apiVersion: rein/v1\nx: [";
  for (int i = 0; i < 260000; i++) flat += "a,";
  flat += "a]\n";
  std::string d = one(flat);
  EXPECT_TRUE(starts_with(d, "p.yaml:2:")) << d;
  EXPECT_NE(d.find(": yaml: more than 250000 YAML nodes"), std::string::npos) << d;
}

TEST(PolicyParser, SyntaxErrorsCarryTheirPosition) {
  EXPECT_EQ(one(with_header("rules: [\n")), "p.yaml:3:1: yaml: end of sequence flow not found");
  EXPECT_EQ(one(with_header("\tautodiscover: true\n")), "p.yaml:2:1: yaml: illegal tab when looking for indentation");
  EXPECT_EQ(one(with_header("agents: a: b\n")), "p.yaml:2:10: yaml: illegal map value");
  EXPECT_EQ(one(with_header("agents: [a, b\nrules: 1\n")), "p.yaml:3:6: yaml: end of sequence flow not found");
  // A quote left open at the end of the file: yaml-cpp would end the string there, line
  // break included ("/etc/shadow "), and the rule would never match.
  EXPECT_EQ(one(with_header("rules:\n  - name: x\n    action: deny\n    file:\n      paths:\n        - \"/etc/shadow\n")),
            "p.yaml:7:11: yaml: quoted string without its closing quote");
  EXPECT_EQ(one(with_header("rules:\n  - name: 'x\n")), "p.yaml:3:11: yaml: quoted string without its closing quote");
  // Quotes inside quoted strings are not their end.
  EXPECT_TRUE(check(with_header("rules:\n  - name: x\n    action: deny\n    file:\n      paths: [\"/a\\\"b\", '/c''d']\n")).empty());
}

TEST(PolicyParser, SizeBounds) {
  std::string big = with_header("# " + std::string(kMaxPolicyBytes, 'x') + "\n");
  EXPECT_EQ(one(big), "p.yaml:1:1: file: larger than 1048576 bytes (1048599 bytes)");
  std::string nul = with_header("x: a");
  nul += '\0';
  EXPECT_EQ(one(nul), "p.yaml:2:5: file: contains a NUL byte (not a text file?)");

  std::string many = "apiVersion: rein/v1\nrules:\n";
  for (size_t i = 0; i <= kMaxRules; i++) many += "- {name: r" + std::to_string(i) + ", action: deny, exec: {paths: [nc]}}\n";
  ASSERT_LE(many.size(), kMaxPolicyBytes);
  EXPECT_EQ(one(many), "p.yaml:3:1: rules: 10001 items, more than the limit of 10000");
}

TEST(PolicyParser, CollectsEveryErrorSortedByPosition) {
  const std::string yaml = with_header(R"(budgets:
  - {name: b, window: 1y, usd: 1, action: alert}
rules:
  - name: r1
    acton: deny
    agents: [nobody]
    file: {paths: ["***"]}
  - name: r2
    action: deny
    exec: {paths: [bin/sh]}
)");
  auto errs = check(yaml);
  std::vector<std::string> want = {
      "p.yaml:3:23: budgets[0].window: '1y' needs a unit: s, m, h or d (e.g. 90s, 5m, 24h, 7d)",
      "p.yaml:5:5: rules[0].action: required key missing",
      "p.yaml:6:5: rules[0].acton: unknown key; did you mean 'action'? (allowed here: name, agents, action, file, "
      "network, exec, llm)",
      "p.yaml:7:14: rules[0].agents[0]: unknown agent 'nobody' (define it under 'agents:' or use 'autodiscovered')",
      "p.yaml:8:20: rules[0].file.paths[0]: bad glob at byte 1: more than two '*' in a row",
      "p.yaml:11:20: rules[1].exec.paths[0]: must be an absolute path or a bare file name",
  };
  EXPECT_EQ(errs, want);
  auto r = parse_policy(yaml, "p.yaml");
  ASSERT_FALSE(r.ok());
  std::string joined;
  for (const auto& w : want) joined += (joined.empty() ? "" : "\n") + w;
  EXPECT_EQ(r.error().message, joined);
}

TEST(PolicyParser, DiagnosticCountIsBounded) {
  std::string yaml = "apiVersion: rein/v1\nrules:\n";
  for (int i = 0; i < 300; i++) yaml += "- {name: r" + std::to_string(i) + ", action: nope, exec: {paths: [nc]}}\n";
  auto d = check_policy(yaml, "p.yaml");
  ASSERT_EQ(d.size(), DiagnosticSink::kMaxDiagnostics + 1);
  EXPECT_EQ(d.back().reason, "100 more problems not shown");
  EXPECT_EQ(d.front().line, 3u);
}

TEST(PolicyParser, LoadFileNamesTheFileInEveryError) {
  rein::testutil::TempDir tmp("rein_policy_test");
  const std::string dir = tmp.path();

  auto missing = load_policy_file(dir + "/nope.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, dir + "/nope.yaml:1:1: file: cannot open: No such file or directory");

  auto is_dir = load_policy_file(dir);
  ASSERT_FALSE(is_dir.ok());
  EXPECT_EQ(is_dir.error().message, dir + ":1:1: file: is a directory");

  const std::string good = dir + "/good.yaml";
  std::ofstream(good) << kFullExample;
  auto ok = load_policy_file(good);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->file, good);
  EXPECT_EQ(ok->rules.size(), 4u);

  const std::string bad = dir + "/bad.yaml";
  std::ofstream(bad) << "apiVersion: rein/v1\nrules: 3\n";
  auto b = load_policy_file(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, bad + ":2:8: rules: expected a list, got a scalar");

  const std::string huge = dir + "/huge.yaml";
  std::ofstream(huge) << std::string(kMaxPolicyBytes + 10, '#');
  auto h = load_policy_file(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().message,
            huge + ":1:1: file: larger than 1048576 bytes (1048586 bytes); a policy file is at most 1 MiB");

  // A FIFO is refused at once, not read (which would block until a writer came).
  const std::string fifo = dir + "/fifo.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto f = load_policy_file(fifo);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, fifo + ":1:1: file: is not a regular file (a FIFO, socket or device)");
}

// Each regex costs a compile at load (milliseconds under sanitizers): a short file must not
// be able to ask for thousands of them.
TEST(PolicyParser, RegexCountIsBounded) {
  std::string items;
  for (size_t i = 0; i < kMaxRegexes + 40; i++) items += (i ? "," : "") + std::string("a");
  auto diags = check(with_header("agents:\n  - name: x\n    cmdline: [" + items + "]\n"));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_NE(diags[0].find("more than 256 regexes in one policy"), std::string::npos) << diags[0];
  items.clear();
  for (size_t i = 0; i < kMaxRegexes; i++) items += (i ? "," : "") + std::string("a");
  EXPECT_TRUE(check(with_header("agents:\n  - name: x\n    cmdline: [" + items + "]\n")).empty());
}
