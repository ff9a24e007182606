#include "policy/policy_parser.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <memory>

#include "policy/duration.h"
#include "policy/yaml_fields.h"
#include "policy/yaml_tree.h"
#include "rein/abi/events.h"

namespace rein::policy {

namespace {

using Kind = YamlNode::Kind;
using Map = FieldReader::Map;

constexpr std::chrono::seconds kMinWindow{60};
constexpr std::chrono::seconds kMaxWindow{30 * 86400};
constexpr std::chrono::seconds kMinHold{1};
constexpr std::chrono::seconds kMaxHold{86400};
constexpr double kMaxUsd = 1e9;
constexpr uint64_t kMaxTokens = 1000000000000000ULL;
constexpr uint64_t kMaxPid = 4194304;  // PID_MAX_LIMIT

class PolicyBuilder {
 public:
  PolicyBuilder(DiagnosticSink& sink, std::string_view file) : r_(sink) { policy_.file = std::string(file); }

  void build(const YamlNode& root);
  Policy take() { return std::move(policy_); }

 private:
  // Runs item(node, field) over a list; nullopt if the list or any item is bad.
  template <typename T, typename F>
  std::optional<std::vector<T>> each(const YamlNode& n, const std::string& field, F item,
                                     size_t max_items = kMaxListItems, bool allow_empty = false) {
    const auto* items = r_.list(n, field, max_items, allow_empty);
    if (!items) return std::nullopt;
    std::vector<T> out;
    out.reserve(items->size());
    bool ok = true;
    for (size_t i = 0; i < items->size(); i++) {
      std::optional<T> v = item((*items)[i], field_index(field, i));
      if (v) out.push_back(std::move(*v));
      else ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  bool unique(std::map<std::string, uint32_t>& seen, const std::string& name, const YamlNode& at,
              const std::string& field, std::string_view what) {
    auto [it, inserted] = seen.emplace(name, at.line);
    if (!inserted) r_.error(at, field, fmt::format("duplicate {} name '{}' (first at line {})", what, name, it->second));
    return inserted;
  }

  std::optional<Agent> agent(const YamlNode& n, const std::string& f);
  Scope scope(const Map& m);
  std::optional<Action> action(const YamlNode& n, const std::string& f);
  std::optional<Match> match(const Map& m, const std::string& owner);
  std::optional<FileMatch> file_match(const YamlNode& n, const std::string& f);
  std::optional<NetworkMatch> network_match(const YamlNode& n, const std::string& f);
  std::optional<ExecMatch> exec_match(const YamlNode& n, const std::string& f);
  std::optional<LlmMatch> llm_match(const YamlNode& n, const std::string& f);
  std::optional<Rule> rule(const YamlNode& n, const std::string& f);
  std::optional<AllowScope> allow(const YamlNode& n, const std::string& f);
  std::optional<Budget> budget(const YamlNode& n, const std::string& f);
  void holds(const YamlNode& n, const std::string& f);
  void dns(const YamlNode& n, const std::string& f);

  std::optional<std::chrono::seconds> duration(const YamlNode& n, const std::string& f, std::chrono::seconds min,
                                               std::chrono::seconds max);
  std::optional<Regex> regex(const YamlNode& n, const std::string& f);
  std::optional<Glob> path_glob(const YamlNode& n, const std::string& f);
  std::optional<HostPattern> host(const YamlNode& n, const std::string& f);
  std::optional<std::string> exe_path(const YamlNode& n, const std::string& f, bool exec_rule);

  FieldReader r_;
  Policy policy_;
  std::map<std::string, uint32_t> agent_names_;
  std::map<std::string, uint32_t> decision_names_;  // rules and allow scopes share one namespace
  std::map<std::string, uint32_t> budget_names_;
  size_t regexes_ = 0;
};

SourceLoc loc_of(const YamlNode& n) { return SourceLoc{n.line, n.column}; }

void PolicyBuilder::build(const YamlNode& root) {
  if (root.kind == Kind::kNull) {
    r_.error(root, "apiVersion", "empty policy; it needs at least 'apiVersion: rein/v1'");
    return;
  }
  Map m = r_.map(root, "", {"apiVersion", "agents", "autodiscover", "rules", "allow", "budgets", "holds",
                            "dns", "detections", "config_files"});
  if (!m.ok()) return;

  if (const YamlNode* v = m.require("apiVersion")) {
    if (auto s = r_.string(*v, "apiVersion", 64); s && *s != kApiVersion)
      r_.error(*v, "apiVersion", fmt::format("unsupported apiVersion '{}' (expected {})", *s, kApiVersion));
  }
  if (const YamlNode* v = m.get("autodiscover")) {
    if (auto b = r_.boolean(*v, "autodiscover")) policy_.autodiscover = *b;
  }
  // Agents first: rule scopes refer to them wherever they sit in the file.
  if (const YamlNode* v = m.get("agents")) {
    if (const auto* items = r_.list(*v, "agents", kMaxAgents, true)) {
      for (size_t i = 0; i < items->size(); i++)
        if (auto a = agent((*items)[i], field_index("agents", i))) policy_.agents.push_back(std::move(*a));
    }
  }
  if (const YamlNode* v = m.get("rules")) {
    if (const auto* items = r_.list(*v, "rules", kMaxRules, true)) {
      for (size_t i = 0; i < items->size(); i++)
        if (auto x = rule((*items)[i], field_index("rules", i))) policy_.rules.push_back(std::move(*x));
    }
  }
  if (const YamlNode* v = m.get("allow")) {
    if (const auto* items = r_.list(*v, "allow", kMaxRules, true)) {
      for (size_t i = 0; i < items->size(); i++)
        if (auto x = allow((*items)[i], field_index("allow", i))) policy_.allow.push_back(std::move(*x));
    }
  }
  if (const YamlNode* v = m.get("budgets")) {
    if (const auto* items = r_.list(*v, "budgets", kMaxBudgets, true)) {
      for (size_t i = 0; i < items->size(); i++)
        if (auto x = budget((*items)[i], field_index("budgets", i))) policy_.budgets.push_back(std::move(*x));
    }
  }
  if (const YamlNode* v = m.get("holds")) holds(*v, "holds");
  if (const YamlNode* v = m.get("dns")) dns(*v, "dns");
  if (const YamlNode* v = m.get("detections")) parse_detections(r_, *v, "detections", policy_.detections);
  if (const YamlNode* v = m.get("config_files")) parse_config_files(r_, *v, "config_files", policy_.config_files);
}

std::optional<std::string> PolicyBuilder::exe_path(const YamlNode& n, const std::string& f, bool exec_rule) {
  auto s = r_.string(n, f);
  if (!s) return std::nullopt;
  if (s->find('/') != std::string::npos && s->front() != '/') {
    r_.error(n, f, "must be an absolute path or a bare file name");
    return std::nullopt;
  }
  if (s->front() != '/' && s->size() > 255) {
    r_.error(n, f, "file name longer than 255 bytes");
    return std::nullopt;
  }
  if (exec_rule && s->front() == '/' && s->size() > REIN_PATH_KEY) {
    r_.error(n, f, fmt::format("exec path longer than {} bytes (the kernel matches exec paths "
                               "up to that length; name the program by its file name)",
                               REIN_PATH_KEY));
    return std::nullopt;
  }
  if (exec_rule && s->find_first_of("*?[") != std::string::npos) {
    r_.error(n, f, "exec paths are exact; wildcards are not supported (use argv regexes)");
    return std::nullopt;
  }
  return s;
}

std::optional<Regex> PolicyBuilder::regex(const YamlNode& n, const std::string& f) {
  auto s = r_.string(n, f, Regex::kMaxPatternBytes);
  if (!s) return std::nullopt;
  if (++regexes_ > kMaxRegexes) {
    if (regexes_ == kMaxRegexes + 1)
      r_.error(n, f, fmt::format("more than {} regexes in one policy (each is compiled at load and "
                                 "tried on every exec of a selected process)", kMaxRegexes));
    return std::nullopt;
  }
  auto re = Regex::compile(*s);
  if (!re) {
    r_.error(n, f, re.error().message);
    return std::nullopt;
  }
  return std::move(re).value();
}

std::optional<Glob> PolicyBuilder::path_glob(const YamlNode& n, const std::string& f) {
  auto s = r_.string(n, f, Glob::kMaxPatternBytes);
  if (!s) return std::nullopt;
  if (s->front() != '/' && s->compare(0, 2, "**") != 0) {
    r_.error(n, f, "file paths must be absolute or start with '**' (e.g. \"**/.env\")");
    return std::nullopt;
  }
  auto g = Glob::compile(*s, GlobMode::kPath);
  if (!g) {
    r_.error(n, f, g.error().message);
    return std::nullopt;
  }
  return std::move(g).value();
}

std::optional<HostPattern> PolicyBuilder::host(const YamlNode& n, const std::string& f) {
  auto s = r_.string(n, f, 512);
  if (!s) return std::nullopt;
  auto h = HostPattern::parse(*s);
  if (!h) {
    r_.error(n, f, h.error().message);
    return std::nullopt;
  }
  return std::move(h).value();
}

std::optional<std::chrono::seconds> PolicyBuilder::duration(const YamlNode& n, const std::string& f,
                                                            std::chrono::seconds min, std::chrono::seconds max) {
  auto s = r_.string(n, f, 64);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    r_.error(n, f, d.error().message);
    return std::nullopt;
  }
  if (*d < min || *d > max) {
    r_.error(n, f, fmt::format("{} is outside {}..{}", *s, format_duration(min), format_duration(max)));
    return std::nullopt;
  }
  return *d;
}

std::optional<Action> PolicyBuilder::action(const YamlNode& n, const std::string& f) {
  auto s = r_.choice(n, f, {"audit", "deny", "pause"});
  if (!s) return std::nullopt;
  if (*s == "deny") return Action::kDeny;
  if (*s == "pause") return Action::kPause;
  return Action::kAudit;
}

std::optional<Agent> PolicyBuilder::agent(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"name", "exe", "cmdline", "cgroup", "pid"});
  if (!m.ok()) return std::nullopt;
  Agent a;
  a.loc = loc_of(n);
  bool ok = true;
  if (const YamlNode* v = m.require("name")) {
    auto name = r_.name(*v, m.field("name"));
    if (name && *name == kAutodiscovered) {
      r_.error(*v, m.field("name"), fmt::format("'{}' is reserved for auto-discovered agents", kAutodiscovered));
      name.reset();
    }
    if (name && unique(agent_names_, *name, *v, m.field("name"), "agent")) a.name = *name;
    else ok = false;
  } else {
    ok = false;
  }
  bool any_selector = false;
  if (const YamlNode* v = m.get("exe")) {
    any_selector = true;
    auto xs = each<std::string>(*v, m.field("exe"), [&](const YamlNode& x, const std::string& xf) {
      return exe_path(x, xf, false);
    });
    if (xs) a.exe = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("cmdline")) {
    any_selector = true;
    auto xs = each<Regex>(*v, m.field("cmdline"), [&](const YamlNode& x, const std::string& xf) { return regex(x, xf); });
    if (xs) a.cmdline = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("cgroup")) {
    any_selector = true;
    auto xs = each<std::string>(*v, m.field("cgroup"), [&](const YamlNode& x, const std::string& xf) {
      auto s = r_.string(x, xf);
      if (s && s->front() != '/') {
        r_.error(x, xf, "cgroup paths start with '/' (relative to the cgroup v2 mount)");
        s.reset();
      }
      return s;
    });
    if (xs) a.cgroup = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("pid")) {
    any_selector = true;
    auto xs = each<uint32_t>(*v, m.field("pid"), [&](const YamlNode& x, const std::string& xf) -> std::optional<uint32_t> {
      auto p = r_.integer(x, xf, 1, kMaxPid);
      if (!p) return std::nullopt;
      return static_cast<uint32_t>(*p);
    });
    if (xs) a.pid = std::move(*xs);
    else ok = false;
  }
  if (!any_selector) {
    r_.error(n, f, "an agent needs at least one selector: exe, cmdline, cgroup or pid");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return a;
}

Scope PolicyBuilder::scope(const Map& m) {
  Scope s;
  const YamlNode* v = m.get("agents");
  if (!v) return s;
  const std::string f = m.field("agents");
  const auto* items = r_.list(*v, f, kMaxListItems);
  if (!items) return s;
  for (size_t i = 0; i < items->size(); i++) {
    const YamlNode& item = (*items)[i];
    auto name = r_.string(item, field_index(f, i), 64);
    if (!name) continue;
    if (*name == kAutodiscovered) {
      s.autodiscovered = true;
    } else if (agent_names_.count(*name)) {
      if (std::find(s.agents.begin(), s.agents.end(), *name) == s.agents.end()) s.agents.push_back(*name);
    } else {
      r_.error(item, field_index(f, i),
               fmt::format("unknown agent '{}' (define it under 'agents:' or use '{}')", *name, kAutodiscovered));
    }
  }
  return s;
}

std::optional<FileMatch> PolicyBuilder::file_match(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"paths", "ops"});
  if (!m.ok()) return std::nullopt;
  FileMatch fm;
  bool ok = true;
  if (const YamlNode* v = m.require("paths")) {
    auto xs = each<Glob>(*v, m.field("paths"), [&](const YamlNode& x, const std::string& xf) { return path_glob(x, xf); });
    if (xs) fm.paths = std::move(*xs);
    else ok = false;
  } else {
    ok = false;
  }
  if (const YamlNode* v = m.get("ops")) {
    auto xs = each<FileOp>(*v, m.field("ops"), [&](const YamlNode& x, const std::string& xf) -> std::optional<FileOp> {
      auto s = r_.string(x, xf, 64);
      if (!s) return std::nullopt;
      auto op = file_op_from_name(*s);
      if (!op)
        r_.error(x, xf, fmt::format("'{}' is not a file operation (create, write, truncate, rename, unlink, chmod, "
                                    "chown, mkdir, rmdir, link, symlink, xattr)", *s));
      return op;
    });
    if (xs) {
      fm.ops = 0;
      for (FileOp op : *xs) fm.ops |= file_op_bit(op);
    } else {
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return fm;
}

std::optional<NetworkMatch> PolicyBuilder::network_match(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"cidrs", "ports", "hosts"});
  if (!m.ok()) return std::nullopt;
  NetworkMatch nm;
  bool ok = true;
  if (!m.has("cidrs") && !m.has("ports") && !m.has("hosts")) {
    r_.error(n, f, "needs at least one of cidrs, ports, hosts");
    ok = false;
  }
  if (const YamlNode* v = m.get("cidrs")) {
    auto xs = each<Cidr>(*v, m.field("cidrs"), [&](const YamlNode& x, const std::string& xf) -> std::optional<Cidr> {
      auto s = r_.string(x, xf, 64);
      if (!s) return std::nullopt;
      auto c = Cidr::parse(*s);
      if (!c) {
        r_.error(x, xf, c.error().message);
        return std::nullopt;
      }
      return std::move(c).value();
    });
    if (xs) nm.cidrs = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("ports")) {
    auto xs = each<PortRange>(*v, m.field("ports"), [&](const YamlNode& x, const std::string& xf) -> std::optional<PortRange> {
      if (x.kind == Kind::kScalar && x.text.find('-') == std::string::npos) {
        auto p = r_.integer(x, xf, 1, 65535);
        if (!p) return std::nullopt;
        return PortRange{static_cast<uint16_t>(*p), static_cast<uint16_t>(*p)};
      }
      auto s = r_.string(x, xf, 64);
      if (!s) return std::nullopt;
      auto dash = s->find('-');
      auto part = [](std::string_view t) -> std::optional<uint16_t> {
        if (t.empty() || t.size() > 5 || (t.size() > 1 && t[0] == '0')) return std::nullopt;
        unsigned v = 0;
        for (char c : t) {
          if (c < '0' || c > '9') return std::nullopt;
          v = v * 10 + static_cast<unsigned>(c - '0');
        }
        if (v < 1 || v > 65535) return std::nullopt;
        return static_cast<uint16_t>(v);
      };
      auto lo = part(std::string_view(*s).substr(0, dash));
      auto hi = part(std::string_view(*s).substr(dash + 1));
      if (!lo || !hi) {
        r_.error(x, xf, fmt::format("'{}' is not a port range \"FIRST-LAST\" of ports 1-65535", *s));
        return std::nullopt;
      }
      if (*lo > *hi) {
        r_.error(x, xf, fmt::format("port range '{}' is reversed", *s));
        return std::nullopt;
      }
      return PortRange{*lo, *hi};
    });
    if (xs) nm.ports = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("hosts")) {
    auto xs = each<HostPattern>(*v, m.field("hosts"), [&](const YamlNode& x, const std::string& xf) { return host(x, xf); });
    if (xs) nm.hosts = std::move(*xs);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return nm;
}

std::optional<ExecMatch> PolicyBuilder::exec_match(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"paths", "argv", "fileless"});
  if (!m.ok()) return std::nullopt;
  ExecMatch em;
  bool ok = true;
  if (!m.has("paths") && !m.has("argv") && !m.has("fileless")) {
    r_.error(n, f, "needs at least one of paths, argv, fileless");
    ok = false;
  }
  if (const YamlNode* v = m.get("fileless")) {
    if (auto b = r_.boolean(*v, m.field("fileless"))) em.fileless = *b;
    else ok = false;
    if (m.has("paths")) {
      r_.error(*v, m.field("fileless"),
               "a program with no name on disk has no path: give fileless without paths");
      ok = false;
    }
  }
  if (const YamlNode* v = m.get("paths")) {
    auto xs = each<std::string>(*v, m.field("paths"), [&](const YamlNode& x, const std::string& xf) {
      return exe_path(x, xf, true);
    });
    if (xs) em.paths = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("argv")) {
    auto xs = each<Regex>(*v, m.field("argv"), [&](const YamlNode& x, const std::string& xf) { return regex(x, xf); });
    if (xs) em.argv = std::move(*xs);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return em;
}

