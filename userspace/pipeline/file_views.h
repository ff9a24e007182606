// The paths a name-based file operation really changed, for matching file rules in user
// space after the syscall: the host path its string resolves to (symlinked directories,
// "..", "//", /proc/self/root, chroot), and the same object seen from each rule directory
// found among its ancestors by (dev, ino) (bind mounts, mount namespaces).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "enforce/rule_dirs.h"

namespace rein::pipeline {

struct FileViews {
  std::string path;                      // resolved host path
  std::vector<std::string> under_rules;  // rule-directory views: DIR + the components below it
};

class FileViewResolver {
 public:
  void set_rule_dirs(std::vector<enforce::RuleDir> dirs) { dirs_ = std::move(dirs); }
  // `written` is the kernel's path (absolute, in the process's view). Tries each pid's root
  // in turn (the process may have exited: its parent or agent root usually shares it), then
  // the host root. nullopt when the parent directory is gone.
  std::optional<FileViews> resolve(std::initializer_list<uint32_t> pids,
                                   const std::string& written, bool follow_last = false);
  uint64_t failures() const { return failures_; }

  // Syscalls whose path is a name the process passed (not a descriptor's file).
  static bool name_based(uint32_t syscall_nr);
  // Name-based syscalls that act on what a symlink in the last component points to.
  static bool follows_last(uint32_t syscall_nr);

 private:
  std::vector<enforce::RuleDir> dirs_;
  uint64_t failures_ = 0;
};

}  // namespace rein::pipeline
