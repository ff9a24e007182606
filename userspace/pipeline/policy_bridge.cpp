#include "pipeline/policy_bridge.h"

#include <errno.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "pipeline/decision_events.h"
#include "pipeline/tamper_event.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
// A kernel match on a rule directory's inode rather than on the path: say so, the path
// alone (a bind mount, a chroot) would not explain the decision.
enforce::Decision inode_detail(enforce::Decision d, uint32_t flags) {
  if (flags & REIN_F_INODE_RULE)
    d.detail +=
        ": matched by inode: the rule's file, or its directory above this file or above another"
        " name of it (bind mount, chroot, namespace view, hard link)";
  return d;
}
}  // namespace

enforce::Subject to_subject(const Identity& id) {
  enforce::Subject s;
  s.pid = id.pid;
  s.agent_root = id.agent_root;
  if (id.agent) {
    s.agent_id = id.agent->id;
    s.agent_name = id.agent->name;
  }
  s.discovered = id.discovered;
  return s;
}

detect::Who to_who(const Identity& id) {
  detect::Who w;
  w.pid = id.pid;
  w.root = id.agent_root;
  if (id.agent) {
    w.session = id.agent->id;
    w.name = id.agent->name;
  }
  return w;
}

void PolicyBridge::set_enforcer(enforce::Enforcer* e) {
  enforcer_ = e;
  state_.file_views.set_rule_dirs(e ? enforce::rule_dirs(e->policy())
                                    : std::vector<enforce::RuleDir>{});
  file_rules_ = false;  // resolving names costs syscalls: only when a file rule can use it
  if (e) {
    for (const auto& r : e->policy().rules)
      file_rules_ |= std::holds_alternative<policy::FileMatch>(r.match);
    for (const auto& a : e->policy().allow)
      file_rules_ |= std::holds_alternative<policy::FileMatch>(a.match);
  }
}

enforce::Subject PolicyBridge::subject(uint32_t pid, uint32_t agent_root) {
  return to_subject(state_.identity(pid, agent_root));
}

detect::Who PolicyBridge::who(uint32_t pid, uint32_t agent_root) {
  return to_who(state_.identity(pid, agent_root));
}

void PolicyBridge::emit_decisions(const std::vector<enforce::Decision>& ds, uint64_t ts) {
  for (const auto& d : ds) {
    auto v = state_.view(d.pid);
    emit_(policy_action_event(builder_, ts, v, state_.agent_for(d.agent_root), d));
    if (state_.observer) state_.observer->on_policy_action(d);
  }
}

// detect.<kind>: who, what, the evidence and its cost; a non-alert action goes through the
// enforcer like a budget's.
void PolicyBridge::emit_detections(std::vector<detect::Detection> ds) {
  for (const auto& d : ds) {
    auto v = state_.view(d.pid);
    emit_(detection_event(builder_, v, state_.agent_for(d.root), d));
    if (enforcer_ && d.action != policy::DetectionAction::kAlert)
      emit_decisions({enforcer_->on_detection(subject(d.pid, d.root), d.kind, d.action, d.summary,
                                              d.ts_ns)},
                     d.ts_ns);
  }
}

std::string PolicyBridge::control(const std::string& request) {
  if (!enforcer_) return R"x({"ok":false,"error":"no policy loaded (rein run --policy FILE)"})x";
  auto [reply, decisions] = enforcer_->control(request, Clock::boot_now_ns());
  emit_decisions(decisions, Clock::boot_now_ns());
  return reply;
}

void PolicyBridge::tick(uint64_t now) {
  if (enforcer_) emit_decisions(enforcer_->tick(now), now);
  if (detect_) {
    auto timed = detect_->meter().scope();
    detect_->tick(now);
  }
}

