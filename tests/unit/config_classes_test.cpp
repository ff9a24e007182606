#include <gtest/gtest.h>

#include "pipeline/config_classes.h"
#include "policy/policy_parser.h"

using rein::pipeline::ConfigClassifier;
using rein::policy::check_policy;
using rein::policy::parse_policy;

namespace {

std::string cls(const ConfigClassifier& c, const std::string& path) {
  auto m = c.classify(path);
  return m ? std::string(m->name) + (m->credential ? "+cred" : "") : "-";
}

std::vector<std::string> diags(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& d : check_policy(yaml, "p.yaml")) out.push_back(d.to_string());
  return out;
}

}  // namespace

TEST(ConfigClasses, BuiltinsCoverEveryFamily) {
  ConfigClassifier c;
  EXPECT_EQ(cls(c, "/work/repo/CLAUDE.md"), "agent_instructions");
  EXPECT_EQ(cls(c, "/work/repo/AGENTS.md"), "agent_instructions");
  EXPECT_EQ(cls(c, "/home/u/.claude/settings.json"), "agent_instructions");
  EXPECT_EQ(cls(c, "/home/u/.claude/commands/x/y.md"), "agent_instructions");
  EXPECT_EQ(cls(c, "/repo/.mcp.json"), "agent_instructions");
  EXPECT_EQ(cls(c, "/repo/.cursor/rules/a.mdc"), "agent_instructions");
  EXPECT_EQ(cls(c, "/root/.bashrc"), "shell_startup");
  EXPECT_EQ(cls(c, "/home/u/.zshrc"), "shell_startup");
  EXPECT_EQ(cls(c, "/home/u/.profile"), "shell_startup");
  EXPECT_EQ(cls(c, "/repo/.git/hooks/pre-commit"), "git");
  EXPECT_EQ(cls(c, "/repo/.git/config"), "git");
  EXPECT_EQ(cls(c, "/home/u/.gitconfig"), "git");
  EXPECT_EQ(cls(c, "/repo/.github/workflows/ci.yml"), "ci");
  EXPECT_EQ(cls(c, "/repo/.gitlab-ci.yml"), "ci");
  EXPECT_EQ(cls(c, "/repo/package.json"), "dependencies");
  EXPECT_EQ(cls(c, "/repo/sub/package-lock.json"), "dependencies");
  EXPECT_EQ(cls(c, "/repo/requirements.txt"), "dependencies");
  EXPECT_EQ(cls(c, "/repo/requirements-dev.txt"), "dependencies");
  EXPECT_EQ(cls(c, "/repo/pyproject.toml"), "dependencies");
  EXPECT_EQ(cls(c, "/repo/Cargo.toml"), "dependencies");
  EXPECT_EQ(cls(c, "/repo/go.mod"), "dependencies");
  EXPECT_EQ(cls(c, "/etc/cron.d/job"), "scheduled_jobs");
  EXPECT_EQ(cls(c, "/etc/systemd/system/x.service"), "scheduled_jobs");
  EXPECT_EQ(cls(c, "/home/u/.config/systemd/user/x.service"), "scheduled_jobs");
  EXPECT_EQ(cls(c, "/root/.ssh/authorized_keys"), "credentials+cred");
  EXPECT_EQ(cls(c, "/repo/.env"), "credentials+cred");
  EXPECT_EQ(cls(c, "/repo/.env.local"), "credentials+cred");
  EXPECT_EQ(cls(c, "/home/u/.aws/credentials"), "credentials+cred");
  EXPECT_EQ(cls(c, "/home/u/.netrc"), "credentials+cred");
  EXPECT_EQ(cls(c, "/home/u/.npmrc"), "credentials+cred");
}

TEST(ConfigClasses, OrdinaryFilesAndLookalikesAreNotConfig) {
  ConfigClassifier c;
  EXPECT_EQ(cls(c, "/repo/src/main.c"), "-");
  EXPECT_EQ(cls(c, "/repo/NOTCLAUDE.md"), "-");
  EXPECT_EQ(cls(c, "/repo/CLAUDE.md.bak"), "-");
  EXPECT_EQ(cls(c, "/repo/.git/objects/ab/cdef"), "-");
  EXPECT_EQ(cls(c, "/repo/.bashrc_old"), "-");
  EXPECT_EQ(cls(c, "relative/CLAUDE.md"), "-");  // only absolute paths are classified
  EXPECT_EQ(cls(c, ""), "-");
}

