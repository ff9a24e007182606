#include "pipeline/sensor_pipeline.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "pipeline/file_views.h"
#include "process/container_id.h"
#include "process/path_normalize.h"
#include "proto/dns.h"
#include "proto/tls_hello.h"
#include "rein/abi/events.h"
#include "proto/decode_budget.h"

namespace rein::pipeline {

namespace {
constexpr size_t kMaxOpenFiles = 65536;
constexpr size_t kMaxPendingDns = 4096;
constexpr size_t kMaxHostnames = 16384;
constexpr uint64_t kDnsTimeoutNs = 5'000'000'000;

const char* op_name(uint16_t op) {
  switch (op) {
    case REIN_OP_CREATE: return "create";
    case REIN_OP_WRITE: return "write";
    case REIN_OP_TRUNCATE: return "truncate";
    case REIN_OP_RENAME: return "rename";
    case REIN_OP_UNLINK: return "unlink";
    case REIN_OP_CHMOD: return "chmod";
    case REIN_OP_CHOWN: return "chown";
    case REIN_OP_MKDIR: return "mkdir";
    case REIN_OP_RMDIR: return "rmdir";
    case REIN_OP_LINK: return "link";
    case REIN_OP_SYMLINK: return "symlink";
    case REIN_OP_XATTR: return "xattr";
  }
  return "unknown";
}

// The kernel joins the caller's relative tail to a resolved directory; fold "." and "..".
std::string clean_path(const std::string& p, uint32_t flags) {
  if (p.empty() || p[0] != '/' || (flags & REIN_F_PATH_FROM_FD)) return p;
  return process::normalize_path(p);
}

void put_result(sinks::JsonWriter& w, int32_t result) {
  // Widened first: negating INT32_MIN (a corrupt record) would overflow.
  const int64_t err = result < 0 ? -int64_t(result) : int64_t(result);
  w.key("result");
  w.number(err);
  w.key("error");
  if (result < 0) {
    const char* name = err <= INT32_MAX ? strerrorname_np(int(err)) : nullptr;
    if (name) w.string(name); else w.string(fmt::format("E{}", err));
  } else {
    w.null();
  }
}

// A kernel match on a rule directory's inode rather than on the path: say so, the path
// alone (a bind mount, a chroot) would not explain the decision.
enforce::Decision inode_detail(enforce::Decision d, uint32_t flags) {
  if (flags & REIN_F_INODE_RULE)
    d.detail += ": the rule's directory is above this file (bind mount, chroot or namespace view)";
  return d;
}

void put_mode(sinks::JsonWriter& w, uint32_t mode) {
  w.key("mode");
  w.string(fmt::format("{:04o}", mode & 07777));
}
}  // namespace

SensorPipeline::SensorPipeline(SelectorSet selectors, LineSink& sink, TrackFn track,
                               process::CgroupResolver* cgroups, LlmConfig llm)
    : selectors_(std::move(selectors)),
      sink_(sink),
      track_(std::move(track)),
      cgroups_(cgroups),
      llm_(llm.prices, llm.fingerprinter,
           [this](const CallContext& ctx, const llm::LlmCall& call) { on_llm_call(ctx, call); }) {}

void SensorPipeline::finish(uint64_t now) {
  for (const auto& c : connect_hold_.expire(UINT64_MAX)) write_connect(c);
  llm_.close_all(now);
  watch_.finish(now);
}

static const char* source_name(uint8_t source) {
  switch (source) {
    case REIN_SRC_OPENSSL: return "openssl";
    case REIN_SRC_GNUTLS: return "gnutls";
    case REIN_SRC_SOCKET: return "socket";
    case REIN_SRC_BORINGSSL: return "boringssl";
    case REIN_SRC_RUSTLS: return "rustls";
    case REIN_SRC_GOTLS: return "go";
  }
  return "unknown";
}

// Undecoded TLS of an agent: who, which peer and name, which TLS code, and why.
void SensorPipeline::on_unobserved(const TlsConnection& c, uint64_t now, bool partial) {
  stats_.tls_unobserved++;
  TlsCoverage cov = coverage_ ? coverage_(c.tgid) : TlsCoverage{};
  std::string reason;
  if (partial) {
    reason = "TLS hooks were attached after this connection had sent requests: those were not "
             "decoded, later ones are";
  } else if (cov.hooked_at_ns && cov.hooked_at_ns > c.ts_ns) {
    reason = "TLS hooks were attached after this connection started";
  } else if (!cov.undecodable.empty()) {
    for (const auto& u : cov.undecodable) reason += (reason.empty() ? "" : "; ") + u;
  } else if (cov.pending) {
    reason = "the process's TLS code was still being analysed";
  } else if (!cov.hooked.empty()) {
    reason = "no plaintext from the hooked TLS library on this connection";
  } else if (coverage_) {
    reason = "no TLS library Rein can hook in this process";
  } else {
    reason = "no plaintext was captured for this connection";
  }
  auto v = view(c.tgid);
  auto& w = builder_.begin("llm.unobserved", c.ts_ns, v,
                           agent_for(v.info ? v.info->agent_root : 0));
  w.key("sni");
  if (c.sni.empty()) w.null(); else w.string(c.sni);
  w.key("address");
  if (c.address.empty()) w.null(); else w.string(c.address);
  w.key("port");
  if (c.port) w.number(uint64_t(c.port)); else w.null();
  w.key("alpn");
  w.begin_array();
  for (const auto& a : c.alpn) w.string(a);
  w.end_array();
  w.key("fd");
  w.number(int64_t(c.fd));
  w.key("library");
  w.begin_array();
  for (const auto& l : cov.hooked) w.string(l);
  w.end_array();
  w.key("reason");
  w.string(reason);
  w.key("partial");
  w.boolean(partial);
  w.key("decided_ms");
  w.number(now >= c.ts_ns ? double(now - c.ts_ns) / 1e6 : 0.0);
  emit(builder_.finish());
}

void SensorPipeline::set_enforcer(enforce::Enforcer* e) {
  enforcer_ = e;
  file_views_.set_rule_dirs(e ? enforce::rule_dirs(e->policy()) : std::vector<enforce::RuleDir>{});
  config_.configure(e ? &e->policy().config_files : nullptr);
  file_rules_ = false;  // resolving names costs syscalls: only when a file rule can use it
  if (e) {
    for (const auto& r : e->policy().rules)
      file_rules_ |= std::holds_alternative<policy::FileMatch>(r.match);
    for (const auto& a : e->policy().allow)
      file_rules_ |= std::holds_alternative<policy::FileMatch>(a.match);
  }
  if (!e) {
    llm_.set_request_hook({});
    return;
  }
  llm_.set_request_hook([this](const CallContext& ctx, const proto::HttpRequest& req) {
    if (!enforcer_ || req.host.empty()) return;
    const auto* p = table_.find(ctx.tgid);
    uint32_t root = ctx.agent ? ctx.agent : (p ? p->agent_root : 0);
    uint64_t ts = req.ts_end_ns ? req.ts_end_ns : ctx.ts_ns;
    emit_decisions(enforcer_->on_http_host(subject(ctx.tgid, root), req.host, ts), ts);
  });
}

enforce::Subject SensorPipeline::subject(uint32_t pid, uint32_t agent_root) {
  enforce::Subject s;
  s.pid = pid;
  s.agent_root = agent_root;
  if (const auto* a = agent_for(agent_root)) {
    s.agent_id = a->id;
    s.agent_name = a->name;
  }
  s.discovered = discovered_.count(agent_root) && discovered_[agent_root];
  return s;
}

void SensorPipeline::emit_decisions(const std::vector<enforce::Decision>& ds, uint64_t ts) {
  for (const auto& d : ds) {
    auto v = view(d.pid);
    auto& w = builder_.begin("policy.action", ts, v, agent_for(d.agent_root));
    w.key("rule");
    w.string(d.rule);
    w.key("kind");
    w.string(d.kind);
    w.key("action");
    w.string(d.action);
    w.key("outcome");
    w.string(d.outcome);
    w.key("matched");
    w.string(d.what);
    w.key("detail");
    w.string(d.detail);
    w.key("hold_id");
    if (d.hold_id) w.number(d.hold_id); else w.null();
    emit(builder_.finish());
    if (observer_) observer_->on_policy_action(d);
  }
}

std::string SensorPipeline::control(const std::string& request) {
  if (!enforcer_) return R"x({"ok":false,"error":"no policy loaded (rein run --policy FILE)"})x";
  auto [reply, decisions] = enforcer_->control(request, Clock::boot_now_ns());
  emit_decisions(decisions, Clock::boot_now_ns());
  return reply;
}

// TLS we may not decode (Go, rustls, HTTP/2) still shows: who, which peer, which name.
void SensorPipeline::on_tls_hello(const decode::DataRec& r) {
  auto hello = proto::parse_tls_client_hello(r.data);
  if (!hello) return;
  if (!hello->sni.empty() && !r.peer_address.empty()) {
    if (hostnames_.size() > kMaxHostnames) hostnames_.clear();
    hostnames_[r.peer_address] = hello->sni;
  }
  if (r.h.agent || table_.find(r.h.tgid)) {
    TlsConnection c;
    c.tgid = r.h.tgid;
    c.fd = r.fd;
    c.sni = hello->sni;
    c.address = r.peer_address;
    c.port = r.peer_port;
    c.alpn = hello->alpn;
    c.ts_ns = r.h.ts_ns;
    watch_.on_hello(std::move(c));
  }
  auto v = view(r.h.tgid);
  auto& w = builder_.begin("net.tls", r.h.ts_ns, v, agent_for(r.h.agent));
  w.key("sni");
  if (hello->sni.empty()) w.null(); else w.string(hello->sni);
  w.key("alpn");
  w.begin_array();
  for (const auto& a : hello->alpn) w.string(a);
  w.end_array();
  w.key("address");
  if (r.peer_address.empty()) w.null(); else w.string(r.peer_address);
  w.key("port");
  if (r.peer_port) w.number(uint64_t(r.peer_port)); else w.null();
  w.key("fd");
  w.number(int64_t(r.fd));
  w.key("truncated");
  w.boolean(hello->truncated);
  emit(builder_.finish());
  if (enforcer_ && !hello->sni.empty())
    emit_decisions(enforcer_->on_tls_sni(subject(r.h.tgid, r.h.agent), hello->sni,
                                         r.peer_address, r.h.ts_ns),
                   r.h.ts_ns);
}

void SensorPipeline::on_policy_net(const decode::PolicyNetRec& r) {
  if (!enforcer_) return;
  std::string what = fmt::format("{}:{}", r.address, r.port);
  if (auto it = hostnames_.find(r.address); it != hostnames_.end()) what += " (" + it->second + ")";
  auto who = subject(r.h.tgid, r.h.agent);
  if (r.budget)
    emit_decisions({enforcer_->budget_refusal(r.budget - 1, what, who)}, r.h.ts_ns);
  else
    emit_decisions({enforcer_->from_kernel("network", r.policy.rule, r.policy.action,
                                           r.policy.outcome, what, who, r.h.ts_ns)},
                   r.h.ts_ns);
}

void SensorPipeline::on_llm_call(const CallContext& ctx, const llm::LlmCall& call) {
  auto v = view(ctx.tgid);
  const auto* agent = agent_for(ctx.agent ? ctx.agent : (v.info ? v.info->agent_root : 0));
  auto& w = builder_.begin("llm.call", ctx.ts_ns, v, agent);
  write_llm_call(w, call);
  w.key("source");
  w.string(source_name(ctx.source));
  w.key("protocol");
  w.string(ctx.protocol.empty() ? "http/1.1" : ctx.protocol);
  w.key("peer");
  if (!ctx.peer_address.empty()) {
    w.begin_object();
    w.key("address");
    w.string(ctx.peer_address);
    w.key("port");
    w.number(uint64_t(ctx.peer_port));
    w.key("hostname");
    if (auto it = hostnames_.find(ctx.peer_address); it != hostnames_.end()) w.string(it->second);
    else w.null();
    w.end_object();
  } else {
    w.null();
  }
  emit(builder_.finish());
  if (observer_) observer_->on_llm_call(agent, call);
  if (agent) totals_[agent->id].add(call);
  if (agent) config_.on_llm_call(agent->id, ctx.ts_ns, call);
  if (llm_observer_) {
    const auto time = clock_.rfc3339(ctx.ts_ns);
    const auto container = process::container_id_from_cgroup(v.cgroup);
    const auto k8s = builder_.k8s_identity(v.cgroup);
    ObservedLlmCall o;
    o.boot_ns = ctx.ts_ns;
    o.time = time;
    o.agent = agent;
    o.pid = ctx.tgid;
    if (v.info) o.exe = v.info->exe;
    if (container) o.container_id = *container;
    if (k8s) o.k8s_pod_uid = k8s->pod_uid;
    if (k8s && k8s->ns) o.k8s_namespace = *k8s->ns;
    if (k8s && k8s->pod) o.k8s_pod = *k8s->pod;
    if (k8s && k8s->container) o.k8s_container = *k8s->container;
    o.call = &call;
    llm_observer_->on_llm_call(o);
  }
  if (enforcer_ && agent)
    emit_decisions(enforcer_->on_llm(subject(ctx.tgid, agent->root_pid), call, ctx.peer_address,
                                     ctx.peer_port, ctx.ts_ns),
                   ctx.ts_ns);
  if (detect_ && agent)
    emit_detections(detect_->on_llm({ctx.ts_ns, detect_who(ctx.tgid, agent->root_pid), &call,
                                     llm_content_ ? &*llm_content_ : nullptr}));
  llm_content_.reset();
}

void SensorPipeline::set_detections(detect::DetectionEngine* d) {
  detect_ = d;
  if (d) d->set_time_format([this](uint64_t ts) { return clock_.rfc3339(ts); });
  llm_.set_exchange_hook(!d ? LlmStage::OnExchange{} : [this](const CallContext& ctx,
                                                              const proto::HttpExchange& ex,
                                                              bool is_llm) {
    if (is_llm) {
      llm_content_ = detect_->content(ex);
      return;
    }
    if (!ex.response || ex.response->status != 404) return;
    const auto* p = table_.find(ctx.tgid);
    uint32_t root = ctx.agent ? ctx.agent : (p ? p->agent_root : 0);
    uint64_t ts = ex.response->ts_end_ns ? ex.response->ts_end_ns : ctx.ts_ns;
    emit_detections(detect_->on_http(
        {ts, detect_who(ctx.tgid, root), ex.request.host, ex.request.target, ex.response->status}));
  });
}

detect::Who SensorPipeline::detect_who(uint32_t pid, uint32_t agent_root) {
  detect::Who w;
  w.pid = pid;
  w.root = agent_root;
  if (const auto* a = agent_for(agent_root)) {
    w.session = a->id;
    w.name = a->name;
  }
  return w;
}

// detect.<kind>: who, what, the evidence and its cost; a non-alert action goes through the
// enforcer like a budget's.
void SensorPipeline::emit_detections(std::vector<detect::Detection> ds) {
  for (const auto& d : ds) {
    auto v = view(d.pid);
    auto& w = builder_.begin("detect." + d.kind, d.ts_ns, v, agent_for(d.root));
    w.key("summary");
    w.string(d.summary);
    w.key("action");
    w.string(policy::detection_action_name(d.action));
    w.key("cost_usd");
    w.number(d.cost_usd);
    w.key("tokens");
    w.number(d.tokens);
    w.key("evidence");
    w.raw(d.evidence);
    emit(builder_.finish());
    if (enforcer_ && d.action != policy::DetectionAction::kAlert)
      emit_decisions({enforcer_->on_detection(subject(d.pid, d.root), d.kind, d.action, d.summary,
                                              d.ts_ns)},
                     d.ts_ns);
  }
}

void SensorPipeline::emit_agent_summary(uint32_t root, uint64_t ts) {
  const auto* agent = agent_for(root);
  if (!agent) return;
  auto it = totals_.find(agent->id);
  auto v = view(root);
  auto& w = builder_.begin("agent.summary", ts, v, agent);
  (it != totals_.end() ? it->second : AgentTotals{}).write(w);
  emit(builder_.finish());
  if (observer_) observer_->on_agent_ended(*agent);
  if (it != totals_.end()) totals_.erase(it);
}

void SensorPipeline::emit(const std::string& line) {
  sink_.write_line(line);
  stats_.events++;
  if (observer_) observer_->on_event(event_type_of(line));
}

const process::Agent* SensorPipeline::agent_for(uint32_t root) {
  if (!root) return nullptr;
  auto it = agent_start_.find(root);
  if (it == agent_start_.end()) return nullptr;
  return agents_.find(root, it->second);
}

const process::Agent* SensorPipeline::start_agent(uint32_t root, uint64_t ts, uint32_t selector,
                                                  std::string_view comm) {
  std::string name(comm);
  if (selector < selectors_.items().size() && !selectors_.items()[selector].name.empty())
    name = selectors_.items()[selector].name;
  agent_start_[root] = ts;
  const auto& a = agents_.get_or_create(root, ts, name);
  if (observer_) observer_->on_agent_started(a);
  return &a;
}

ProcessView SensorPipeline::view(uint32_t pid) {
  ProcessView v;
  v.pid = pid;
  v.info = table_.find(pid);
  if (v.info && v.info->cgroup_id && (cgroups_ || journal_)) {
    if (auto p = cgroup_path(v.info->cgroup_id)) v.cgroup = *p;
  }
  return v;
}

std::optional<std::string> SensorPipeline::ask(
    std::string_view key, const std::function<std::optional<std::string>()>& live) {
  return journal_ ? journal_->lookup(key, live) : live();
}

std::optional<std::string> SensorPipeline::cgroup_path(uint64_t id) {
  return ask(fmt::format("cgroup.path/{}", id), [&]() -> std::optional<std::string> {
    return cgroups_ ? cgroups_->path_for_id(id) : std::nullopt;
  });
}

uint32_t SensorPipeline::self_pid() {
  auto v = ask("self.pid", [] { return std::optional<std::string>(std::to_string(getpid())); });
  return v ? uint32_t(std::strtoul(v->c_str(), nullptr, 10)) : 0;
}

// Serialized as the path, then each rule-directory view, NUL-separated.
std::optional<FileViews> SensorPipeline::resolve_view(uint32_t tgid, uint32_t ppid, uint32_t agent,
                                                      const std::string& path, bool follow) {
  if (!journal_) return file_views_.resolve({tgid, ppid, agent}, path, follow);
  auto v = journal_->lookup(
      fmt::format("file.view/{}/{}/{}/{}/{}", tgid, ppid, agent, follow ? 1 : 0, path),
      [&]() -> std::optional<std::string> {
        auto r = file_views_.resolve({tgid, ppid, agent}, path, follow);
        if (!r) return std::nullopt;
        std::string out = r->path;
        for (const auto& u : r->under_rules) (out += '\0') += u;
        return out;
      });
  if (!v) return std::nullopt;
  FileViews out;
  size_t nul = v->find('\0');
  out.path = v->substr(0, nul);
  while (nul != std::string::npos) {
    size_t next = v->find('\0', nul + 1);
    out.under_rules.push_back(v->substr(nul + 1, next == std::string::npos ? next : next - nul - 1));
    nul = next;
  }
  return out;
}

void SensorPipeline::on_record(std::span<const uint8_t> bytes) {
  stats_.records++;
  auto rec = decode::decode_record(bytes);
  if (!rec) {
    stats_.decode_errors++;
    return;
  }
  std::visit(
      [this](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, decode::ExecRec>) on_exec(r);
        else if constexpr (std::is_same_v<T, decode::ForkRec>) on_fork(r);
        else if constexpr (std::is_same_v<T, decode::ExitRec>) on_exit(r);
        else if constexpr (std::is_same_v<T, decode::FileRec>) on_file(r);
        else if constexpr (std::is_same_v<T, decode::FileOpenRec>) on_file_open(r);
        else if constexpr (std::is_same_v<T, decode::FileCloseRec>) on_file_close(r);
        else if constexpr (std::is_same_v<T, decode::ConnectRec>) on_connect(r);
        else if constexpr (std::is_same_v<T, decode::ConnectOutcomeRec>) on_connect_outcome(r);
        else if constexpr (std::is_same_v<T, decode::DnsRec>) on_dns(r);
        else if constexpr (std::is_same_v<T, decode::DataRec>) {
          if (r.source == REIN_SRC_TLS_HELLO) {
            on_tls_hello(r);
          } else {
            llm_.on_data(r);
            if (r.source != REIN_SRC_SOCKET)
              watch_.on_plaintext(r.h.tgid, r.fd, r.peer_address, r.peer_port,
                                  r.flags & REIN_DF_LATE, r.h.ts_ns);
          }
        }
        else if constexpr (std::is_same_v<T, decode::PolicyNetRec>) on_policy_net(r);
        else if constexpr (std::is_same_v<T, decode::BindRec>) llm_.on_bind(r);
        else if constexpr (std::is_same_v<T, decode::MechanismRec>) on_mechanism(r);
      },
      *rec);
}