void PolicyBridge::on_policy_net(const decode::PolicyNetRec& r, const std::string* hostname) {
  if (!enforcer_) return;
  std::string what = fmt::format("{}:{}", r.address, r.port);
  if (hostname) what += " (" + *hostname + ")";
  auto who = subject(r.h.tgid, r.h.agent);
  if (r.budget)
    emit_decisions({enforcer_->budget_refusal(r.budget - 1, what, who)}, r.h.ts_ns);
  else
    emit_decisions({enforcer_->from_kernel("network", r.policy.rule, r.policy.action,
                                           r.policy.outcome, what, who, r.h.ts_ns)},
                   r.h.ts_ns);
}

void PolicyBridge::on_exec(const decode::ExecRec& r, uint32_t agent) {
  if (!enforcer_) return;
  auto who = subject(r.h.tgid, agent);
  if (r.policy.rule)
    emit_decisions({enforcer_->from_kernel("exec", r.policy.rule - 1, r.policy.action,
                                           r.policy.outcome, r.exe, who, r.h.ts_ns)},
                   r.h.ts_ns);
  else
    emit_decisions(enforcer_->on_exec(who, r.exe, r.args, r.h.ts_ns, r.flags & REIN_F_FILELESS),
                   r.h.ts_ns);
}

void PolicyBridge::on_file(const decode::FileRec& r, std::string_view op, const std::string& path,
                           const std::string& path2, const std::optional<FileViews>& real,
                           const std::optional<FileViews>& real2) {
  if (!enforcer_) return;
  auto who = subject(r.h.tgid, r.h.agent);
  if (r.policy.rule)
    emit_decisions({inode_detail(enforcer_->from_kernel("file", r.policy.rule - 1, r.policy.action,
                                                        r.policy.outcome, path, who, r.h.ts_ns),
                                 r.flags)},
                   r.h.ts_ns);
  else if (r.result == 0)
    emit_decisions(file_decisions(who, op, path, path2, real, real2, r.h.ts_ns), r.h.ts_ns);
}

std::vector<enforce::Decision> PolicyBridge::file_decisions(
    const enforce::Subject& who, std::string_view op, const std::string& path,
    const std::string& path2, const std::optional<FileViews>& real,
    const std::optional<FileViews>& real2, uint64_t ts) {
  auto out = enforcer_->on_file(who, op, path, path2, ts);
  if (!out.empty() || (!real && !real2)) return out;
  // The same object as the process named it, then as its real path, then as seen from each
  // rule directory above it; the first view a rule decides on wins.
  std::vector<std::pair<std::string, std::string>> views;
  views.emplace_back(real ? real->path : path, real2 ? real2->path : path2);
  if (real)
    for (const auto& v : real->under_rules) views.emplace_back(v, "");
  if (real2)
    for (const auto& v : real2->under_rules) views.emplace_back(v, "");
  for (const auto& [a, b] : views) {
    if (a == path && b == path2) continue;
    out = enforcer_->on_file(who, op, a, b, ts);
    if (out.empty()) continue;
    for (auto& d : out)
      d.detail += fmt::format("; real path resolved after the syscall (written: {}{}{})", path,
                              path2.empty() ? "" : " -> ", path2);
    return out;
  }
  return out;
}

void PolicyBridge::on_file_open(const decode::FileOpenRec& r) {
  if (!enforcer_) return;
  auto who = subject(r.h.tgid, r.h.agent);
  const char* op = (r.flags & REIN_F_CREATED)     ? "create"
                   : (r.flags & REIN_F_TRUNCATED) ? "truncate"
                                                  : "write";
  if (r.policy.rule)
    emit_decisions({inode_detail(enforcer_->from_kernel("file", r.policy.rule - 1, r.policy.action,
                                                        r.policy.outcome, r.path, who, r.h.ts_ns),
                                 r.flags)},
                   r.h.ts_ns);
  else
    emit_decisions(enforcer_->on_file(who, op, r.path, "", r.h.ts_ns), r.h.ts_ns);
}

