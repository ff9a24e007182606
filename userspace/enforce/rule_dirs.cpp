#include "enforce/rule_dirs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "enforce/policy_compiler.h"

namespace rein::enforce {
namespace {

uint8_t kernel_action(policy::Action a) {
  return a == policy::Action::kDeny    ? REIN_ACT_DENY
         : a == policy::Action::kPause ? REIN_ACT_PAUSE
                                       : REIN_ACT_AUDIT;
}

// policy::FileOp i is REIN_OP_* i + 1 (as in the compiler).
uint32_t kernel_ops(policy::FileOpMask m) {
  uint32_t ops = 0;
  for (unsigned i = 0; i < policy::kFileOpCount; i++)
    if (m & (1u << i)) ops |= 1u << (i + 1);
  return ops;
}

// Rules name host paths. A sensor in a container (the DaemonSet: hostPID, its own mount
// namespace) must look them up in the host's tree, which it reaches through pid 1's root.
std::string host_view(const std::string& dir) {
  static const std::string prefix = [] {
    char self[64] = {}, init[64] = {};
    ssize_t a = readlink("/proc/self/ns/mnt", self, sizeof(self) - 1);
    ssize_t b = readlink("/proc/1/ns/mnt", init, sizeof(init) - 1);
    return a > 0 && b > 0 && std::string(self) != std::string(init) ? std::string("/proc/1/root")
                                                                     : std::string();
  }();
  return prefix + dir;
}

}  // namespace

uint32_t kernel_dev(uint64_t st_dev) {
  return static_cast<uint32_t>((major(st_dev) << 20) | minor(st_dev));
}

std::vector<RuleDir> rule_dirs(const policy::Policy& p) {
  std::vector<RuleDir> out;
  auto make = [&p](const struct stat& st, const std::string& path, size_t i,
                   const policy::Rule& rule, const policy::FileMatch& m) {
    RuleDir d;
    d.dev = st.st_dev;
    d.ino = st.st_ino;
    d.dir = path;
    d.rule.rule = static_cast<uint32_t>(i);
    d.rule.action = kernel_action(rule.action);
    d.rule.scope = scope_mask(p, rule.scope);
    d.rule.ops = kernel_ops(m.ops);
    return d;
  };
  for (size_t i = 0; i < p.rules.size(); i++) {
    const auto& rule = p.rules[i];
    const auto* m = std::get_if<policy::FileMatch>(&rule.match);
    if (!m) continue;
    for (const auto& g : m->paths) {
      if (g.is_literal() && g.pattern().size() > 1 && g.pattern().front() == '/') {
        // An exact path: the file's own inode, so a hard link or a bind-mount view of it is
        // judged by the same rule. Not a directory (its entry would cover what is below),
        // nor a symlink (the rule names the link, not what it points to).
        struct stat st {};
        if (lstat(host_view(g.pattern()).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.push_back(make(st, g.pattern(), i, rule, *m));
        continue;
      }
      if (!g.is_prefix_only()) continue;
      auto prefix = g.literal_prefix();
      if (!prefix || prefix->size() < 2 || prefix->front() != '/') continue;  // not "/" itself
      std::string dir = *prefix;
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      struct stat st {};
      if (stat(host_view(dir).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      out.push_back(make(st, dir, i, rule, *m));
    }
  }
  return out;
}

namespace {

// Per class, the first rule or allow-list with a match of kind M whose scope covers it.
template <class M>
std::array<rein_rule, 64> scope_rules_of(const policy::Policy& p) {
  std::array<rein_rule, 64> out{};
  auto cover = [&](uint64_t scope, uint32_t index, policy::Action a) {
    for (unsigned c = 0; c < 64; c++) {
      if (!(scope & (1ULL << c)) || out[c].ops) continue;
      out[c].rule = index;
      out[c].action = kernel_action(a);
      out[c].scope = 1ULL << c;
      out[c].ops = 1;
    }
  };
  for (size_t i = 0; i < p.rules.size(); i++)
    if (std::holds_alternative<M>(p.rules[i].match))
      cover(scope_mask(p, p.rules[i].scope), static_cast<uint32_t>(i), p.rules[i].action);
  for (size_t i = 0; i < p.allow.size(); i++)
    if (std::holds_alternative<M>(p.allow[i].match))
      cover(scope_mask(p, p.allow[i].scope), allow_rule_index(p, i), p.allow[i].otherwise);
  return out;
}

}  // namespace

std::array<rein_rule, 64> file_scope_rules(const policy::Policy& p) {
  return scope_rules_of<policy::FileMatch>(p);
}

std::array<rein_rule, 64> network_scope_rules(const policy::Policy& p) {
  return scope_rules_of<policy::NetworkMatch>(p);
}

}  // namespace rein::enforce
