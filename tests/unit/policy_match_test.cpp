#include <gtest/gtest.h>

#include <chrono>

#include "policy/policy_parser.h"

using namespace rein::policy;

namespace {

Policy parse(const std::string& body) {
  auto r = parse_policy("apiVersion: rein/v1\n" + body, "p.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : Policy{};
}

IpAddress ip(std::string_view s) { return IpAddress::parse(s).value(); }

}  // namespace

TEST(PolicyMatch, ScopeAppliesToNamedDiscoveredOrEveryAgent) {
  Policy p = parse(R"(agents:
  - {name: claude, exe: [claude]}
rules:
  - {name: all, action: audit, exec: {paths: [nc]}}
  - {name: named, agents: [claude], action: audit, exec: {paths: [nc]}}
  - {name: found, agents: [autodiscovered], action: audit, exec: {paths: [nc]}}
)");
  ASSERT_EQ(p.rules.size(), 3u);
  const AgentRef configured{"claude-1-abc", "claude", false};
  const AgentRef discovered{"aider-2-def", "aider", true};
  const AgentRef discovered_claude{"claude-3-fed", "claude", true};
  EXPECT_TRUE(p.rules[0].scope.applies_to(configured));
  EXPECT_TRUE(p.rules[0].scope.applies_to(discovered));
  EXPECT_TRUE(p.rules[1].scope.applies_to(configured));
  EXPECT_FALSE(p.rules[1].scope.applies_to(discovered));
  EXPECT_FALSE(p.rules[1].scope.applies_to(discovered_claude));
  EXPECT_FALSE(p.rules[2].scope.applies_to(configured));
  EXPECT_TRUE(p.rules[2].scope.applies_to(discovered));
}

TEST(PolicyMatch, FileMatchChecksOpsAndPaths) {
  Policy p = parse(R"(rules:
  - name: r
    action: deny
    file: {paths: ["/root/.ssh/**", "**/.env"], ops: [write, rename]}
)");
  const auto& fm = std::get<FileMatch>(p.rules[0].match);
  EXPECT_TRUE(fm.matches("/root/.ssh/authorized_keys", FileOp::kWrite));
  EXPECT_TRUE(fm.matches("/root/.ssh", FileOp::kRename));
  EXPECT_TRUE(fm.matches("/srv/app/.env", FileOp::kWrite));
  EXPECT_FALSE(fm.matches("/root/.ssh/authorized_keys", FileOp::kUnlink));
  EXPECT_FALSE(fm.matches("/root/.sshx", FileOp::kWrite));
  EXPECT_EQ(file_op_name(FileOp::kSymlink), "symlink");
  EXPECT_EQ(file_op_from_name("truncate"), FileOp::kTruncate);
  EXPECT_FALSE(file_op_from_name("delete").has_value());
}

TEST(PolicyMatch, NetworkMatchCombinesDestinationsAndPorts) {
  Policy p = parse(R"(rules:
  - name: meta
    action: deny
    network: {cidrs: ["169.254.169.254/32", "fd00::/8"], hosts: ["*.pastebin.com"], ports: [80, "8000-8100"]}
  - name: smtp
    action: deny
    network: {ports: [25]}
  - name: anywhere
    action: audit
    network: {cidrs: ["10.0.0.0/8"]}
)");
  const auto& meta = std::get<NetworkMatch>(p.rules[0].match);
  EXPECT_TRUE(meta.matches(ip("169.254.169.254"), 80, ""));
  EXPECT_TRUE(meta.matches(ip("fd00::5"), 8050, ""));
  EXPECT_FALSE(meta.matches(ip("169.254.169.254"), 443, ""));
  EXPECT_TRUE(meta.matches(ip("1.2.3.4"), 80, "x.pastebin.com"));
  EXPECT_FALSE(meta.matches(ip("1.2.3.4"), 80, "pastebin.org"));
  EXPECT_FALSE(meta.matches(ip("1.2.3.4"), 80, ""));
  const auto& smtp = std::get<NetworkMatch>(p.rules[1].match);
  EXPECT_TRUE(smtp.matches(ip("8.8.8.8"), 25, ""));
  EXPECT_FALSE(smtp.matches(ip("8.8.8.8"), 26, ""));
  const auto& any_port = std::get<NetworkMatch>(p.rules[2].match);
  EXPECT_TRUE(any_port.matches(ip("10.1.1.1"), 1, ""));
  EXPECT_FALSE(any_port.matches(ip("11.1.1.1"), 1, ""));
}

TEST(PolicyMatch, ExecMatchUsesExactPathsBasenamesAndArgvRegexes) {
  Policy p = parse(R"(rules:
  - name: shells
    action: pause
    exec: {paths: [/usr/bin/nc, curl], argv: ["curl .*\\| *(ba)?sh"]}
  - name: any-nc
    action: deny
    exec: {paths: [/usr/bin/nc, ncat]}
)");
  const auto& sh = std::get<ExecMatch>(p.rules[0].match);
  EXPECT_EQ(sh.matches("/usr/bin/curl", "curl https://x | sh"), true);
  EXPECT_EQ(sh.matches("/usr/bin/curl", "curl https://x -o f"), false);
  EXPECT_EQ(sh.matches("/usr/bin/wget", "curl https://x | sh"), false);
  const auto& nc = std::get<ExecMatch>(p.rules[1].match);
  EXPECT_EQ(nc.matches("/usr/bin/nc", ""), true);
  EXPECT_EQ(nc.matches("/bin/nc", ""), false) << "absolute paths are exact";
  EXPECT_EQ(nc.matches("/opt/bin/ncat", ""), true);
}

TEST(PolicyMatch, FilelessExecMatchesOnlyAProgramWithNoNameOnDisk) {
  Policy p = parse(R"(rules:
  - name: fileless
    action: deny
    exec: {fileless: true}
  - name: fileless-shell
    action: deny
    exec: {fileless: true, argv: ["^sh "]}
)");
  const auto& any = std::get<ExecMatch>(p.rules[0].match);
  EXPECT_EQ(any.matches("/memfd:payload", "payload", true), true);
  EXPECT_EQ(any.matches("/usr/bin/true", "true", false), false);
  const auto& sh = std::get<ExecMatch>(p.rules[1].match);
  EXPECT_EQ(sh.matches("/memfd:x", "sh -c id", true), true);
  EXPECT_EQ(sh.matches("/memfd:x", "python3 x", true), false);
  EXPECT_EQ(sh.matches("/bin/sh", "sh -c id", false), false);
}

TEST(PolicyMatch, RegexSearchBoundsItsSubject) {
  auto re = Regex::compile("secret$");
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(re->search("my secret"), true);
  std::string padded(Regex::kMaxSubjectBytes, 'x');
  EXPECT_EQ(re->search(padded + "secret"), false) << "only the first kMaxSubjectBytes are looked at";
  EXPECT_FALSE(Regex::compile("").ok());
  EXPECT_FALSE(Regex::compile("[a-").ok());
  EXPECT_FALSE(Regex::compile(std::string(Regex::kMaxPatternBytes + 1, 'a')).ok());
}

TEST(PolicyMatch, RegexSearchKeepsSearchSemanticsIncludingAnchors) {
  auto caret = Regex::compile("^curl");
  auto dollar = Regex::compile("sh$");
  auto word = Regex::compile("\\bnc\\b");
  auto alt = Regex::compile("wget|curl");
  ASSERT_TRUE(caret.ok() && dollar.ok() && word.ok() && alt.ok());
  EXPECT_EQ(caret->search("curl x"), true);
  EXPECT_EQ(caret->search("x curl"), false);
  EXPECT_EQ(dollar->search("curl x | sh"), true);
  EXPECT_EQ(dollar->search("sh -c x"), false);
  EXPECT_EQ(word->search("/bin/nc -l 4444"), true);
  EXPECT_EQ(word->search("ncat -l"), false);
  EXPECT_EQ(alt->search("x wget y"), true);
  EXPECT_EQ(alt->search("x fetch y"), false);
  // Validated as written: wrapping must not turn an unbalanced pattern into a valid one.
  EXPECT_FALSE(Regex::compile("a)|(b").ok());
}

TEST(PolicyMatch, RegexMatchingStaysLinearOnHostileSubjects) {
  auto backref = Regex::compile("(a)\\1");
  ASSERT_FALSE(backref.ok());
  EXPECT_NE(backref.error().message.find("back-references"), std::string::npos);
  for (const char* p : {"((a{100}){100}){100}", "[a-z]{0,40}{0,40}", "a{2000}", "(ab){600}", "a{10000000}",
                        "a{0,99999999999999999999}"}) {
    auto blowup = Regex::compile(p);
    ASSERT_FALSE(blowup.ok()) << p;
    EXPECT_NE(blowup.error().message.find("too complex"), std::string::npos) << p;
  }
  EXPECT_TRUE(Regex::compile("a{500}").ok());
  EXPECT_TRUE(Regex::compile(std::string(Regex::kMaxPatternBytes - 10, 'x')).ok())
      << "a long plain pattern stays within the state bound";

  const std::string subject(Regex::kMaxSubjectBytes, 'a');
  auto start = std::chrono::steady_clock::now();
  for (const char* p : {"(a|aa)*c", "(a*)*b", "(.*)*x", "(\\w+\\s?)*$z"}) {
    auto re = Regex::compile(p);
    ASSERT_TRUE(re.ok()) << p << ": " << re.error().message;
    EXPECT_EQ(re->search(subject), false) << p;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms, 2000) << "classic catastrophic-backtracking patterns must not blow up";
}

TEST(PolicyMatch, LlmMatchNeedsEveryGivenList) {
  Policy p = parse(R"(rules:
  - name: no-gpt5
    action: audit
    llm: {providers: [openai, azure.ai.openai], models: ["gpt-5*"], hosts: ["api.openai.com", "*.openai.azure.com"]}
)");
  const auto& lm = std::get<LlmMatch>(p.rules[0].match);
  EXPECT_TRUE(lm.matches("openai", "gpt-5", "api.openai.com"));
  EXPECT_TRUE(lm.matches("azure.ai.openai", "GPT-5-mini", "x.openai.azure.com"));
  EXPECT_FALSE(lm.matches("anthropic", "gpt-5", "api.openai.com"));
  EXPECT_FALSE(lm.matches("openai", "gpt-4o", "api.openai.com"));
  EXPECT_FALSE(lm.matches("openai", "", "api.openai.com")) << "an unknown model matches no model glob";
  EXPECT_FALSE(lm.matches("openai", "gpt-5", "proxy.local"));
}