void PolicyBridge::on_mechanism(const decode::MechanismRec& r) {
  if (!enforcer_ || !r.policy.rule) return;
  auto who = subject(r.h.tgid, r.h.agent);
  if (r.mechanism == REIN_MECH_EXEC_MAP) {
    auto d = enforcer_->from_kernel("exec", r.policy.rule - 1, r.policy.action, r.policy.outcome,
                                    r.path, who, r.h.ts_ns);
    d.detail = "kernel: mapped as code without an exec (a loader running it), at the mmap";
    emit_decisions({std::move(d)}, r.h.ts_ns);
    return;
  }
  if (r.mechanism == REIN_MECH_SENSOR_TAMPER) {  // rule 0 (the guard's own kill) returned above
    const bool net = r.flags & REIN_TAMPER_NET_RULE;
    auto d = enforcer_->from_kernel(net ? "network" : "file", r.policy.rule - 1, REIN_ACT_DENY,
                                    r.policy.outcome, tamper_attempt(r), who, r.h.ts_ns);
    d.detail = "kernel: a BPF object taken by id under a rule (killed at bpf(2), before the fd"
               " could be used)";
    emit_decisions({std::move(d)}, r.h.ts_ns);
    return;
  }
  if (r.mechanism == REIN_MECH_RAW_SOCKET) {
    auto d = enforcer_->from_kernel("network", r.policy.rule - 1, REIN_ACT_DENY, r.policy.outcome,
                                    "raw socket", who, r.h.ts_ns);
    d.detail = "kernel: raw or packet socket under a network rule (killed at socket(2))";
    emit_decisions({std::move(d)}, r.h.ts_ns);
    return;
  }
  auto d = enforcer_->from_kernel("file", r.policy.rule - 1, REIN_ACT_DENY, r.policy.outcome,
                                  "io_uring", who, r.h.ts_ns);
  d.detail = "kernel: io_uring under a file rule (killed at the syscall, before the ring is used)";
  emit_decisions({std::move(d)}, r.h.ts_ns);
}

void PolicyBridge::on_tls_sni(const decode::DataRec& r, const std::string& sni) {
  if (enforcer_ && !sni.empty())
    emit_decisions(enforcer_->on_tls_sni(subject(r.h.tgid, r.h.agent), sni, r.peer_address,
                                         r.h.ts_ns),
                   r.h.ts_ns);
}

// Host rules become addresses before the agent connects.
void PolicyBridge::on_dns_answer(uint32_t tgid, uint32_t agent_root, const std::string& name,
                                 const std::vector<std::string>& addrs) {
  if (enforcer_ && !addrs.empty()) enforcer_->on_dns(subject(tgid, agent_root), name, addrs);
}

void PolicyBridge::on_process_exit(uint32_t tgid) {
  if (enforcer_) enforcer_->on_process_exit(tgid);
}

void PolicyBridge::on_http_request(const CallContext& ctx, const proto::HttpRequest& req) {
  if (!enforcer_ || req.host.empty()) return;
  const auto* p = state_.table.find(ctx.tgid);
  uint32_t root = ctx.agent ? ctx.agent : (p ? p->agent_root : 0);
  uint64_t ts = req.ts_end_ns ? req.ts_end_ns : ctx.ts_ns;
  emit_decisions(enforcer_->on_http_host(subject(ctx.tgid, root), req.host, ts), ts);
}

void PolicyBridge::on_http_exchange(const CallContext& ctx, const proto::HttpExchange& ex,
                                    bool is_llm) {
  auto timed = detect_->meter().scope();  // set as the exchange hook only with detections
  if (is_llm) {
    llm_content_ = &detect_->content(ex);
    return;
  }
  if (!ex.response || ex.response->status != 404) return;
  const auto* p = state_.table.find(ctx.tgid);
  uint32_t root = ctx.agent ? ctx.agent : (p ? p->agent_root : 0);
  uint64_t ts = ex.response->ts_end_ns ? ex.response->ts_end_ns : ctx.ts_ns;
  emit_detections(detect_->on_http(
      {ts, who(ctx.tgid, root), ex.request.host, ex.request.target, ex.response->status}));
}