void SensorPipeline::emit_exec(uint32_t pid, uint64_t ts, bool existing, uint32_t flags) {
  auto v = view(pid);
  auto& w = builder_.begin("process.exec", ts, v, agent_for(v.info ? v.info->agent_root : 0));
  w.key("cwd");
  if (v.info && !v.info->cwd.empty()) w.string(v.info->cwd); else w.null();
  w.key("existing");
  w.boolean(existing);
  w.key("new_agent");
  w.boolean(flags & REIN_F_NEW_AGENT);
  w.key("args_truncated");
  w.boolean(flags & REIN_F_ARGS_TRUNCATED);
  w.key("exe_truncated");
  w.boolean(flags & REIN_F_PATH_TRUNCATED);
  emit(builder_.finish());
  if ((flags & REIN_F_NEW_AGENT) && v.info && config_.enabled()) {
    // The agent's config files now: the "before" of its changes (replay: as captured).
    auto files = ask(fmt::format("config.agent_start/{}/{}", pid, ts), [&]() -> std::optional<std::string> {
      // Adopted agents ran before the sensor: what it reads now is the best "before" known.
      int64_t start_real = existing ? 0 : ConfigMutationTracker::realtime_of_boot(ts);
      return config_.read_agent_start(pid, v.info->cwd, ConfigMutationTracker::home_of(pid, v.info->uid),
                                      start_real);
    });
    if (files) config_.load_agent_start(*files, ts);
  }
}

