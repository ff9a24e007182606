// `rein policy check` warnings for rules that can never fire (enforce::unreachable_rules):
// reported only when certain, never for the issue's cases where both rules fire.
#include <gtest/gtest.h>

#include <string>

#include "enforce/rule_shadowing.h"
#include "policy/policy_parser.h"

using namespace rein;

namespace {

std::vector<std::string> warnings(const std::string& rules) {
  auto p = policy::parse_policy(
      "apiVersion: rein/v1\nagents:\n  - name: A\n    pid: [1]\nrules:\n" + rules, "p.yaml");
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  if (!p.ok()) return {"parse error"};
  return enforce::unreachable_rules(*p);
}

std::string net(const std::string& name, const std::string& action, const std::string& body,
                const std::string& agents = "") {
  return "  - name: " + name + "\n" + (agents.empty() ? "" : "    agents: " + agents + "\n") +
         "    action: " + action + "\n    network: " + body + "\n";
}

std::string file(const std::string& name, const std::string& action, const std::string& body) {
  return "  - name: " + name + "\n    action: " + action + "\n    file: " + body + "\n";
}

}  // namespace

TEST(RuleShadowing, NarrowNetworkRuleUnderABroaderDeny) {
  auto w = warnings(net("wide", "deny", R"({cidrs: ["10.0.0.0/8"]})") +
                    net("narrow", "audit", R"({cidrs: ["10.1.0.0/16"], ports: [443]})"));
  ASSERT_EQ(w.size(), 1u);
  // rules[1] starts on line 9, column 5
  EXPECT_EQ(w[0].rfind("p.yaml:9:5: rules[1]: warning: never fires", 0), 0u) << w[0];
  EXPECT_NE(w[0].find("rules[0] 'wide' (deny)"), std::string::npos) << w[0];
}

TEST(RuleShadowing, TheIssueCasesFireBothRules) {
  EXPECT_TRUE(warnings(net("d", "deny", R"({cidrs: ["127.0.0.0/8"], ports: [9]})") +
                       net("a", "audit", R"({cidrs: ["127.0.0.9/32"], ports: [443]})"))
                  .empty());
  // the narrow rule is listed first and as severe: it wins where it matches
  EXPECT_TRUE(warnings(net("a", "audit", R"({cidrs: ["10.1.0.0/16"]})") +
                       net("b", "audit", R"({cidrs: ["10.0.0.0/8"]})"))
                  .empty());
  // a narrower scope on the broad rule leaves other agents to the narrow one
  EXPECT_TRUE(warnings(net("d", "deny", R"({cidrs: ["10.0.0.0/8"]})", "[A]") +
                       net("a", "audit", R"({cidrs: ["10.1.0.0/16"]})"))
                  .empty());
  // IPv6 ::/0 does not cover IPv4
  EXPECT_TRUE(warnings(net("d", "deny", R"({cidrs: ["::/0"]})") +
                       net("a", "audit", R"({cidrs: ["10.0.0.0/8"]})"))
                  .empty());
  // host names are learned at run time: never reported
  EXPECT_TRUE(warnings(net("d", "deny", R"({cidrs: ["0.0.0.0/0", "::/0"]})") +
                       net("a", "audit", R"({hosts: ["x.example"]})"))
                  .empty());
}

TEST(RuleShadowing, PortsMustBeCovered) {
  EXPECT_EQ(warnings(net("d", "deny", R"({cidrs: ["10.0.0.0/8"], ports: ["1-100", "101-200"]})") +
                     net("a", "audit", R"({cidrs: ["10.1.0.0/16"], ports: ["50-150"]})"))
                .size(),
            1u);
  EXPECT_TRUE(warnings(net("d", "deny", R"({cidrs: ["10.0.0.0/8"], ports: ["1-100", "102-200"]})") +
                       net("a", "audit", R"({cidrs: ["10.1.0.0/16"], ports: ["50-150"]})"))
                  .empty());
  // a ports-only rule covers every address
  EXPECT_EQ(warnings(net("d", "deny", R"({ports: [25]})") +
                     net("a", "pause", R"({cidrs: ["1.2.3.4"], ports: [25]})"))
                .size(),
            1u);
  // equal severity: the first listed wins
  EXPECT_EQ(warnings(net("a", "audit", R"({cidrs: ["10.0.0.0/8"]})") +
                     net("b", "audit", R"({cidrs: ["10.1.0.0/16"]})"))
                .size(),
            1u);
}

TEST(RuleShadowing, FileRules) {
  auto w = warnings(file("deny-a", "deny", R"({paths: ["/a/**"]})") +
                    file("audit-ab", "audit", R"({paths: ["/a/b/**", "/a"]})"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("rules[1]"), std::string::npos);
  // listed after the audit rule, the deny still wins in the kernel, but user space reports
  // rules in order: the audit can fire there
  EXPECT_TRUE(warnings(file("audit-ab", "audit", R"({paths: ["/a/b/**"]})") +
                       file("deny-a", "deny", R"({paths: ["/a/**"]})"))
                  .empty());
  EXPECT_EQ(warnings(file("env", "deny", R"({paths: ["**/.env"]})") +
                     file("one-env", "audit", R"({paths: ["/x/.env"]})"))
                .size(),
            1u);
  // ops must be covered
  EXPECT_TRUE(warnings(file("deny-a", "deny", R"({paths: ["/a/**"], ops: [write]})") +
                       file("audit-ab", "audit", R"({paths: ["/a/b/**"]})"))
                  .empty());
  // "/ab" is not under "/a/**"
  EXPECT_TRUE(warnings(file("deny-a", "deny", R"({paths: ["/a/**"]})") +
                       file("audit-ab", "audit", R"({paths: ["/ab"]})"))
                  .empty());
  // globs matched in user space are not analysed
  EXPECT_TRUE(warnings(file("deny-a", "deny", R"({paths: ["/a/**"]})") +
                       file("audit-g", "audit", R"({paths: ["/a/*.txt"]})"))
                  .empty());
  // an audit rule never shadows
  EXPECT_TRUE(warnings(file("audit-a", "audit", R"({paths: ["/a/**"]})") +
                       file("audit-ab", "audit", R"({paths: ["/a/b/**"]})"))
                  .empty());
}