void PolicyBridge::on_llm_call(const CallContext& ctx, const process::Agent* agent,
                               const llm::LlmCall& call) {
  if (enforcer_ && agent)
    emit_decisions(enforcer_->on_llm(subject(ctx.tgid, agent->root_pid), call, ctx.peer_address,
                                     ctx.peer_port, ctx.ts_ns),
                   ctx.ts_ns);
  if (detect_ && agent) {
    auto timed = detect_->meter().scope();
    emit_detections(detect_->on_llm({ctx.ts_ns, who(ctx.tgid, agent->root_pid), &call,
                                     llm_content_}));
  }
  llm_content_ = nullptr;
}

void PolicyBridge::resolve_real_paths(const decode::FileRec& r, const std::string& path,
                                      const std::string& path2, std::optional<FileViews>& real,
                                      std::optional<FileViews>& real2) {
  if (enforcer_ && file_rules_ && !r.policy.rule && r.result == 0 &&
      FileViewResolver::name_based(r.syscall) &&
      !(r.flags & REIN_F_PATH_TRUNCATED)) {
    const auto* p = state_.table.find(r.h.tgid);
    const uint32_t ppid = p ? p->ppid : 0;
    real = state_.resolve_view(r.h.tgid, ppid, r.h.agent, path,
                               FileViewResolver::follows_last(r.syscall));
    if (!path2.empty()) real2 = state_.resolve_view(r.h.tgid, ppid, r.h.agent, path2, false);
  }
}

void PolicyBridge::detect_exec(const decode::ExecRec& r, uint32_t agent) {
  if (!detect_) return;
  auto timed = detect_->meter().scope();
  emit_detections(detect_->on_exec({r.h.ts_ns, who(r.h.tgid, agent), r.exe, &r.args}));
}

void PolicyBridge::detect_exit(const decode::ExitRec& r) {
  if (!detect_) return;
  auto timed = detect_->meter().scope();
  const uint32_t sig = r.status & 0x7f;
  const int code = sig == 0 ? int((r.status >> 8) & 0xff) : -1;
  emit_detections(detect_->on_exit({r.h.ts_ns, who(r.h.tgid, r.h.agent), code}));
  if (r.h.agent == r.h.tgid)
    if (const auto* a = state_.agent_for(r.h.agent)) detect_->on_session_end(a->id);
}

void PolicyBridge::detect_file(const decode::Header& h, const std::string& path,
                               std::string_view op, int32_t result) {
  if (!detect_ || result != 0) return;
  auto timed = detect_->meter().scope();
  emit_detections(detect_->on_file({h.ts_ns, who(h.tgid, h.agent), path, op}));
}

void PolicyBridge::detect_connect(const ReleasedConnect& c, const std::string* host) {
  const auto& r = c.rec;
  const bool in_progress = r.result == -EINPROGRESS;
  if (detect_ && (r.family == AF_INET || r.family == AF_INET6) && !(in_progress && !c.outcome)) {
    auto timed = detect_->meter().scope();
    emit_detections(detect_->on_connect(
        {r.h.ts_ns, who(r.h.tgid, r.h.agent), r.address,
         host ? std::string_view(*host) : std::string_view(), r.port,
         c.outcome ? c.outcome->result : r.result}));
  }
}

void PolicyBridge::detect_dns(uint64_t ts, uint32_t tgid, uint32_t agent_root,
                              const std::string& name, uint32_t rcode) {
  if (!detect_) return;
  auto timed = detect_->meter().scope();
  emit_detections(detect_->on_dns({ts, who(tgid, agent_root), name, rcode}));
}

void PolicyBridge::detect_tls_failure(const TlsConnection& c, uint32_t agent_root, uint64_t ts) {
  if (!detect_) return;
  auto timed = detect_->meter().scope();
  emit_detections(detect_->on_tls_failure({ts, who(c.tgid, agent_root), c.sni, c.address, c.port}));
}

}  // namespace rein::pipeline