TEST(ConfigClasses, ProbesAreTheLiteralNamesAndSubtrees) {
  ConfigClassifier c;
  bool claude = false, claude_dir = false, hooks = false;
  for (const auto& p : c.probes()) {
    if (p.relative == "CLAUDE.md" && !p.subtree) claude = true;
    if (p.relative == ".claude" && p.subtree) claude_dir = true;
    if (p.relative == ".git/hooks" && p.subtree) hooks = true;
    EXPECT_EQ(p.relative.find_first_of("*?["), std::string::npos) << p.relative;
  }
  EXPECT_TRUE(claude && claude_dir && hooks);
}

TEST(ConfigClasses, PolicyClassesComeFirstAndReplaceBuiltinsByName) {
  auto p = parse_policy(R"(apiVersion: rein/v1
config_files:
  classes:
    - name: terraform
      paths: ["**/*.tf"]
    - name: agent_instructions
      paths: ["**/CLAUDE.md"]
    - name: deploy_secrets
      paths: ["/srv/deploy/**"]
      credential: true
    - name: credentials
      paths: ["**/.netrc"]
)", "p.yaml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  ConfigClassifier c;
  c.configure(&p->config_files);
  EXPECT_EQ(cls(c, "/infra/main.tf"), "terraform");
  EXPECT_EQ(cls(c, "/repo/CLAUDE.md"), "agent_instructions");
  EXPECT_EQ(cls(c, "/repo/AGENTS.md"), "-");  // the built-in agent_instructions was replaced
  EXPECT_EQ(cls(c, "/srv/deploy/key"), "deploy_secrets+cred");
  // replacing a credential class keeps it a credential class unless told otherwise
  EXPECT_EQ(cls(c, "/home/u/.netrc"), "credentials+cred");
  EXPECT_EQ(cls(c, "/repo/.env"), "-");
  EXPECT_EQ(cls(c, "/home/u/.bashrc"), "shell_startup");  // other built-ins stay
  // back to the built-ins without a policy
  c.configure(nullptr);
  EXPECT_EQ(cls(c, "/repo/AGENTS.md"), "agent_instructions");
  EXPECT_EQ(cls(c, "/infra/main.tf"), "-");
}

TEST(ConfigClasses, DefaultsOffAndDisabled) {
  auto p = parse_policy(R"(apiVersion: rein/v1
config_files:
  defaults: false
  classes:
    - name: only
      paths: ["**/only.conf"]
)", "p.yaml");
  ASSERT_TRUE(p.ok()) << p.error().message;
  ConfigClassifier c;
  c.configure(&p->config_files);
  EXPECT_EQ(cls(c, "/x/only.conf"), "only");
  EXPECT_EQ(cls(c, "/x/CLAUDE.md"), "-");
  auto off = parse_policy("apiVersion: rein/v1\nconfig_files:\n  enabled: false\n", "p.yaml");
  ASSERT_TRUE(off.ok());
  c.configure(&off->config_files);
  EXPECT_FALSE(c.enabled());
  EXPECT_EQ(cls(c, "/x/CLAUDE.md"), "-");
  auto none = parse_policy("apiVersion: rein/v1\n", "p.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->config_files.enabled);
  EXPECT_TRUE(none->config_files.defaults);
  EXPECT_TRUE(none->config_files.classes.empty());
}

TEST(ConfigClasses, DiagnosticsNameFileLineColumnAndField) {
  auto d = diags(R"(apiVersion: rein/v1
config_files:
  classes:
    - name: a
      paths: ["relative/x"]
    - name: a
      paths: ["**/y"]
    - name: b
      paths: []
    - name: c
      paths: ["**/[z"]
      credential: maybe
    - paths: ["**/q"]
  colour: red
)");
  std::string all;
  for (const auto& s : d) all += s + "\n";
  EXPECT_NE(all.find("p.yaml:5:15: config_files.classes[0].paths[0]: config file paths must be absolute"), std::string::npos) << all;
  EXPECT_NE(all.find("p.yaml:6:13: config_files.classes[1].name: duplicate config class name 'a' (first at line 4)"), std::string::npos) << all;
  EXPECT_NE(all.find("config_files.classes[2].paths"), std::string::npos) << all;
  EXPECT_NE(all.find("config_files.classes[3].paths[0]"), std::string::npos) << all;
  EXPECT_NE(all.find("config_files.classes[3].credential"), std::string::npos) << all;
  EXPECT_NE(all.find("config_files.classes[4].name"), std::string::npos) << all;
  EXPECT_NE(all.find("p.yaml:14:3: config_files.colour"), std::string::npos) << all;
}