void SensorPipeline::on_exec(const decode::ExecRec& r) {
  uint32_t agent = r.h.agent;
  uint32_t flags = r.flags;
  uint32_t selector = r.selector;
  if (r.flags & REIN_F_CANDIDATE) {
    // Untracked exec sent for argv matching. From here on the kernel tracks it and its
    // future children; what it did between exec and now was not seen (documented window).
    auto m = selectors_.match_cmdline(r.args);
    if (!m) return;
    selector = *m;
    stats_.candidates_matched++;
    if (auto ok = track_ ? track_(r.h.tgid, r.h.tgid, selector, r.h.ts_ns) : Result<void>(); !ok)
      stats_.track_failed++;
    agent = r.h.tgid;
    flags |= REIN_F_NEW_AGENT;
  }
  if (flags & REIN_F_NEW_AGENT) {
    start_agent(r.h.tgid, r.h.ts_ns, selector, r.comm);
    discovered_[r.h.tgid] = selector == UINT32_MAX;
  }
  uint64_t start = agent_start_.count(agent) ? agent_start_[agent] : 0;
  table_.on_exec(r.h.tgid, r.ppid, r.h.uid, r.comm, r.exe, r.args, r.cwd, r.cgroup_id, r.h.ts_ns,
                 agent, start);
  if (flags & REIN_F_DISCOVERED) {  // a running process, not an exec: it sent an LLM request
    auto v = view(r.h.tgid);
    auto& w = builder_.begin("agent.discovered", r.h.ts_ns, v, agent_for(agent));
    w.key("reason");
    w.string((flags & REIN_F_DISC_SNI)     ? "TLS server name of an LLM API"
             : (flags & REIN_F_DISC_PLAIN) ? "plain-HTTP LLM API request"
                                           : "LLM API request seen by the TLS hooks");
    w.key("cwd");
    w.string(r.cwd);
    emit(builder_.finish());
    return;
  }
  emit_exec(r.h.tgid, r.h.ts_ns, false, flags);
  if (detect_) emit_detections(detect_->on_exec({r.h.ts_ns, detect_who(r.h.tgid, agent), r.exe, &r.args}));
  if (enforcer_) {
    auto who = subject(r.h.tgid, agent);
    if (r.policy.rule)
      emit_decisions({enforcer_->from_kernel("exec", r.policy.rule - 1, r.policy.action,
                                             r.policy.outcome, r.exe, who, r.h.ts_ns)},
                     r.h.ts_ns);
    else
      emit_decisions(enforcer_->on_exec(who, r.exe, r.args, r.h.ts_ns), r.h.ts_ns);
  }
}

