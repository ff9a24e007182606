// The `config_files:` section of a policy (docs/policy.md): which files' changes become
// config.mutation events. Absent section: the built-in classes (pipeline/config_classes).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "policy/glob.h"

namespace rein::policy {

struct ConfigFileClass {
  std::string name;
  std::vector<Glob> paths;
  // Credential files: events carry hashes, sizes and line counts, never content.
  // nullopt: as the built-in class of that name says (false for a new class).
  std::optional<bool> credential;
  uint32_t line = 0, column = 0;
};

struct ConfigFilesConfig {
  bool enabled = true;
  // The built-in classes, consulted after these; a class named like a built-in replaces it.
  bool defaults = true;
  std::vector<ConfigFileClass> classes;
};

inline constexpr size_t kMaxConfigClasses = 256;

class FieldReader;
struct YamlNode;
// Reads the `config_files:` mapping at `n` into `out`, reporting problems through `r`.
void parse_config_files(FieldReader& r, const YamlNode& n, const std::string& field,
                        ConfigFilesConfig& out);

}  // namespace rein::policy
