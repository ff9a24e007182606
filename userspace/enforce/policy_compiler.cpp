#include "enforce/policy_compiler.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "enforce/rule_sets.h"
#include "common/fnv1a.h"

namespace rein::enforce {
namespace {

rein_rule base_rule(uint32_t index, policy::Action action, uint64_t scope) {
  rein_rule r{};
  r.rule = index;
  r.action = action == policy::Action::kDeny    ? REIN_ACT_DENY
             : action == policy::Action::kPause ? REIN_ACT_PAUSE
                                                : REIN_ACT_AUDIT;
  r.scope = scope;
  r.ops = 0xffffffff;
  return r;
}

// policy::FileOp order matches REIN_OP_* minus one (create=1 ... symlink=11).
uint32_t kernel_ops(policy::FileOpMask m) {
  uint32_t ops = 0;
  for (unsigned i = 0; i < policy::kFileOpCount; i++)
    if (m & (1u << i)) ops |= 1u << (i + 1);
  return ops;
}

// File globs the kernel can decide: "PREFIX/**", an exact path, "**/NAME".
bool compile_file(const policy::FileMatch& m, rein_rule r, KernelPolicy& k, std::string& why) {
  bool all = true;
  r.ops = kernel_ops(m.ops);
  for (const auto& g : m.paths) {
    if (auto name = g.basename_only()) {
      k.file_basenames.emplace_back(fnv1a64(*name), r);
    } else if (g.is_literal() && g.pattern().size() <= REIN_PATH_KEY) {
      rein_rule e = r;
      e.exact = 1;
      e.prefix_len = static_cast<uint16_t>(g.pattern().size());
      k.file_prefixes.emplace_back(g.pattern(), e);
    } else if (g.is_prefix_only() && g.literal_prefix() && g.literal_prefix()->size() <= REIN_PATH_KEY) {
      const std::string prefix = *g.literal_prefix();
      k.file_prefixes.emplace_back(prefix, r);
      if (prefix.size() > 1 && prefix.back() == '/') {  // "/a/**" covers the directory /a too
        rein_rule dir = r;
        dir.exact = 1;
        dir.prefix_len = static_cast<uint16_t>(prefix.size() - 1);
        k.file_prefixes.emplace_back(prefix.substr(0, prefix.size() - 1), dir);
      }
    } else {
      all = false;
      why += fmt::format(" '{}'", g.pattern());
    }
  }
  return all;
}

void add_network(const policy::NetworkMatch& m, rein_rule r, KernelPolicy& k) {
  r.nports = static_cast<uint16_t>(std::min<size_t>(m.ports.size(), REIN_RULE_PORTS));
  for (size_t i = 0; i < r.nports; i++) {
    r.ports[i][0] = m.ports[i].first;
    r.ports[i][1] = m.ports[i].last;
  }
  // Exact names: the kernel learns their addresses from DNS answers itself. "*." patterns
  // are learned in user space (see docs/policy.md for the window that leaves).
  for (const auto& h : m.hosts)
    if (!h.is_wildcard()) k.hosts.emplace_back(fnv1a64(h.name()), r);
  for (const auto& c : m.cidrs) {
    rein_net_key key{};
    auto a = mapped_address(c.network());
    std::memcpy(key.addr, a.data(), 16);
    key.prefixlen = c.is_v6() ? c.prefix_len() : 96 + c.prefix_len();
    k.networks.emplace_back(key, r);
  }
  if (m.cidrs.empty() && m.hosts.empty()) {  // `network: {ports: [25]}`: every address
    rein_net_key all6{}, all4{};
    all4.prefixlen = 96;
    all4.addr[10] = all4.addr[11] = 0xff;
    k.networks.emplace_back(all6, r);
    k.networks.emplace_back(all4, r);
  }
}

}  // namespace

std::array<uint8_t, 16> mapped_address(const policy::IpAddress& a) {
  std::array<uint8_t, 16> out{};
  if (a.v6) return a.bytes;
  out[10] = out[11] = 0xff;
  std::memcpy(&out[12], a.bytes.data(), 4);  // IPv4 bytes come first in IpAddress
  return out;
}

uint16_t allow_list_id(const policy::Policy& p, size_t allow_index) {
  size_t n = 1;
  for (size_t i = 0; i < allow_index && i < p.allow.size(); i++)
    n += p.allow[i].kind() == p.allow[allow_index].kind();
  return static_cast<uint16_t>(std::min<size_t>(n, 0xffff));
}

uint64_t scope_mask(const policy::Policy& p, const policy::Scope& s) {
  if (s.every_agent()) return ~0ULL;
  uint64_t m = 0;
  for (const auto& name : s.agents)
    for (size_t i = 0; i < p.agents.size() && i < REIN_CLASS_CLI; i++)
      if (p.agents[i].name == name) m |= 1ULL << i;
  if (s.autodiscovered) m |= 1ULL << REIN_CLASS_DISCOVERED;
  return m;
}

Result<KernelPolicy> compile_policy(const policy::Policy& p) {
  if (p.agents.size() > REIN_CLASS_CLI)
    return make_error(fmt::format("{}: at most {} named agents can be scoped in the kernel",
                                  p.file, REIN_CLASS_CLI));
  KernelPolicy k;
  for (size_t i = 0; i < p.rules.size(); i++) {
    const auto& rule = p.rules[i];
    rein_rule r = base_rule(static_cast<uint32_t>(i), rule.action, scope_mask(p, rule.scope));
    if (const auto* f = std::get_if<policy::FileMatch>(&rule.match)) {
      std::string why;
      if (!compile_file(*f, r, k, why))
        k.user_space_notes.push_back(fmt::format(
            "rule {}: file patterns{} are matched in user space, after the syscall", rule.name, why));
    } else if (const auto* n = std::get_if<policy::NetworkMatch>(&rule.match)) {
      if (n->ports.size() > REIN_RULE_PORTS)
        return make_error(fmt::format("{}:{}:{}: rules[{}].network.ports: at most {} port ranges "
                                      "per rule (the kernel checks them on every connect)",
                                      p.file, rule.loc.line, rule.loc.column, i, REIN_RULE_PORTS));
      add_network(*n, r, k);
      if (!n->hosts.empty())
        k.user_space_notes.push_back(fmt::format(
            "rule {}: host names are enforced on the addresses agents resolve through DNS", rule.name));
    } else if (const auto* e = std::get_if<policy::ExecMatch>(&rule.match)) {
      if (!e->argv.empty()) {
        k.user_space_notes.push_back(fmt::format(
            "rule {}: argv patterns are matched in user space, just after the exec", rule.name));
        continue;  // both lists must match: the kernel cannot decide it alone
      }
      for (const auto& path : e->paths) k.execs.emplace_back(fnv1a64(path), r);
      static_assert(fnv1a64(REIN_EXEC_FILELESS_KEY) == REIN_EXEC_FILELESS_HASH);
      if (e->fileless) k.execs.emplace_back(REIN_EXEC_FILELESS_HASH, r);
    } else {
      k.user_space_notes.push_back(fmt::format("rule {}: LLM calls are matched in user space, "
                                               "when the response completes", rule.name));
    }
  }
  for (size_t i = 0; i < p.allow.size(); i++) {
    const auto& a = p.allow[i];
    uint64_t scope = scope_mask(p, a.scope);
    rein_rule deny = base_rule(allow_rule_index(p, i), a.otherwise, scope);
    deny.list = allow_list_id(p, i);
    rein_rule allow = deny;
    allow.action = REIN_ACT_NONE;
    if (const auto* f = std::get_if<policy::FileMatch>(&a.match)) {
      // Everything under "/" gets `otherwise` unless an allowed entry of the list matches.
      rein_rule catch_all = deny;
      catch_all.ops = kernel_ops(f->ops);
      k.file_prefixes.emplace_back("/", catch_all);
      std::string why;
      if (!compile_file(*f, allow, k, why))
        k.user_space_notes.push_back(fmt::format(
            "allow {}: patterns{} cannot be allowed in the kernel; paths under them are denied "
            "there", a.name, why));
    } else if (const auto* n = std::get_if<policy::NetworkMatch>(&a.match)) {
      for (uint32_t prefix : {0u, 96u}) {  // all of IPv6 and all of IPv4 (the mapped range)
        rein_net_key key{};
        key.prefixlen = prefix;
        if (prefix == 96) key.addr[10] = key.addr[11] = 0xff;
        k.networks.emplace_back(key, deny);
      }
      add_network(*n, allow, k);
    } else {
      k.user_space_notes.push_back(
          fmt::format("allow {}: exec and LLM allow-lists are decided in user space", a.name));
    }
  }
  auto where = [&p](uint32_t rule) {
    if (rule < p.rules.size())
      return fmt::format("{}:{}:{}: rules[{}] '{}'", p.file, p.rules[rule].loc.line,
                         p.rules[rule].loc.column, rule, p.rules[rule].name);
    size_t i = rule - p.rules.size();
    if (i < p.allow.size())
      return fmt::format("{}:{}:{}: allow[{}] '{}'", p.file, p.allow[i].loc.line,
                         p.allow[i].loc.column, i, p.allow[i].name);
    return fmt::format("{}: rule {}", p.file, rule);
  };
  if (auto ok = build_rule_sets(k, where); !ok) return ok.error();
  return k;
}

}  // namespace rein::enforce