void SensorPipeline::on_fork(const decode::ForkRec& r) {
  uint64_t start = agent_start_.count(r.h.agent) ? agent_start_[r.h.agent] : 0;
  table_.on_fork(r.h.tgid, r.ppid, r.comm, r.h.ts_ns, r.h.agent, start);
  auto v = view(r.h.tgid);
  auto& w = builder_.begin("process.fork", r.h.ts_ns, v, agent_for(r.h.agent));
  w.key("parent_pid");
  w.number(uint64_t(r.ppid));
  emit(builder_.finish());
}

void SensorPipeline::on_exit(const decode::ExitRec& r) {
  // the kernel sends an outcome before the exit when there was one
  for (const auto& c : connect_hold_.release_process(r.h.tgid)) write_connect(c);
  llm_.on_process_exit(r.h.tgid, r.h.ts_ns);  // its streams end: deliver their last calls
  watch_.on_exit(r.h.tgid, r.h.ts_ns);
  if (enforcer_) enforcer_->on_process_exit(r.h.tgid);
  table_.on_exit(r.h.tgid, int32_t(r.status), r.h.ts_ns);
  auto v = view(r.h.tgid);
  auto& w = builder_.begin("process.exit", r.h.ts_ns, v, agent_for(r.h.agent));
  uint32_t sig = r.status & 0x7f;
  w.key("exit_code");
  if (sig == 0) w.number(uint64_t((r.status >> 8) & 0xff)); else w.null();
  w.key("signal");
  if (sig) w.number(uint64_t(sig)); else w.null();
  w.key("core_dumped");
  w.boolean(r.status & 0x80);
  w.key("duration_ms");
  if (v.info && v.info->start_ns && r.h.ts_ns >= v.info->start_ns)
    w.number(double(r.h.ts_ns - v.info->start_ns) / 1e6);
  else
    w.null();
  emit(builder_.finish());
  if (detect_) {
    const int code = sig == 0 ? int((r.status >> 8) & 0xff) : -1;
    emit_detections(detect_->on_exit({r.h.ts_ns, detect_who(r.h.tgid, r.h.agent), code}));
    if (r.h.agent == r.h.tgid)
      if (const auto* a = agent_for(r.h.agent)) detect_->on_session_end(a->id);
  }
  if (r.h.agent == r.h.tgid) emit_agent_summary(r.h.tgid, r.h.ts_ns);
  // files this process opened: the kernel flushed their summaries before the exit record
  for (auto it = open_files_.begin(); it != open_files_.end();) {
    if (it->second.opener == r.h.tgid) it = open_files_.erase(it); else ++it;
  }
}

