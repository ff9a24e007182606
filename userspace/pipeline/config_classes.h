// Which config class a changed file belongs to (config.mutation events): the policy's
// config_files classes first, then the built-in ones (agent instructions, shell startup,
// git, CI, dependency manifests, scheduled jobs, credentials). First match wins.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "policy/config_files.h"

namespace rein::pipeline {

struct ConfigClassMatch {
  std::string_view name;  // valid while the classifier is
  bool credential = false;
};

class ConfigClassifier {
 public:
  // The built-in classes only.
  ConfigClassifier();
  // The policy's section (null: built-ins only); a class named like a built-in replaces it.
  void configure(const policy::ConfigFilesConfig* cfg);
  bool enabled() const { return enabled_; }
  std::optional<ConfigClassMatch> classify(std::string_view path) const;

  // For snapshots: the file names (last components) that some class matches exactly
  // wherever they are, and directories whose whole subtree a class covers, relative to
  // a directory ("CLAUDE.md", ".claude", ".git/hooks", ...).
  struct Probe {
    std::string relative;
    bool subtree = false;
  };
  std::vector<Probe> probes() const;

  struct Class {
    std::string name;
    std::vector<policy::Glob> paths;
    bool credential = false;
    // paths split for speed (every file change of an agent is classified): "**/NAME" globs
    // as their NAMEs, the rest as globs.
    std::unordered_set<std::string> basenames;
    std::vector<size_t> others;  // indexes into paths
  };
  const std::vector<Class>& classes() const { return classes_; }
  static std::vector<Class> builtin();

 private:
  void index();
  std::optional<ConfigClassMatch> match(std::string_view path) const;
  std::vector<Class> classes_;
  bool enabled_ = true;
  // Answers by path: a busy agent writes the same files over and over, and matching a path
  // against every class's names and globs cost more than the rest of its file event. Emptied
  // when the classes change (index()) and when it holds kMaxCached paths.
  static constexpr size_t kMaxCached = 4096;
  mutable std::unordered_map<std::string, std::optional<ConfigClassMatch>> cache_;
};

}  // namespace rein::pipeline