std::optional<LlmMatch> PolicyBuilder::llm_match(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"providers", "models", "hosts"});
  if (!m.ok()) return std::nullopt;
  LlmMatch lm;
  bool ok = true;
  if (!m.has("providers") && !m.has("models") && !m.has("hosts")) {
    r_.error(n, f, "needs at least one of providers, models, hosts");
    ok = false;
  }
  if (const YamlNode* v = m.get("providers")) {
    auto xs = each<std::string>(*v, m.field("providers"), [&](const YamlNode& x, const std::string& xf) {
      auto s = r_.string(x, xf, 64);
      const auto& known = known_llm_providers();
      if (s && std::find(known.begin(), known.end(), *s) == known.end()) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        r_.error(x, xf, fmt::format("unknown provider '{}' (known: {})", *s, list));
        s.reset();
      }
      return s;
    });
    if (xs) lm.providers = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("models")) {
    auto xs = each<Glob>(*v, m.field("models"), [&](const YamlNode& x, const std::string& xf) -> std::optional<Glob> {
      auto s = r_.string(x, xf, 256);
      if (!s) return std::nullopt;
      auto g = Glob::compile(*s, GlobMode::kName, true);
      if (!g) {
        r_.error(x, xf, g.error().message);
        return std::nullopt;
      }
      return std::move(g).value();
    });
    if (xs) lm.models = std::move(*xs);
    else ok = false;
  }
  if (const YamlNode* v = m.get("hosts")) {
    auto xs = each<HostPattern>(*v, m.field("hosts"), [&](const YamlNode& x, const std::string& xf) { return host(x, xf); });
    if (xs) lm.hosts = std::move(*xs);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return lm;
}