void SensorPipeline::config_mutation(const decode::Header& h, std::string_view op,
                                     const std::string& path, const std::string& old_path) {
  if (!config_.enabled()) return;
  if (!config_.classify(path) && (old_path.empty() || !config_.classify(old_path))) return;
  const auto* agent = agent_for(h.agent);
  if (!agent) return;
  auto v = view(h.tgid);
  ConfigChange c{std::string(op), path, old_path, agent->id, v.info ? v.info->cwd : "", h.ts_ns};
  // The file as it is now (replay: as captured), read before the event is begun.
  auto after = ask(fmt::format("config.after/{}/{}/{}/{}", h.ts_ns, h.tgid, op, path),
                   [&]() -> std::optional<std::string> {
                     return config_.read_after(c, {h.tgid, v.info ? v.info->ppid : 0, h.agent});
                   });
  auto& w = builder_.begin("config.mutation", h.ts_ns, v, agent);
  config_.write_event(w, c, after, clock_);
  w.key("tid");
  w.number(uint64_t(h.pid));
  emit(builder_.finish());
}

void SensorPipeline::file_event(const decode::Header& h, std::string_view op,
                                const std::string& path, int32_t result,
                                const std::function<void(sinks::JsonWriter&)>& extra) {
  auto v = view(h.tgid);
  auto& w = builder_.begin("file.mutation", h.ts_ns, v, agent_for(h.agent));
  w.key("op");
  w.string(op);
  w.key("path");
  w.string(path);
  if (extra) extra(w);
  put_result(w, result);
  w.key("tid");
  w.number(uint64_t(h.pid));
  emit(builder_.finish());
  if (detect_ && result == 0)
    emit_detections(detect_->on_file({h.ts_ns, detect_who(h.tgid, h.agent), path, op}));
}

