#include "enforce/enforcer.h"

#include <signal.h>

#include <cstring>
#include <fmt/format.h>

#include "enforce/policy_compiler.h"
#include "llm/cost.h"
#include "common/join_args.h"
#include "sinks/json_writer.h"

namespace rein::enforce {
namespace {
constexpr size_t kMaxLearned = 65536;

std::string outcome_name(uint8_t o) {
  switch (o) {
    case REIN_OUT_PREVENTED: return "prevented";
    case REIN_OUT_KILLED: return "killed";
    case REIN_OUT_PAUSED: return "paused";
    default: return "alerted";
  }
}

std::string kernel_action_name(uint8_t a) {
  switch (a) {
    case REIN_ACT_DENY: return "deny";
    case REIN_ACT_PAUSE: return "pause";
    default: return "audit";
  }
}

// Paths and names come from the paused process: invalid UTF-8 must not break the reply.
std::string json_escape(std::string_view s) {
  std::string out;
  sinks::json_escape_append(out, s);
  return out;
}

std::optional<std::array<uint8_t, 16>> parse_mapped(const std::string& text) {
  auto ip = policy::IpAddress::parse(text);
  if (!ip) return std::nullopt;
  return mapped_address(*ip);
}
}  // namespace

Enforcer::Enforcer(policy::Policy policy, Actuator& actuator)
    : policy_(std::move(policy)), act_(actuator), budgets_(policy_.budgets) {}

std::string Enforcer::rule_name(uint32_t index) const {
  if (index < policy_.rules.size()) return policy_.rules[index].name;
  size_t a = index - policy_.rules.size();
  if (a < policy_.allow.size()) return policy_.allow[a].name;
  return fmt::format("rule#{}", index);
}

policy::AgentRef Enforcer::ref(const Subject& who) const {
  return policy::AgentRef{who.agent_id, who.agent_name, who.discovered};
}

bool Enforcer::default_allow() const {
  return policy_.holds.on_timeout == policy::HoldDefault::kAllow;
}

std::string Enforcer::rule_kind(uint32_t index) const {
  const policy::Rule* r = index < policy_.rules.size() ? &policy_.rules[index] : nullptr;
  if (!r) return "unknown";
  if (std::holds_alternative<policy::FileMatch>(r->match)) return "file";
  if (std::holds_alternative<policy::ExecMatch>(r->match)) return "exec";
  if (std::holds_alternative<policy::NetworkMatch>(r->match)) return "network";
  return "llm";
}

void Enforcer::persist() { act_.holds_changed(holds_.list(), default_allow()); }

Decision Enforcer::hold(Decision d, const Subject& who, uint64_t now_ns, uint32_t rule_index) {
  // A second stop of a process already held (two records, or a reconciled one): one hold.
  if (auto held = holds_.find_pid(who.pid)) {
    d.hold_id = held->id;
    d.detail += fmt::format("; already held (hold {})", held->id);
    return d;
  }
  HoldStart start = act_.begin_hold(who.pid, rule_index, now_ns);
  if (!start.alive) {
    d.detail += "; the process had already exited";
    return d;
  }
  if (!start.how.empty()) d.detail += "; " + start.how;
  Hold h;
  h.start_ticks = start.start_ticks;
  h.seized = start.seized;
  h.pid = who.pid;
  h.agent_root = who.agent_root;
  h.agent_id = who.agent_id;
  h.rule = d.rule;
  h.kind = d.kind;
  h.what = d.what;
  h.since_ns = now_ns;
  h.deadline_ns = now_ns + uint64_t(policy_.holds.timeout.count()) * 1'000'000'000ULL;
  if (auto id = holds_.add(h)) {
    d.hold_id = *id;
    persist();
  } else {  // no room to wait for a human: apply the default now
    bool allow = default_allow();
    act_.end_hold(who.pid, allow);
    d.outcome = allow ? "approved" : "denied";
    d.detail += "; too many holds: default applied";
  }
  return d;
}

Decision Enforcer::from_kernel(std::string_view kind, uint32_t rule_index, uint8_t action,
                               uint8_t outcome, std::string what, const Subject& who,
                               uint64_t now_ns) {
  Decision d{rule_name(rule_index), std::string(kind), kernel_action_name(action),
             outcome_name(outcome), std::move(what), "kernel", 0, who.pid, who.agent_root};
  if (outcome == REIN_OUT_PAUSED) return hold(std::move(d), who, now_ns, rule_index);
  return d;
}

Decision Enforcer::budget_refusal(uint32_t budget_index, std::string what, const Subject& who) {
  if (budget_index == kDetectionBlock - 1)
    return Decision{"detection", "detection", "block-llm", "prevented", std::move(what),
                    "kernel: LLM egress blocked by a detection for this agent session", 0, who.pid,
                    who.agent_root};
  std::string name = budget_index < policy_.budgets.size() ? policy_.budgets[budget_index].name
                                                           : fmt::format("budget#{}", budget_index);
  return Decision{name, "budget", "block-llm", "prevented", std::move(what),
                  "kernel: LLM egress blocked until the budget window frees", 0, who.pid,
                  who.agent_root};
}

Decision Enforcer::on_detection(const Subject& who, std::string_view kind,
                                policy::DetectionAction action, std::string what, uint64_t now_ns) {
  Decision d{fmt::format("detect.{}", kind), "detection",
             std::string(policy::detection_action_name(action)), "alerted", std::move(what), "", 0,
             who.pid, who.agent_root};
  const uint32_t root = who.agent_root ? who.agent_root : who.pid;
  if (!root) return d;
  switch (action) {
    case policy::DetectionAction::kAlert: break;
    case policy::DetectionAction::kKill:
      if (act_.signal(root, SIGKILL, now_ns)) d.outcome = "killed";
      else d.detail = "the agent had already exited";
      break;
    case policy::DetectionAction::kPause:
      if (act_.signal(root, SIGSTOP, now_ns)) {
        d.outcome = "paused";
        Subject s = who;
        s.pid = s.agent_root = root;
        d = hold(std::move(d), s, now_ns);
      } else {
        d.detail = "the agent had already exited";
      }
      break;
    case policy::DetectionAction::kBlockLlm:
      act_.block_llm(root, kDetectionBlock);
      d.outcome = "prevented";
      d.detail = "LLM egress of this agent session blocked";
      break;
  }
  return d;
}

Decision Enforcer::act(uint32_t rule_index, policy::Action action, std::string_view kind,
                       std::string what, const Subject& who, uint64_t now_ns, std::string detail) {
  Decision d{rule_name(rule_index), std::string(kind), std::string(policy::action_name(action)),
             "alerted", std::move(what), std::move(detail), 0, who.pid, who.agent_root};
  if (action == policy::Action::kDeny) {
    if (act_.signal(who.pid, SIGKILL, now_ns)) {
      d.outcome = "killed";
    } else {
      d.detail += "; the process had already exited";
    }
  } else if (action == policy::Action::kPause) {
    if (!act_.signal(who.pid, SIGSTOP, now_ns)) {
      d.detail += "; the process had already exited";
      return d;
    }
    d.outcome = "paused";
    return hold(std::move(d), who, now_ns, rule_index);
  }
  return d;
}

std::vector<Decision> Enforcer::on_exec(const Subject& who, const std::string& exe,
                                        const std::vector<std::string>& args, uint64_t now_ns,
                                        bool fileless) {
  if (roots_by_name_[who.agent_name].insert(who.agent_root).second) {
    // A new session of an agent whose per-name budget is spent starts blocked.
    if (auto it = blocked_names_.find(who.agent_name); it != blocked_names_.end()) {
      act_.block_llm(who.agent_root, it->second);
      blocked_.insert({who.agent_name, who.agent_root});
    }
  }
  std::vector<Decision> out;
  std::string joined = join_args(args);
  auto a = ref(who);
  for (size_t i = 0; i < policy_.rules.size(); i++) {
    const auto& r = policy_.rules[i];
    const auto* m = std::get_if<policy::ExecMatch>(&r.match);
    if (!m || m->argv.empty() || !r.scope.applies_to(a)) continue;  // path-only: the kernel's
    if (m->matches(exe, joined, fileless).value_or(false)) {
      out.push_back(act(uint32_t(i), r.action, "exec", exe, who, now_ns, "user space: argv pattern"));
      if (r.action != policy::Action::kAudit) break;
    }
  }
  return out;
}

std::vector<Decision> Enforcer::on_file(const Subject& who, std::string_view op_name,
                                        const std::string& path, const std::string& path2,
                                        uint64_t now_ns) {
  std::vector<Decision> out;
  auto op = policy::file_op_from_name(op_name);
  if (!op) return out;
  auto a = ref(who);
  for (size_t i = 0; i < policy_.rules.size(); i++) {
    const auto& r = policy_.rules[i];
    const auto* m = std::get_if<policy::FileMatch>(&r.match);
    if (!m || !r.scope.applies_to(a)) continue;
    bool hit = m->matches(path, *op) || (!path2.empty() && m->matches(path2, *op));
    if (hit) {
      out.push_back(act(uint32_t(i), r.action, "file", path, who, now_ns,
                        "user space: after the syscall"));
      if (r.action != policy::Action::kAudit) return out;
    }
  }
  for (size_t i = 0; i < policy_.allow.size(); i++) {
    const auto& s = policy_.allow[i];
    const auto* m = std::get_if<policy::FileMatch>(&s.match);
    if (!m || !s.scope.applies_to(a) || !(m->ops & policy::file_op_bit(*op))) continue;
    if (!m->matches(path, *op) || (!path2.empty() && !m->matches(path2, *op))) {
      out.push_back(act(allow_rule_index(policy_, i), s.otherwise, "file", path, who, now_ns,
                        "user space: outside the allow-list, after the syscall"));
      break;
    }
  }
  return out;
}

std::vector<Decision> Enforcer::on_llm(const Subject& who, const llm::LlmCall& call,
                                       const std::string& peer_address, uint16_t peer_port,
                                       uint64_t now_ns) {
  roots_by_name_[who.agent_name].insert(who.agent_root);
  if (auto addr = parse_mapped(peer_address); addr && peer_port) {
    if (endpoints_.size() < kMaxLearned && endpoints_.insert({*addr, peer_port}).second)
      act_.add_llm_endpoint(*addr, peer_port);
  }
  std::vector<Decision> out;
  auto a = ref(who);
  const std::string& model = call.response_model.empty() ? call.request_model : call.response_model;
  for (size_t i = 0; i < policy_.rules.size(); i++) {
    const auto& r = policy_.rules[i];
    const auto* m = std::get_if<policy::LlmMatch>(&r.match);
    if (!m || !r.scope.applies_to(a)) continue;
    if (m->matches(call.provider, model, call.host) ||
        (!call.request_model.empty() && m->matches(call.provider, call.request_model, call.host))) {
      out.push_back(act(uint32_t(i), r.action, "llm", call.provider + "/" + model, who, now_ns,
                        "user space: when the response completed"));
      if (r.action != policy::Action::kAudit) break;
    }
  }
  uint64_t tokens = uint64_t(llm::total_input_tokens(call).value_or(0)) +
                    uint64_t(call.usage.output_tokens.value_or(0));
  auto ts = budgets_.record(a, now_ns, call.cost_usd.value_or(0), tokens);
  auto more = budget_transitions(ts, &who, now_ns);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::vector<Decision> Enforcer::budget_transitions(const std::vector<policy::BudgetTransition>& ts,
                                                   const Subject* who, uint64_t now_ns) {
  std::vector<Decision> out;
  for (const auto& t : ts) {
    const auto& b = *t.budget;
    uint32_t idx = uint32_t(&b - budgets_.budgets().data());
    std::string what = fmt::format("{:.6f} USD, {} tokens in {}s ({:.0f}% of the limit)",
                                   t.totals.usd, t.totals.tokens, b.window.count(), t.fraction * 100);
    // The agents this budget key covers: one session, or every session of a name.
    std::set<uint32_t> roots;
    if (b.per == policy::BudgetPer::kName) {
      roots = roots_by_name_[t.key];
    } else if (who) {
      roots.insert(who->agent_root);
    } else {
      for (const auto& [key, root] : blocked_)
        if (key == t.key) roots.insert(root);
    }
    Decision d{b.name, "budget", std::string(policy::budget_action_name(b.action)), "alerted",
               what, "", 0, who ? who->pid : 0, who ? who->agent_root : 0};
    if (t.to == policy::BudgetState::kExceeded && b.per == policy::BudgetPer::kName &&
        b.action == policy::BudgetAction::kBlockLlm)
      blocked_names_[t.key] = idx + 1;
    if (t.to == policy::BudgetState::kWarned && t.from == policy::BudgetState::kOk) {
      d.detail = fmt::format("warning: {:.0f}% of the budget used", t.fraction * 100);
    } else if (t.to == policy::BudgetState::kExceeded) {
      d.detail = "exceeded";
      for (uint32_t root : roots) {
        if (b.action == policy::BudgetAction::kBlockLlm) {
          act_.block_llm(root, idx + 1);
          blocked_.insert({t.key, root});
          if (b.per == policy::BudgetPer::kName) blocked_names_[t.key] = idx + 1;
          d.detail = "exceeded: LLM egress blocked until the window frees";
        } else if (b.action == policy::BudgetAction::kKill) {
          act_.signal(root, SIGKILL, now_ns);
          d.outcome = "killed";
        } else if (b.action == policy::BudgetAction::kPause) {
          act_.signal(root, SIGSTOP, now_ns);
          d.outcome = "paused";
        }
      }
    } else if (t.from == policy::BudgetState::kExceeded) {
      blocked_names_.erase(t.key);
      for (auto it = blocked_.begin(); it != blocked_.end();) {
        if (it->first == t.key) {
          act_.block_llm(it->second, 0);
          it = blocked_.erase(it);
        } else {
          ++it;
        }
      }
      d.detail = "the window freed: LLM egress allowed again";
    } else {
      continue;
    }
    if (d.outcome == "paused") {
      for (uint32_t root : roots) {  // hold the processes stopped above, not the caller
        Subject s = who ? *who : Subject{};
        s.pid = s.agent_root = root;
        d = hold(std::move(d), s, now_ns);
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

void Enforcer::on_dns(const Subject& who, const std::string& query,
                      const std::vector<std::string>& addrs) {
  auto a = ref(who);
  // The sensor merges each entry into the rules already covering the address.
  auto learn = [&](uint32_t index, const policy::NetworkMatch& m, uint8_t action, uint64_t scope,
                   uint16_t list) {
    bool hit = false;
    for (const auto& h : m.hosts) hit = hit || h.matches(query);
    if (!hit) return;
    for (const auto& text : addrs) {
      auto addr = parse_mapped(text);
      if (!addr || learned_.size() >= kMaxLearned || !learned_.insert({*addr, index}).second) continue;
      rein_net_key key{};
      key.prefixlen = 128;
      std::memcpy(key.addr, addr->data(), 16);
      rein_rule r{};
      r.rule = index;
      r.action = action;
      r.scope = scope;
      r.ops = 0xffffffff;
      r.list = list;
      r.nports = uint16_t(std::min<size_t>(m.ports.size(), REIN_RULE_PORTS));
      for (size_t i = 0; i < r.nports; i++) {
        r.ports[i][0] = m.ports[i].first;
        r.ports[i][1] = m.ports[i].last;
      }
      act_.add_network_entry(key, r);
    }
  };
  for (size_t i = 0; i < policy_.rules.size(); i++) {
    const auto& r = policy_.rules[i];
    const auto* m = std::get_if<policy::NetworkMatch>(&r.match);
    if (!m || m->hosts.empty() || !r.scope.applies_to(a)) continue;
    // the same action the compiler gives the rule: severities must compare alike
    uint8_t action = r.action == policy::Action::kAudit   ? REIN_ACT_AUDIT
                     : r.action == policy::Action::kPause ? REIN_ACT_PAUSE
                                                          : REIN_ACT_DENY;
    learn(uint32_t(i), *m, action, scope_mask(policy_, r.scope), 0);
  }
  for (size_t i = 0; i < policy_.allow.size(); i++) {  // allowed names punch holes
    const auto& s = policy_.allow[i];
    const auto* m = std::get_if<policy::NetworkMatch>(&s.match);
    if (!m || m->hosts.empty() || !s.scope.applies_to(a)) continue;
    learn(allow_rule_index(policy_, i), *m, REIN_ACT_NONE, scope_mask(policy_, s.scope),
          allow_list_id(policy_, i));
  }
}

std::vector<Decision> Enforcer::on_tls_sni(const Subject& who, const std::string& sni,
                                           const std::string& peer_address, uint64_t now_ns) {
  if (!peer_address.empty()) on_dns(who, sni, {peer_address});  // later connects: the kernel
  return host_rules(who, sni, now_ns, "user space: the TLS server name, after the handshake began");
}

std::vector<Decision> Enforcer::on_http_host(const Subject& who, const std::string& host,
                                             uint64_t now_ns) {
  return host_rules(who, host, now_ns, "user space: the Host header of a request already sent");
}

std::vector<Decision> Enforcer::host_rules(const Subject& who, const std::string& host,
                                           uint64_t now_ns, const char* how) {
  std::vector<Decision> out;
  auto a = ref(who);
  for (size_t i = 0; i < policy_.rules.size(); i++) {
    const auto& r = policy_.rules[i];
    const auto* m = std::get_if<policy::NetworkMatch>(&r.match);
    if (!m || m->hosts.empty() || !r.scope.applies_to(a)) continue;
    bool hit = false;
    for (const auto& h : m->hosts) hit = hit || h.matches(host);
    if (!hit) continue;
    out.push_back(act(uint32_t(i), r.action, "network", host, who, now_ns, how));
    if (r.action != policy::Action::kAudit) break;
  }
  return out;
}

void Enforcer::adopt(Enforcer&& old) {
  holds_ = std::move(old.holds_);
  roots_by_name_ = std::move(old.roots_by_name_);
  blocked_ = std::move(old.blocked_);
  blocked_names_ = std::move(old.blocked_names_);
  endpoints_ = std::move(old.endpoints_);
  // learned_ stays empty: the kernel's network entries were rewritten by the reload.
}

void Enforcer::on_process_exit(uint32_t pid) {
  if (!holds_.forget_pid(pid).empty()) {
    act_.forget_hold(pid);
    persist();
  }
  // An agent root that exits leaves no blocked state behind for a later process to inherit
  // through a reused pid.
  for (auto& [name, roots] : roots_by_name_) roots.erase(pid);
  for (auto it = blocked_.begin(); it != blocked_.end();) {
    if (it->second == pid) {
      act_.block_llm(pid, 0);
      it = blocked_.erase(it);
    } else {
      ++it;
    }
  }
}

Decision Enforcer::release(const Hold& h, bool approve, std::string detail) {
  if (!act_.end_hold(h.pid, approve)) detail += "; the process had already exited";
  persist();
  return Decision{h.rule, h.kind, "pause", approve ? "approved" : "denied", h.what,
                  std::move(detail), h.id, h.pid, h.agent_root};
}

void Enforcer::note(Decision d) {
  // A process that keeps being resumed makes a record each time: bound what waits.
  if (notes_.size() >= 256) {
    notes_dropped_++;
    return;
  }
  notes_.push_back(std::move(d));
}

void Enforcer::on_hold_event(const rein_hold_event& e, uint64_t now_ns) {
  (void)now_ns;
  auto h = holds_.find_pid(e.target);
  Decision d{h ? h->rule : rule_name(e.rule), h ? h->kind : rule_kind(e.rule), "pause", "paused",
             h ? h->what : std::string(), "", h ? h->id : 0, e.target, h ? h->agent_root : e.h.agent};
  bool seized = h ? h->seized : e.state == REIN_HELD_SEIZED;
  if (e.event == REIN_HOLD_EV_CONT) {
    d.detail = fmt::format("pid {} (uid {}) sent SIGCONT to the held process (syscall {}): {}",
                           e.h.tgid, e.h.uid, e.nr,
                           seized ? "it stays held (ptrace-stopped by rein)"
                                  : "the kernel stops it again at its next syscall");
  } else if (e.event == REIN_HOLD_EV_ESCAPE) {
    d.detail = fmt::format(
        "the held process ran again (resumed by another process) and was stopped again by the "
        "kernel at syscall {}, which completes",
        e.nr);
  } else {
    return;
  }
  note(std::move(d));
}

// Kernel pauses with no hold: their record was lost. Each gets a hold now (or the default).
std::vector<Decision> Enforcer::adopt_unclaimed(uint64_t now_ns) {
  std::vector<Decision> out;
  constexpr uint64_t kGraceNs = 1'000'000'000;  // its record may still be in the ring
  for (const auto& k : unclaimed_kernel_holds(act_.kernel_holds(), holds_, now_ns, kGraceNs)) {
    Subject who;
    who.pid = k.pid;
    Decision d{rule_name(k.rule), rule_kind(k.rule), "pause", "paused", "",
               "kernel: stopped for this rule, but its pause record was lost", 0, k.pid, 0};
    d = hold(std::move(d), who, now_ns, k.rule);
    // gone meanwhile (its exit record may be lost too): nothing is stopped, nothing to say
    if (d.hold_id || d.outcome != "paused") out.push_back(std::move(d));
  }
  return out;
}

std::vector<Decision> Enforcer::tick(uint64_t now_ns) {
  std::vector<Decision> out = std::move(notes_);
  notes_.clear();
  if (notes_dropped_) {
    out.push_back(Decision{"", "hold", "pause", "alerted", "",
                           fmt::format("{} hold events not reported (too many)", notes_dropped_),
                           0, 0, 0});
    notes_dropped_ = 0;
  }
  act_.maintain();
  bool allow = default_allow();
  for (const auto& h : holds_.expire(now_ns))
    out.push_back(release(h, allow, fmt::format("hold timed out after {}s: default {}",
                                                policy_.holds.timeout.count(), allow ? "allow" : "deny")));
  for (auto& d : adopt_unclaimed(now_ns)) out.push_back(std::move(d));
  auto more = budget_transitions(budgets_.tick(now_ns), nullptr, now_ns);
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

std::pair<std::string, std::vector<Decision>> Enforcer::control(const std::string& request,
                                                                uint64_t now_ns) {
  if (request == "holds") {
    std::string list;
    for (const auto& h : holds_.list()) {
      if (!list.empty()) list += ',';
      list += fmt::format(
          R"({{"id":{},"pid":{},"agent":"{}","rule":"{}","kind":"{}","what":"{}","seized":{},"waiting_s":{:.1f},"timeout_in_s":{:.1f}}})",
          h.id, h.pid, json_escape(h.agent_id), json_escape(h.rule), h.kind, json_escape(h.what),
          h.seized ? "true" : "false",
          double(now_ns - h.since_ns) / 1e9,
          h.deadline_ns > now_ns ? double(h.deadline_ns - now_ns) / 1e9 : 0.0);
    }
    return {fmt::format(R"({{"ok":true,"holds":[{}]}})", list), {}};
  }
  if (request == "shutdown") {  // rein is stopping: nothing may stay stopped behind it
    bool allow = default_allow();
    std::vector<Decision> out;
    for (const auto& h : holds_.list()) {
      holds_.take(h.id);
      out.push_back(release(h, allow, fmt::format("rein stopped: default {}", allow ? "allow" : "deny")));
    }
    return {fmt::format(R"({{"ok":true,"ended":{}}})", out.size()), std::move(out)};
  }
  bool approve = request.rfind("approve ", 0) == 0;
  bool deny = request.rfind("deny ", 0) == 0;
  if (approve || deny) {
    std::string id_text = request.substr(request.find(' ') + 1);
    // Digits only: a typo such as "approve 1x" must not resume hold 1.
    bool valid = !id_text.empty() && id_text.size() <= 19 &&
                 id_text.find_first_not_of("0123456789") == std::string::npos;
    uint64_t id = valid ? strtoull(id_text.c_str(), nullptr, 10) : 0;
    auto h = valid ? holds_.take(id) : std::nullopt;
    if (!h) return {fmt::format(R"({{"ok":false,"error":"no hold {}"}})", json_escape(id_text)), {}};
    auto d = release(*h, approve, approve ? "approved by an operator" : "denied by an operator");
    return {fmt::format(R"({{"ok":true,"id":{},"outcome":"{}","pid":{}}})", id, d.outcome, d.pid), {d}};
  }
  return {std::string(R"x({"ok":false,"error":"unknown request (holds | approve ID | deny ID)"})x"), {}};
}

}  // namespace rein::enforce