std::optional<Match> PolicyBuilder::match(const Map& m, const std::string& owner) {
  static constexpr std::string_view kKinds[] = {"file", "network", "exec", "llm"};
  std::vector<std::string_view> present;
  for (auto k : kKinds)
    if (m.has(k)) present.push_back(k);
  if (present.empty()) {
    r_.error(m.node(), owner, "needs exactly one of file, network, exec, llm");
    return std::nullopt;
  }
  for (size_t i = 1; i < present.size(); i++)
    r_.error(*m.key_node(present[i]), m.field(present[i]),
             fmt::format("'{}' and '{}' in one entry; write one entry per kind", present[0], present[i]));
  // Parse every present kind so mistakes inside each are reported too.
  std::optional<Match> first;
  for (size_t i = 0; i < present.size(); i++) {
    const YamlNode& v = *m.get(present[i]);
    const std::string f = m.field(present[i]);
    std::optional<Match> got;
    if (present[i] == "file") {
      if (auto x = file_match(v, f)) got = std::move(*x);
    } else if (present[i] == "network") {
      if (auto x = network_match(v, f)) got = std::move(*x);
    } else if (present[i] == "exec") {
      if (auto x = exec_match(v, f)) got = std::move(*x);
    } else {
      if (auto x = llm_match(v, f)) got = std::move(*x);
    }
    if (i == 0) first = std::move(got);
  }
  if (present.size() > 1) return std::nullopt;
  return first;
}

