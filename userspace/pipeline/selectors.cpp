#include "pipeline/selectors.h"

#include <limits.h>
#include <stdlib.h>

#include <charconv>
#include <fmt/format.h>

namespace rein::pipeline {

namespace {
const char* flag_of(SelectorKind k) {
  switch (k) {
    case SelectorKind::Exe: return "--agent-exe";
    case SelectorKind::Cmdline: return "--agent-cmdline";
    case SelectorKind::Cgroup: return "--agent-cgroup";
    case SelectorKind::Pid: return "--agent-pid";
    case SelectorKind::Script: return "--agent-script";
  }
  return "?";
}

std::string basename_of(std::string_view p) {
  auto pos = p.rfind('/');
  return std::string(pos == std::string_view::npos ? p : p.substr(pos + 1));
}

bool cgroup_under(const std::string& path, const std::string& sel) {
  std::string s = sel;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  if (s == "/") return true;
  return path == s || (path.size() > s.size() && path.compare(0, s.size(), s) == 0 &&
                       path[s.size()] == '/');
}
}  // namespace

ScriptArg script_arg(const std::vector<std::string>& args) {
  ScriptArg out;
  for (size_t i = 1; i < args.size() && i <= 3; i++) {
    const std::string& a = args[i];
    if (a.empty() || a[0] == '-') continue;
    out.basename = basename_of(a);
    auto nm = a.rfind("node_modules/");
    if (nm != std::string::npos) {
      std::string_view rest = std::string_view(a).substr(nm + 13);
      size_t end = rest.find('/');
      if (!rest.empty() && rest[0] == '@' && end != std::string_view::npos)
        end = rest.find('/', end + 1);
      out.package = std::string(rest.substr(0, end));
    }
    break;
  }
  return out;
}

bool SelectorSet::has_script() const {
  for (const auto& s : items_)
    if (s.kind == SelectorKind::Script) return true;
  return false;
}

constexpr uint32_t kPidMaxLimit = 4194304;  // the kernel's PID_MAX_LIMIT, as the policy's pid

Result<SelectorSet> SelectorSet::build(std::vector<Selector> selectors) {
  SelectorSet set;
  for (uint32_t i = 0; i < selectors.size(); i++) {
    auto& s = selectors[i];
    if (s.value.empty()) return make_error(fmt::format("{}: empty value", flag_of(s.kind)));
    switch (s.kind) {
      case SelectorKind::Script:
        if (s.value.size() > 255)
          return make_error(fmt::format("--agent-script {}: longer than 255 bytes", s.value));
        if (s.name.empty()) s.name = basename_of(s.value);
        break;
      case SelectorKind::Exe:
        if (s.value.size() > 255)
          return make_error(fmt::format("--agent-exe {}: longer than 255 bytes", s.value));
        if (s.value.find('/') != std::string::npos && s.value.front() != '/')  // as the policy's exe
          return make_error(fmt::format("--agent-exe {}: must be an absolute path or a bare file name",
                                        s.value));
        if (s.name.empty()) s.name = basename_of(s.value);
        break;
      case SelectorKind::Cmdline:
        // Bounded matching: argv is hostile input, so no backtracking regex engine.
        if (auto re = policy::Regex::compile(s.value); re) {
          set.regexes_.emplace_back(i, std::move(*re));
        } else {
          return make_error(fmt::format("--agent-cmdline '{}': not a valid regular expression ({})",
                                        s.value, re.error().message));
        }
        break;
      case SelectorKind::Cgroup:
        if (s.value.front() != '/')
          return make_error(fmt::format("--agent-cgroup {}: must be a path starting with '/' "
                                        "(relative to the cgroup v2 mount)", s.value));
        if (s.name.empty()) s.name = basename_of(s.value);
        break;
      case SelectorKind::Pid: {
        uint32_t pid = 0;
        auto [p, ec] = std::from_chars(s.value.data(), s.value.data() + s.value.size(), pid);
        if (ec != std::errc() || p != s.value.data() + s.value.size() || pid == 0 || pid > kPidMaxLimit)
          return make_error(fmt::format("--agent-pid {}: not a process id (1..{})", s.value, kPidMaxLimit));
        break;
      }
    }
  }
  set.items_ = std::move(selectors);
  return set;
}

std::optional<uint32_t> SelectorSet::match_cmdline(const std::vector<std::string>& args) const {
  if (regexes_.empty()) return std::nullopt;
  std::string joined = join_args(args);
  for (const auto& [idx, re] : regexes_)
    if (re.search(joined).value_or(false)) return idx;
  return std::nullopt;
}

std::optional<uint32_t> SelectorSet::match_existing(uint32_t pid, const std::string& exe,
                                                    const std::vector<std::string>& args,
                                                    const std::string& cgroup) const {
  for (uint32_t i = 0; i < items_.size(); i++) {
    const auto& s = items_[i];
    switch (s.kind) {
      case SelectorKind::Exe: {
        bool path = s.value.find('/') != std::string::npos;
        std::string argv0 = args.empty() ? std::string() : args[0];
        if (path ? (exe == s.value || argv0 == s.value)
                 : (basename_of(exe) == s.value || basename_of(argv0) == s.value))
          return i;
        break;
      }
      case SelectorKind::Cgroup:
        if (!cgroup.empty() && cgroup_under(cgroup, s.value)) return i;
        break;
      case SelectorKind::Pid:
        if (std::to_string(pid) == s.value) return i;
        break;
      case SelectorKind::Script: {
        auto sa = script_arg(args);
        if (!sa.basename.empty() && (sa.basename == s.value || sa.package == s.value)) return i;
        break;
      }
      case SelectorKind::Cmdline:
        break;
    }
  }
  return match_cmdline(args);
}

std::vector<std::pair<uint64_t, uint32_t>> SelectorSet::exe_hashes() const {
  std::vector<std::pair<uint64_t, uint32_t>> out;
  for (uint32_t i = 0; i < items_.size(); i++) {
    if (items_[i].kind == SelectorKind::Script) {
      out.emplace_back(fnv1a64(items_[i].value), i);
      continue;
    }
    if (items_[i].kind != SelectorKind::Exe) continue;
    const auto& v = items_[i].value;
    out.emplace_back(fnv1a64(v), i);
    if (v.find('/') != std::string::npos) {
      char real[PATH_MAX];
      if (realpath(v.c_str(), real) && v != real) out.emplace_back(fnv1a64(real), i);
    }
  }
  return out;
}

}  // namespace rein::pipeline