void SensorPipeline::on_file(const decode::FileRec& r) {
  std::string path = clean_path(r.path, r.flags);
  std::string path2 = (r.op == REIN_OP_RENAME || r.op == REIN_OP_LINK) ? clean_path(r.path2, 0) : "";
  // A name the process passed may not say what it changed (symlinked directories, "..",
  // /proc/self/root, chroot, bind mounts): resolve it now, after the syscall, while the
  // kernel's rules did not already decide (see docs/policy.md for the race this leaves).
  std::optional<FileViews> real, real2;
  if (enforcer_ && file_rules_ && !r.policy.rule && r.result == 0 &&
      FileViewResolver::name_based(r.syscall) &&
      !(r.flags & REIN_F_PATH_TRUNCATED)) {
    const auto* p = table_.find(r.h.tgid);
    const uint32_t ppid = p ? p->ppid : 0;
    real = resolve_view(r.h.tgid, ppid, r.h.agent, path, FileViewResolver::follows_last(r.syscall));
    if (!path2.empty()) real2 = resolve_view(r.h.tgid, ppid, r.h.agent, path2, false);
  }
  const std::string& shown = real ? real->path : path;
  const std::string& shown2 = real2 ? real2->path : path2;
  file_event(r.h, op_name(r.op), shown, r.result, [&](sinks::JsonWriter& w) {
    if (shown != path) {
      w.key("path_as_written");
      w.string(path);
    }
    if (r.op == REIN_OP_RENAME || r.op == REIN_OP_LINK) {
      w.key("new_path");
      w.string(shown2);
      if (shown2 != path2) {
        w.key("new_path_as_written");
        w.string(path2);
      }
    } else if (r.op == REIN_OP_SYMLINK) {
      w.key("target");
      w.string(r.path2);
    }
    if (r.op == REIN_OP_CHMOD || r.op == REIN_OP_MKDIR || r.op == REIN_OP_CREATE) put_mode(w, r.mode);
    if (r.op == REIN_OP_CHOWN) {
      w.key("owner");
      if (r.owner == UINT32_MAX) w.null(); else w.number(uint64_t(r.owner));
      w.key("group");
      if (r.group == UINT32_MAX) w.null(); else w.number(uint64_t(r.group));
    }
    if (r.flags & (REIN_F_PATH_TRUNCATED | REIN_F_PATH2_TRUNCATED)) {
      w.key("path_truncated");
      w.boolean(true);
    }
    if (r.flags & REIN_F_PATH_UNRESOLVED) {
      w.key("path_unresolved");
      w.boolean(true);
    }
  });
  if (r.result == 0 && r.op != REIN_OP_MKDIR && r.op != REIN_OP_RMDIR) {
    const bool moved = r.op == REIN_OP_RENAME || r.op == REIN_OP_LINK;
    config_mutation(r.h, op_name(r.op), moved ? shown2 : shown, r.op == REIN_OP_RENAME ? shown : "");
  }
  if (enforcer_) {
    auto who = subject(r.h.tgid, r.h.agent);
    if (r.policy.rule)
      emit_decisions({inode_detail(enforcer_->from_kernel("file", r.policy.rule - 1, r.policy.action,
                                                          r.policy.outcome, path, who, r.h.ts_ns),
                                   r.flags)},
                     r.h.ts_ns);
    else if (r.result == 0)
      emit_decisions(file_decisions(who, op_name(r.op), path, path2, real, real2, r.h.ts_ns),
                     r.h.ts_ns);
  }
}