std::optional<Rule> PolicyBuilder::rule(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"name", "agents", "action", "file", "network", "exec", "llm"});
  if (!m.ok()) return std::nullopt;
  Rule r;
  r.loc = loc_of(n);
  bool ok = true;
  if (const YamlNode* v = m.require("name")) {
    auto name = r_.name(*v, m.field("name"));
    if (name && unique(decision_names_, *name, *v, m.field("name"), "rule")) r.name = *name;
    else ok = false;
  } else {
    ok = false;
  }
  r.scope = scope(m);
  if (const YamlNode* v = m.require("action")) {
    if (auto a = action(*v, m.field("action"))) r.action = *a;
    else ok = false;
  } else {
    ok = false;
  }
  if (auto x = match(m, f)) r.match = std::move(*x);
  else ok = false;
  if (!ok) return std::nullopt;
  return r;
}

std::optional<AllowScope> PolicyBuilder::allow(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"name", "agents", "otherwise", "file", "network", "exec", "llm"});
  if (!m.ok()) return std::nullopt;
  AllowScope a;
  a.loc = loc_of(n);
  bool ok = true;
  if (const YamlNode* v = m.require("name")) {
    auto name = r_.name(*v, m.field("name"));
    if (name && unique(decision_names_, *name, *v, m.field("name"), "rule")) a.name = *name;
    else ok = false;
  } else {
    ok = false;
  }
  a.scope = scope(m);
  if (const YamlNode* v = m.require("otherwise")) {
    if (auto x = action(*v, m.field("otherwise"))) a.otherwise = *x;
    else ok = false;
  } else {
    ok = false;
  }
  if (auto x = match(m, f)) a.match = std::move(*x);
  else ok = false;
  if (!ok) return std::nullopt;
  return a;
}

