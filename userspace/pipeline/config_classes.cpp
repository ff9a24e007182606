#include "pipeline/config_classes.h"

#include <set>

namespace rein::pipeline {

namespace {

struct BuiltinClass {
  const char* name;
  bool credential;
  std::initializer_list<const char*> paths;
};

// Globs are in policy path syntax: "**/X" is X in any directory.
const BuiltinClass kBuiltin[] = {
    {"agent_instructions",
     false,
     {"**/CLAUDE.md", "**/CLAUDE.local.md", "**/AGENTS.md", "**/GEMINI.md", "**/.claude/**",
      "**/.codex/**", "**/.gemini/**", "**/.mcp.json", "**/.cursor/**", "**/.cursorrules",
      "**/.windsurfrules", "**/.github/copilot-instructions.md", "**/.aider.conf.yml"}},
    {"shell_startup",
     false,
     {"**/.bashrc", "**/.bash_profile", "**/.bash_login", "**/.bash_logout", "**/.profile",
      "**/.zshrc", "**/.zshenv", "**/.zprofile", "**/.zlogin", "**/.config/fish/config.fish",
      "/etc/profile", "/etc/profile.d/**", "/etc/bash.bashrc", "/etc/zsh/**", "/etc/environment"}},
    {"git",
     false,
     {"**/.git/hooks/**", "**/.git/config", "**/.gitconfig", "**/.config/git/config",
      "**/.gitmodules", "**/.gitattributes", "/etc/gitconfig", "**/.husky/**"}},
    {"ci",
     false,
     {"**/.github/workflows/**", "**/.github/actions/**", "**/.gitlab-ci.yml", "**/.circleci/**",
      "**/Jenkinsfile", "**/.travis.yml", "**/azure-pipelines.yml", "**/bitbucket-pipelines.yml",
      "**/.buildkite/**", "**/.drone.yml"}},
    {"dependencies",
     false,
     {"**/package.json",
      "**/package-lock.json",
      "**/yarn.lock",
      "**/pnpm-lock.yaml",
      "**/bun.lockb",
      "**/requirements.txt",
      "**/requirements-*.txt",
      "**/pyproject.toml",
      "**/poetry.lock",
      "**/Pipfile",
      "**/Pipfile.lock",
      "**/uv.lock",
      "**/setup.py",
      "**/setup.cfg",
      "**/Cargo.toml",
      "**/Cargo.lock",
      "**/go.mod",
      "**/go.sum",
      "**/Gemfile",
      "**/Gemfile.lock",
      "**/composer.json",
      "**/composer.lock",
      "**/pom.xml",
      "**/build.gradle",
      "**/build.gradle.kts",
      "**/Makefile",
      "**/Dockerfile"}},
    {"scheduled_jobs",
     false,
     {"/etc/crontab", "/etc/cron.d/**", "/etc/cron.daily/**", "/etc/cron.hourly/**",
      "/etc/cron.weekly/**", "/etc/cron.monthly/**", "/var/spool/cron/**", "/etc/systemd/**",
      "/lib/systemd/system/**", "/usr/lib/systemd/system/**", "**/.config/systemd/**",
      "/etc/init.d/**", "/etc/rc.local"}},
    {"credentials",
     true,
     {"**/.ssh/authorized_keys", "**/.ssh/authorized_keys2", "**/.ssh/id_*", "**/.ssh/config",
      "**/.env", "**/.env.*", "**/.aws/credentials", "**/.aws/config", "**/.netrc", "**/.npmrc",
      "**/.pypirc", "**/.docker/config.json", "**/.kube/config", "**/.config/gcloud/**",
      "**/.git-credentials", "/etc/sudoers", "/etc/sudoers.d/**", "/etc/shadow", "/etc/passwd"}},
};

}  // namespace

std::vector<ConfigClassifier::Class> ConfigClassifier::builtin() {
  std::vector<Class> out;
  for (const auto& b : kBuiltin) {
    Class c;
    c.name = b.name;
    c.credential = b.credential;
    for (const char* p : b.paths)
      if (auto g = policy::Glob::compile(p)) c.paths.push_back(std::move(g).value());
    out.push_back(std::move(c));
  }
  return out;
}

ConfigClassifier::ConfigClassifier() : classes_(builtin()) {
  index();
}

void ConfigClassifier::index() {
  cache_.clear();
  for (auto& c : classes_) {
    c.basenames.clear();
    c.others.clear();
    for (size_t i = 0; i < c.paths.size(); i++) {
      if (auto b = c.paths[i].basename_only())
        c.basenames.insert(*b);
      else
        c.others.push_back(i);
    }
  }
}

void ConfigClassifier::configure(const policy::ConfigFilesConfig* cfg) {
  cache_.clear();
  if (!cfg) {
    classes_ = builtin();
    enabled_ = true;
    index();
    return;
  }
  enabled_ = cfg->enabled;
  std::vector<Class> out;
  std::set<std::string> named;
  auto defaults = builtin();
  for (const auto& pc : cfg->classes) {
    Class c;
    c.name = pc.name;
    c.paths = pc.paths;
    bool builtin_cred = false;
    for (const auto& d : defaults)
      if (d.name == pc.name) builtin_cred = d.credential;
    c.credential = pc.credential.value_or(builtin_cred);
    named.insert(c.name);
    out.push_back(std::move(c));
  }
  if (cfg->defaults)
    for (auto& d : defaults)
      if (!named.count(d.name)) out.push_back(std::move(d));
  classes_ = std::move(out);
  index();
}

std::optional<ConfigClassMatch> ConfigClassifier::classify(std::string_view path) const {
  if (!enabled_ || path.empty() || path.front() != '/') return std::nullopt;
  std::string key(path);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (cache_.size() >= kMaxCached) cache_.clear();
  auto m = match(path);
  cache_.emplace(std::move(key), m);
  return m;
}

std::optional<ConfigClassMatch> ConfigClassifier::match(std::string_view path) const {
  const std::string base(path.substr(path.rfind('/') + 1));
  for (const auto& c : classes_) {
    if (c.basenames.count(base)) return ConfigClassMatch{c.name, c.credential};
    for (size_t i : c.others)
      if (c.paths[i].match(path)) return ConfigClassMatch{c.name, c.credential};
  }
  return std::nullopt;
}

std::vector<ConfigClassifier::Probe> ConfigClassifier::probes() const {
  std::vector<Probe> out;
  std::set<std::string> seen;
  for (const auto& c : classes_) {
    for (const auto& g : c.paths) {
      const std::string& p = g.pattern();
      if (p.rfind("**/", 0) != 0) continue;  // absolute patterns are not under cwd or home
      std::string rel = p.substr(3);
      bool subtree = false;
      if (rel.size() > 3 && rel.compare(rel.size() - 3, 3, "/**") == 0) {
        rel.resize(rel.size() - 3);
        subtree = true;
      }
      if (rel.empty() || rel.find_first_of("*?[\\") != std::string::npos) continue;
      if (seen.insert(rel).second) out.push_back(Probe{rel, subtree});
    }
  }
  return out;
}

}  // namespace rein::pipeline