std::vector<enforce::Decision> SensorPipeline::file_decisions(
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

void SensorPipeline::on_mechanism(const decode::MechanismRec& r) {
  auto v = view(r.h.tgid);
  auto& w = builder_.begin("file.mechanism", r.h.ts_ns, v, agent_for(r.h.agent));
  w.key("mechanism");
  w.string(r.mechanism == REIN_MECH_IO_URING_SETUP   ? "io_uring_setup"
           : r.mechanism == REIN_MECH_IO_URING_ENTER ? "io_uring_enter"
                                                     : "io_uring_register");
  w.key("enforcement");
  if (r.policy.outcome == REIN_OUT_KILLED) w.string("killed"); else w.null();
  w.key("reason");
  w.string(r.policy.rule ? "io_uring under a file rule: its operations bypass the file hooks"
                         : "io_uring operations are not seen by the file hooks");
  emit(builder_.finish());
  if (!enforcer_ || !r.policy.rule) return;
  auto who = subject(r.h.tgid, r.h.agent);
  auto d = enforcer_->from_kernel("file", r.policy.rule - 1, REIN_ACT_DENY, r.policy.outcome,
                                  "io_uring", who, r.h.ts_ns);
  d.detail = "kernel: io_uring under a file rule (killed at the syscall, before the ring is used)";
  emit_decisions({std::move(d)}, r.h.ts_ns);
}

void SensorPipeline::on_file_open(const decode::FileOpenRec& r) {
  auto extra = [&](sinks::JsonWriter& w) {
    put_mode(w, r.mode);
    if (r.flags & REIN_F_PATH_TRUNCATED) {
      w.key("path_truncated");
      w.boolean(true);
    }
  };
  if (r.flags & REIN_F_CREATED) file_event(r.h, "create", r.path, 0, extra);
  if (r.flags & REIN_F_TRUNCATED) file_event(r.h, "truncate", r.path, 0, extra);
  if (r.flags & (REIN_F_CREATED | REIN_F_TRUNCATED)) {
    const char* op = (r.flags & REIN_F_CREATED) ? "create" : "truncate";
    if (r.flags & REIN_F_WRITABLE) config_.on_open(r.file_id, op);  // reported at the close
    else config_mutation(r.h, op, r.path, "");
  }
  if (enforcer_) {
    auto who = subject(r.h.tgid, r.h.agent);
    const char* op = (r.flags & REIN_F_CREATED) ? "create" : (r.flags & REIN_F_TRUNCATED) ? "truncate" : "write";
    if (r.policy.rule)
      emit_decisions({inode_detail(enforcer_->from_kernel("file", r.policy.rule - 1, r.policy.action,
                                                          r.policy.outcome, r.path, who, r.h.ts_ns),
                                   r.flags)},
                     r.h.ts_ns);
    else
      emit_decisions(enforcer_->on_file(who, op, r.path, "", r.h.ts_ns), r.h.ts_ns);
  }
  if (r.flags & REIN_F_WRITABLE) {
    if (open_files_.size() >= kMaxOpenFiles && !open_files_.count(r.file_id)) {
      stats_.fd_table_full++;
      return;
    }
    open_files_[r.file_id] = OpenFile{r.path, r.h.tgid};
  }
}

void SensorPipeline::on_file_close(const decode::FileCloseRec& r) {
  auto it = open_files_.find(r.file_id);
  if (it == open_files_.end()) {
    if (r.writes) stats_.close_without_open++;
    return;
  }
  std::string path = std::move(it->second.path);
  open_files_.erase(it);
  const std::string config_op = config_.on_close(r.file_id, r.writes);
  if (!r.writes) {
    if (!config_op.empty()) config_mutation(r.h, config_op, path, "");
    return;
  }
  file_event(r.h, "write", path, 0, [&](sinks::JsonWriter& w) {
    w.key("bytes");
    w.number(r.bytes);
    w.key("writes");
    w.number(uint64_t(r.writes));
  });
  config_mutation(r.h, config_op, path, "");
}

void SensorPipeline::on_connect(const decode::ConnectRec& r) {
  // A non-blocking TCP connect: reported once its outcome is known (or not in time).
  if (r.result == -EINPROGRESS && (r.family == AF_INET || r.family == AF_INET6)) {
    for (const auto& c : connect_hold_.hold(r, r.h.ts_ns)) write_connect(c);
    return;
  }
  write_connect(ReleasedConnect{r, std::nullopt});
}

void SensorPipeline::on_connect_outcome(const decode::ConnectOutcomeRec& r) {
  if (auto c = connect_hold_.resolve(r)) write_connect(*c);
}

void SensorPipeline::write_connect(const ReleasedConnect& c) {
  const auto& r = c.rec;
  const bool in_progress = r.result == -EINPROGRESS;
  if (in_progress) (c.outcome ? stats_.connect_outcomes : stats_.connect_no_outcome)++;
  auto v = view(r.h.tgid);
  auto& w = builder_.begin("net.connect", r.h.ts_ns, v, agent_for(r.h.agent));
  w.key("family");
  switch (r.family) {
    case AF_INET: w.string("ipv4"); break;
    case AF_INET6: w.string("ipv6"); break;
    case AF_UNIX: w.string("unix"); break;
    default: w.string(fmt::format("af{}", r.family));
  }
  w.key("address");
  if (r.family == AF_UNIX) w.string(r.unix_path);
  else if (!r.address.empty()) w.string(r.address);
  else w.null();
  w.key("port");
  if (r.family == AF_INET || r.family == AF_INET6) w.number(uint64_t(r.port)); else w.null();
  w.key("hostname");
  if (auto it = hostnames_.find(r.address); it != hostnames_.end() && !r.address.empty())
    w.string(it->second);
  else
    w.null();
  w.key("fd");
  w.number(int64_t(r.fd));
  put_result(w, c.outcome ? c.outcome->result : r.result);
  w.key("in_progress");
  w.boolean(in_progress);
  w.key("connect_ms");
  if (c.outcome) w.number(double(c.outcome->latency_ns) / 1e6); else w.null();
  emit(builder_.finish());
  if (detect_ && (r.family == AF_INET || r.family == AF_INET6) && !(in_progress && !c.outcome)) {
    auto host = hostnames_.find(r.address);
    emit_detections(detect_->on_connect(
        {r.h.ts_ns, detect_who(r.h.tgid, r.h.agent), r.address,
         host != hostnames_.end() ? std::string_view(host->second) : std::string_view(), r.port,
         c.outcome ? c.outcome->result : r.result}));
  }
}

void SensorPipeline::write_question(sinks::JsonWriter& w, const PendingDns& q) {
  w.key("query");
  w.string(q.name);
  w.key("query_type");
  w.string(proto::dns_type_name(q.type));
  w.key("server");
  w.string(q.server);
  w.key("server_port");
  w.number(uint64_t(q.port));
}

void SensorPipeline::on_dns(const decode::DnsRec& r) {
  auto msg = proto::parse_dns(r.payload);
  if (!msg || msg->questions.empty()) {
    stats_.dns_unparsed++;
    return;
  }
  auto key = std::make_pair(r.cookie, msg->id);
  if (!r.ingress && !msg->response) {
    if (dns_pending_.size() >= kMaxPendingDns) {
      dns_pending_.erase(dns_pending_.begin());
      stats_.dns_pending_dropped++;
    }
    dns_pending_[key] = PendingDns{r.h.ts_ns, r.h.tgid, msg->questions[0].name,
                                   msg->questions[0].type, r.address, r.port};
    return;
  }
  if (!r.ingress || !msg->response) return;
  if (r.untrusted) stats_.dns_untrusted++;
  PendingDns q;
  if (auto it = dns_pending_.find(key); it != dns_pending_.end()) {
    q = it->second;
    dns_pending_.erase(it);
  } else {  // the query went out before we knew the socket; the answer still counts
    q = PendingDns{r.h.ts_ns, r.h.tgid, msg->questions[0].name, msg->questions[0].type,
                   r.address, r.port};
  }
  if (hostnames_.size() > kMaxHostnames) hostnames_.clear();
  std::vector<std::string> addrs;
  // a forged answer must neither teach host rules (wildcards are learned here, not in the
  // kernel) nor label addresses with a name in later events
  for (const auto& a : msg->answers)
    if (!r.untrusted && (a.type == 1 || a.type == 28) && !a.data.empty()) {
      hostnames_[a.data] = q.name;
      addrs.push_back(a.data);
    }
  if (enforcer_ && !addrs.empty()) {  // host rules become addresses before the agent connects
    const auto* p = table_.find(q.tgid);
    enforcer_->on_dns(subject(q.tgid, p ? p->agent_root : r.h.agent), q.name, addrs);
  }
  auto v = view(q.tgid);
  auto& w = builder_.begin("net.dns", r.h.ts_ns, v, agent_for(r.h.agent));
  write_question(w, q);
  w.key("rcode");
  w.number(uint64_t(msg->rcode));
  w.key("answers");
  w.begin_array();
  for (const auto& a : msg->answers) {
    w.begin_object();
    w.key("name");
    w.string(a.name);
    w.key("type");
    w.string(proto::dns_type_name(a.type));
    w.key("ttl");
    w.number(uint64_t(a.ttl));
    w.key("data");
    w.string(a.data);
    w.end_object();
  }
  w.end_array();
  w.key("latency_ms");
  w.number(r.h.ts_ns >= q.ts_ns ? double(r.h.ts_ns - q.ts_ns) / 1e6 : 0.0);
  w.key("truncated");
  w.boolean(msg->incomplete || r.orig_len > r.payload.size());
  w.key("trusted");
  w.boolean(!r.untrusted);
  emit(builder_.finish());
  if (detect_) {
    const auto* p = table_.find(q.tgid);
    emit_detections(detect_->on_dns(
        {r.h.ts_ns, detect_who(q.tgid, p ? p->agent_root : r.h.agent), q.name, msg->rcode}));
  }
}

void SensorPipeline::tick(uint64_t now) {
  for (const auto& c : connect_hold_.expire(now)) write_connect(c);
  for (auto it = dns_pending_.begin(); it != dns_pending_.end();) {
    if (now < it->second.ts_ns || now - it->second.ts_ns < kDnsTimeoutNs) {
      ++it;
      continue;
    }
    const auto& q = it->second;
    auto v = view(q.tgid);
    auto* proc = v.info;
    auto& w = builder_.begin("net.dns", q.ts_ns, v, agent_for(proc ? proc->agent_root : 0));
    write_question(w, q);
    w.key("rcode");
    w.null();
    w.key("answers");
    w.null();
    w.key("latency_ms");
    w.null();
    w.key("truncated");
    w.boolean(false);
    emit(builder_.finish());
    it = dns_pending_.erase(it);
  }
  table_.gc(now);
  llm_.expire(now);
  watch_.tick(now);
  if (enforcer_) emit_decisions(enforcer_->tick(now), now);
  if (detect_) detect_->tick(now);
}

size_t SensorPipeline::adopt_existing(const std::string& proc_root) {
  process::CgroupPathToId to_id;
  if (cgroups_ && !journal_) to_id = [this](std::string_view p) { return cgroups_->id_for_path(p); };
  if (journal_)
    to_id = [this](std::string_view p) -> std::optional<uint64_t> {
      auto v = journal_->lookup(fmt::format("cgroup.id/{}", p), [&]() -> std::optional<std::string> {
        auto id = cgroups_ ? cgroups_->id_for_path(p) : std::nullopt;
        return id ? std::optional<std::string>(std::to_string(*id)) : std::nullopt;
      });
      return v ? std::optional<uint64_t>(std::strtoull(v->c_str(), nullptr, 10)) : std::nullopt;
    };
  auto now_text = ask("adopt.now", [] { return std::optional<std::string>(std::to_string(Clock::boot_now_ns())); });
  const uint64_t now = now_text ? std::strtoull(now_text->c_str(), nullptr, 10) : 0;
  table_.seed_from_proc(proc_root, to_id, now);
  std::vector<std::pair<uint32_t, uint32_t>> roots;  // pid, selector
  const uint32_t self = self_pid();
  for (uint32_t pid : table_.pids()) {
    const auto* p = table_.find(pid);
    if (!p || p->exited || p->pid == self) continue;
    std::string cg;
    if (p->cgroup_id && (cgroups_ || journal_))
      if (auto path = cgroup_path(p->cgroup_id)) cg = *path;
    if (auto m = selectors_.match_existing(pid, p->exe, p->args, cg)) roots.emplace_back(pid, *m);
  }
  size_t adopted = 0;
  for (auto [root, sel] : roots) {
    const auto* rp = table_.find(root);
    if (!rp || rp->agent_root) continue;  // already inside an adopted tree
    const auto* agent = start_agent(root, rp->start_ns ? rp->start_ns : now, sel, rp->comm);
    std::vector<uint32_t> members{root};
    for (uint32_t d : table_.descendants(root)) members.push_back(d);
    for (uint32_t pid : members) {
      if (track_) {
        if (auto ok = track_(pid, root, sel, agent->start_ns); !ok) {
          stats_.track_failed++;
          continue;
        }
      }
      table_.set_agent(pid, root, agent->start_ns);
      emit_exec(pid, now, true, pid == root ? REIN_F_NEW_AGENT : 0);
      adopted++;
    }
  }
  return adopted;
}

void SensorPipeline::emit_health(uint64_t now, std::string_view state,
                                 const std::vector<std::pair<std::string, uint64_t>>& kernel,
                                 const std::function<void(sinks::JsonWriter&)>& extra) {
  ProcessView none;
  none.pid = self_pid();
  auto& w = builder_.begin("sensor.health", now, none, nullptr);
  w.key("state");
  w.string(state);
  w.key("kernel");
  w.begin_object();
  for (const auto& [k, v] : kernel) {
    w.key(k);
    w.number(v);
  }
  w.end_object();
  w.key("pipeline");
  w.begin_object();
  auto put = [&](const char* k, uint64_t v) { w.key(k); w.number(v); };
  put("records", stats_.records);
  put("decode_errors", stats_.decode_errors);
  put("events", stats_.events);
  put("argv_matches", stats_.candidates_matched);
  auto failed = ask("health.path_resolve_failed", [this] {
    return std::optional<std::string>(std::to_string(file_views_.failures()));
  });
  put("path_resolve_failed", failed ? std::strtoull(failed->c_str(), nullptr, 10) : 0);
  put("fd_table_full", stats_.fd_table_full);
  put("close_without_open", stats_.close_without_open);
  put("dns_unparsed", stats_.dns_unparsed);
  put("dns_pending_dropped", stats_.dns_pending_dropped);
  put("dns_untrusted", stats_.dns_untrusted);
  put("connect_outcomes", stats_.connect_outcomes);
  put("connect_no_outcome", stats_.connect_no_outcome);
  put("track_failed", stats_.track_failed);
  put("output_write_errors", sink_.write_errors());
  put("ledger_write_errors", llm_observer_ ? llm_observer_->write_errors() : 0);
  put("process_table_size", table_.size());
  put("process_table_evictions", table_.evictions());
  put("agents", agents_.size());
  put("config_mutations", config_.stats().events);
  put("config_before_missing", config_.stats().before_missing);
  put("config_snapshots", config_.snapshots().size());
  put("config_snapshots_evicted", config_.snapshots().evicted());
  const auto& ls = llm_.stats();
  put("http_streams", ls.streams_opened);
  put("http_streams_evicted", ls.streams_evicted);
  put("http_exchanges", ls.exchanges);
  put("llm_calls", ls.llm_calls);
  put("http_not_llm", ls.not_llm);
  put("http2_streams", ls.http2_streams);
  put("websockets", ls.websockets);
  put("rustls_streams_bound", ls.rebound_streams);
  put("tls_unobserved", stats_.tls_unobserved);
  put("tls_watch_evicted", watch_.evicted());
  const auto& budget = proto::DecodeBudget::global();
  put("decode_budget_bytes", budget.limit());
  put("decode_in_use_bytes", budget.in_use());
  put("decode_peak_bytes", budget.peak());
  put("decode_budget_refusals", budget.refusals());
  if (detect_) {  // the detectors' memory bound, and baselines not saved
    put("detection_state_entries", detect_->tracked());
    put("detection_save_errors", detect_->save_errors());
  }
  w.end_object();
  w.key("agents");
  w.begin_array();
  for (const auto& [id, t] : totals_) {
    w.begin_object();
    w.key("id");
    w.string(id);
    t.write(w);
    w.end_object();
  }
  w.end_array();
  if (extra) extra(w);
  emit(builder_.finish());
}

}  // namespace rein::pipeline