std::optional<Budget> PolicyBuilder::budget(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"name", "agents", "per", "window", "usd", "tokens", "warn_at", "action"});
  if (!m.ok()) return std::nullopt;
  Budget b;
  b.loc = loc_of(n);
  bool ok = true;
  if (const YamlNode* v = m.require("name")) {
    auto name = r_.name(*v, m.field("name"));
    if (name && unique(budget_names_, *name, *v, m.field("name"), "budget")) b.name = *name;
    else ok = false;
  } else {
    ok = false;
  }
  b.scope = scope(m);
  if (const YamlNode* v = m.get("per")) {
    if (auto s = r_.choice(*v, m.field("per"), {"session", "name"}))
      b.per = *s == "name" ? BudgetPer::kName : BudgetPer::kSession;
    else ok = false;
  }
  if (const YamlNode* v = m.require("window")) {
    if (auto d = duration(*v, m.field("window"), kMinWindow, kMaxWindow)) b.window = *d;
    else ok = false;
  } else {
    ok = false;
  }
  if (const YamlNode* v = m.get("usd")) {
    auto x = r_.number(*v, m.field("usd"));
    if (x && (*x <= 0 || *x > kMaxUsd)) {
      r_.error(*v, m.field("usd"), fmt::format("must be more than 0 and at most {:.0f}", kMaxUsd));
      x.reset();
    }
    if (x) b.usd = *x;
    else ok = false;
  }
  if (const YamlNode* v = m.get("tokens")) {
    if (auto x = r_.integer(*v, m.field("tokens"), 1, kMaxTokens)) b.tokens = *x;
    else ok = false;
  }
  if (!m.has("usd") && !m.has("tokens")) {
    r_.error(n, f, "a budget needs usd, tokens or both");
    ok = false;
  }
  if (const YamlNode* v = m.get("warn_at")) {
    auto x = r_.number(*v, m.field("warn_at"));
    if (x && (*x <= 0 || *x > 1)) {
      r_.error(*v, m.field("warn_at"), "must be a fraction more than 0 and at most 1 (e.g. 0.8)");
      x.reset();
    }
    if (x) b.warn_at = *x;
    else ok = false;
  }
  if (const YamlNode* v = m.require("action")) {
    if (auto s = r_.choice(*v, m.field("action"), {"alert", "block-llm", "pause", "kill"})) {
      b.action = *s == "block-llm" ? BudgetAction::kBlockLlm
                 : *s == "pause"   ? BudgetAction::kPause
                 : *s == "kill"    ? BudgetAction::kKill
                                   : BudgetAction::kAlert;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (!ok) return std::nullopt;
  return b;
}

void PolicyBuilder::holds(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"timeout", "default"});
  if (!m.ok()) return;
  if (const YamlNode* v = m.get("timeout")) {
    if (auto d = duration(*v, m.field("timeout"), kMinHold, kMaxHold)) policy_.holds.timeout = *d;
  }
  if (const YamlNode* v = m.get("default")) {
    if (auto s = r_.choice(*v, m.field("default"), {"deny", "allow"}))
      policy_.holds.on_timeout = *s == "allow" ? HoldDefault::kAllow : HoldDefault::kDeny;
  }
}

