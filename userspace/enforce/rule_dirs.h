// What the kernel needs beyond the path maps to keep file rules from being walked around:
//  - the (dev, ino) of every directory a "PREFIX/**" file rule names, so a bind mount,
//    chroot or namespace view of it still matches (bpf/inode_rules.bpf.h; user space checks
//    the same set after resolving a name-based op, see process/path_resolver.h), and of
//    every regular file an exact-path rule names, so a hard link or a view of it matches in
//    the kernel;
//  - per agent class, a file rule whose scope covers it: such a process may not use
//    io_uring, whose operations no syscall hook sees (bpf/file_extra.bpf.h);
//  - per agent class, a network rule whose scope covers it: such a process may not open a
//    raw or packet socket, whose packets no connect or send hook sees (bpf/net.bpf.h).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "rein/abi/events.h"

namespace rein::enforce {

struct RuleDir {
  uint64_t dev = 0;  // st_dev as stat(2) reports it (kernel_dev() for the BPF map)
  uint64_t ino = 0;
  std::string dir;   // the rule's directory, no trailing '/' (or an exact rule's file)
  rein_rule rule{};  // as the kernel stores it (rule index, action, scope, ops)
};

// Directories of the policy's "PREFIX/**" deny/pause/audit file rules that exist now
// (stat follows symlinks: the directory the prefix names), and the regular files its
// exact-path rules name (lstat: a symlink is not followed). Allow-lists are not included.
std::vector<RuleDir> rule_dirs(const policy::Policy& p);

// Per agent class (index = REIN class bit): the first file rule or file allow-list whose
// scope covers that class; ops == 0 where none does.
std::array<rein_rule, 64> file_scope_rules(const policy::Policy& p);
// The same for network rules and network allow-lists.
std::array<rein_rule, 64> network_scope_rules(const policy::Policy& p);

// st_dev as the kernel's super_block.s_dev encodes it (major << 20 | minor).
uint32_t kernel_dev(uint64_t st_dev);

}  // namespace rein::enforce
