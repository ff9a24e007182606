#include "enforce/reference_eval.h"

namespace rein::enforce {
namespace {

int severity(policy::Action a) {
  switch (a) {
    case policy::Action::kDeny:
      return 3;
    case policy::Action::kPause:
      return 2;
    case policy::Action::kAudit:
      return 1;
  }
  return 0;
}

void offer(ReferenceVerdict& v, policy::Action a, uint32_t rule) {
  // candidates arrive in index order: only a strictly more severe one replaces the best
  if (!v.action || severity(a) > severity(*v.action)) {
    v.action = a;
    v.rule = rule;
  }
}

bool net_matches(const policy::NetworkMatch& m, const policy::IpAddress& addr, uint16_t port,
                 const std::vector<std::string>& names) {
  if (m.matches(addr, port, "")) return true;
  for (const auto& n : names)
    if (m.matches(addr, port, n)) return true;
  return false;
}

}  // namespace

ReferenceVerdict reference_connect(const policy::Policy& p, const policy::AgentRef& who,
                                   const policy::IpAddress& addr, uint16_t port,
                                   const std::vector<std::string>& names) {
  ReferenceVerdict v;
  for (size_t i = 0; i < p.rules.size(); i++) {
    const auto* m = std::get_if<policy::NetworkMatch>(&p.rules[i].match);
    if (m && p.rules[i].scope.applies_to(who) && net_matches(*m, addr, port, names))
      offer(v, p.rules[i].action, uint32_t(i));
  }
  for (size_t i = 0; i < p.allow.size(); i++) {
    const auto* m = std::get_if<policy::NetworkMatch>(&p.allow[i].match);
    if (m && p.allow[i].scope.applies_to(who) && !net_matches(*m, addr, port, names))
      offer(v, p.allow[i].otherwise, uint32_t(p.rules.size() + i));
  }
  return v;
}

ReferenceVerdict reference_file(const policy::Policy& p, const policy::AgentRef& who,
                                std::string_view path, policy::FileOp op) {
  ReferenceVerdict v;
  for (size_t i = 0; i < p.rules.size(); i++) {
    const auto* m = std::get_if<policy::FileMatch>(&p.rules[i].match);
    if (m && p.rules[i].scope.applies_to(who) && m->matches(path, op))
      offer(v, p.rules[i].action, uint32_t(i));
  }
  for (size_t i = 0; i < p.allow.size(); i++) {
    const auto* m = std::get_if<policy::FileMatch>(&p.allow[i].match);
    // only the listed ops are checked; an op outside them is not the scope's business
    if (m && p.allow[i].scope.applies_to(who) && (m->ops & policy::file_op_bit(op)) &&
        !m->matches(path, op))
      offer(v, p.allow[i].otherwise, uint32_t(p.rules.size() + i));
  }
  return v;
}

}  // namespace rein::enforce