void PolicyBuilder::dns(const YamlNode& n, const std::string& f) {
  Map m = r_.map(n, f, {"resolvers"});
  if (!m.ok()) return;
  const YamlNode* v = m.get("resolvers");
  if (!v) return;
  const std::string lf = m.field("resolvers");
  const auto* items = r_.list(*v, lf, kMaxDnsResolvers);
  if (!items) return;
  for (size_t i = 0; i < items->size(); i++) {
    const std::string xf = field_index(lf, i);
    auto s = r_.string((*items)[i], xf, 64);
    if (!s) continue;
    if (auto a = IpAddress::parse(*s)) policy_.dns_resolvers.push_back(*a);
    else r_.error((*items)[i], xf, fmt::format("'{}' is not an IPv4 or IPv6 address", *s));
  }
}

struct Parsed {
  Policy policy;
  std::vector<Diagnostic> diags;
};

Parsed parse_all(std::string_view text, std::string_view file) {
  DiagnosticSink sink{std::string(file)};
  PolicyBuilder builder(sink, file);
  YamlLimits limits;
  limits.max_bytes = kMaxPolicyBytes;
  if (auto tree = load_yaml_tree(text, sink, limits)) builder.build(*tree);
  return Parsed{builder.take(), sink.take()};
}

Error file_error(const std::string& path, std::string reason) {
  return make_error(Diagnostic{path, 1, 1, "file", std::move(reason)}.to_string());
}

}  // namespace

Result<Policy> parse_policy(std::string_view yaml_text, std::string_view file_name) {
  Parsed p = parse_all(yaml_text, file_name);
  if (!p.diags.empty()) return make_error(format_diagnostics(p.diags));
  return std::move(p.policy);
}

std::vector<Diagnostic> check_policy(std::string_view yaml_text, std::string_view file_name) {
  return parse_all(yaml_text, file_name).diags;
}

Result<std::string> read_policy_text(const std::string& path) {
  // Opened without blocking, then judged by what was opened: a FIFO (or a policy swapped for
  // one during a reload) must not stall the sensor's loop in open() or read().
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return file_error(path, fmt::format("cannot open: {}", std::strerror(errno)));
  std::unique_ptr<FILE, int (*)(FILE*)> f(::fdopen(fd, "rb"), &std::fclose);
  if (!f) {
    ::close(fd);
    return file_error(path, fmt::format("cannot open: {}", std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return file_error(path, fmt::format("cannot stat: {}", std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) return file_error(path, "is a directory");
  if (!S_ISREG(st.st_mode)) return file_error(path, "is not a regular file (a FIFO, socket or device)");
  if (st.st_size > off_t(kMaxPolicyBytes))
    return file_error(path, fmt::format("larger than {} bytes ({} bytes); a policy file is at most 1 MiB",
                                        kMaxPolicyBytes, st.st_size));
  std::string text;
  char buf[65536];
  // Bounded read: the file may grow after the fstat.
  while (text.size() <= kMaxPolicyBytes) {
    size_t want = std::min(sizeof buf, kMaxPolicyBytes + 1 - text.size());
    size_t got = std::fread(buf, 1, want, f.get());
    text.append(buf, got);
    if (got < want) break;
  }
  if (std::ferror(f.get())) return file_error(path, fmt::format("cannot read: {}", std::strerror(errno)));
  if (text.size() > kMaxPolicyBytes)
    return file_error(path, fmt::format("larger than {} bytes; a policy file is at most 1 MiB", kMaxPolicyBytes));
  return text;
}

Result<Policy> load_policy_file(const std::string& path) {
  auto text = read_policy_text(path);
  if (!text) return text.error();
  return parse_policy(*text, path);
}

}  // namespace rein::policy
