#include "pipeline/sensor_pipeline.h"

#include <errno.h>
#include <sys/socket.h>

#include <cstdlib>

#include "pipeline/agent_events.h"
#include "pipeline/file_events.h"
#include "pipeline/health_event.h"
#include "pipeline/llm_call_event.h"
#include "pipeline/net_events.h"
#include "pipeline/tamper_event.h"
#include "pipeline/observed_llm_call.h"
#include "pipeline/proc_adoption.h"
#include "pipeline/process_events.h"
#include "pipeline/unobserved_event.h"
#include "proto/dns.h"
#include "proto/tls_hello.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

SensorPipeline::SensorPipeline(SelectorSet selectors, LineSink& sink, TrackFn track,
                               process::CgroupResolver* cgroups, LlmConfig llm)
    : sink_(sink),
      track_(std::move(track)),
      state_(std::move(selectors), cgroups),
      llm_(llm.prices, llm.fingerprinter,
           [this](const CallContext& ctx, const llm::LlmCall& call) { on_llm_call(ctx, call); }) {}

void SensorPipeline::on_record(std::span<const uint8_t> bytes) {
  state_.stats.records++;
  auto rec = decode::decode_record(bytes);
  if (!rec) {
    state_.stats.decode_errors++;
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
            if (r.flags & REIN_DF_NEW_CONN) llm_.on_new_connection(r.h.tgid, r.conn, r.h.ts_ns);
            on_tls_hello(r);
          } else {
            llm_.on_data(r);
            if (r.source != REIN_SRC_SOCKET)
              watch_.on_plaintext(r.h.tgid, r.fd, r.peer_address, r.peer_port,
                                  r.flags & REIN_DF_LATE, r.h.ts_ns);
          }
        }
        else if constexpr (std::is_same_v<T, decode::PolicyNetRec>)
          policy_.on_policy_net(r, state_.hostname(r.address));
        else if constexpr (std::is_same_v<T, decode::BindRec>) llm_.on_bind(r);
        else if constexpr (std::is_same_v<T, decode::MechanismRec>) on_mechanism(r);
      },
      *rec);
}

void SensorPipeline::emit(const std::string& line) {
  sink_.write_line(line);
  state_.stats.events++;
  if (state_.observer) state_.observer->on_event(event_type_of(line));
}

void SensorPipeline::finish(uint64_t now) {
  for (const auto& c : connect_hold_.expire(UINT64_MAX)) write_connect(c);
  llm_.close_all(now);
  watch_.finish(now);
}

void SensorPipeline::set_enforcer(enforce::Enforcer* e) {
  policy_.set_enforcer(e);
  config_.configure(e ? &e->policy().config_files : nullptr);
  if (!e) {
    llm_.set_request_hook({});
    return;
  }
  llm_.set_request_hook([this](const CallContext& ctx, const proto::HttpRequest& req) {
    policy_.on_http_request(ctx, req);
  });
}

std::string SensorPipeline::control(const std::string& request) { return policy_.control(request); }

void SensorPipeline::set_detections(detect::DetectionEngine* d) {
  policy_.set_detections(d);
  if (d) d->set_time_format([this](uint64_t ts) { return clock_.rfc3339(ts); });
  llm_.set_exchange_hook(!d ? LlmStage::OnExchange{} : [this](const CallContext& ctx,
                                                              const proto::HttpExchange& ex,
                                                              bool is_llm) {
    policy_.on_http_exchange(ctx, ex, is_llm);
  });
  llm_.set_body_observer(d ? d->body_observer() : nullptr);
}

// Undecoded TLS of an agent: who, which peer and name, which TLS code, and why.
void SensorPipeline::on_unobserved(const TlsConnection& c, uint64_t now, bool partial) {
  state_.stats.tls_unobserved++;
  TlsCoverage cov = coverage_ ? coverage_(c.tgid) : TlsCoverage{};
  auto v = state_.view(c.tgid);
  const uint32_t root = v.info ? v.info->agent_root : 0;
  emit(unobserved_event(builder_, v, state_.agent_for(root), c, cov, bool(coverage_), partial,
                        now));
  // Hooked library, settled hooks, and not one plaintext byte: the handshake failed.
  if (!partial && !cov.hooked.empty() && !cov.pending) policy_.detect_tls_failure(c, root, now);
}

// TLS we may not decode (Go, rustls, HTTP/2) still shows: who, which peer, which name.
void SensorPipeline::on_tls_hello(const decode::DataRec& r) {
  auto hello = proto::parse_tls_client_hello(r.data);
  if (!hello) return;
  if (!hello->sni.empty() && !r.peer_address.empty())
    state_.learn_hostname(r.peer_address, hello->sni);
  if (r.h.agent || state_.table.find(r.h.tgid)) {
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
  auto v = state_.view(r.h.tgid);
  emit(tls_event(builder_, v, state_.agent_for(r.h.agent), r, *hello));
  policy_.on_tls_sni(r, hello->sni);
}

void SensorPipeline::on_llm_call(const CallContext& ctx, const llm::LlmCall& call) {
  auto v = state_.view(ctx.tgid);
  const auto* agent = state_.agent_for(ctx.agent ? ctx.agent : (v.info ? v.info->agent_root : 0));
  emit(llm_call_event(builder_, v, agent, ctx, call,
                      ctx.peer_address.empty() ? nullptr : state_.hostname(ctx.peer_address)));
  if (state_.observer) state_.observer->on_llm_call(agent, call);
  if (agent) state_.totals[agent->id].add(call);
  if (agent) config_.on_llm_call(agent->id, ctx.ts_ns, call);
  if (llm_observer_) tell_llm_observer(*llm_observer_, clock_, builder_, v, agent, ctx, call);
  policy_.on_llm_call(ctx, agent, call);
}

void SensorPipeline::emit_agent_summary(uint32_t root, uint64_t ts) {
  const auto* agent = state_.agent_for(root);
  if (!agent) return;
  auto it = state_.totals.find(agent->id);
  auto v = state_.view(root);
  emit(agent_summary_event(builder_, ts, v, agent,
                           it != state_.totals.end() ? it->second : AgentTotals{}));
  if (state_.observer) state_.observer->on_agent_ended(*agent);
  if (it != state_.totals.end()) state_.totals.erase(it);
}

void SensorPipeline::emit_exec(uint32_t pid, uint64_t ts, bool existing, uint32_t flags) {
  auto v = state_.view(pid);
  emit(exec_event(builder_, ts, v, state_.agent_for(v.info ? v.info->agent_root : 0), existing,
                  flags));
  if (flags & REIN_F_NEW_AGENT) config_events_.on_agent_start(pid, ts, existing, v);
}

void SensorPipeline::on_exec(const decode::ExecRec& r) {
  uint32_t agent = r.h.agent;
  uint32_t flags = r.flags;
  uint32_t selector = r.selector;
  if (r.flags & REIN_F_CANDIDATE) {
    // Untracked exec sent for argv matching. From here on the kernel tracks it and its
    // future children; what it did between exec and now was not seen (documented window).
    auto m = state_.selectors.match_cmdline(r.args);
    if (!m) return;
    selector = *m;
    state_.stats.candidates_matched++;
    if (auto ok = track_ ? track_(r.h.tgid, r.h.tgid, selector, r.h.ts_ns) : Result<void>(); !ok)
      state_.stats.track_failed++;
    agent = r.h.tgid;
    flags |= REIN_F_NEW_AGENT;
  }
  if (flags & REIN_F_NEW_AGENT) {
    state_.start_agent(r.h.tgid, r.h.ts_ns, selector, r.comm);
    state_.discovered[r.h.tgid] = selector == UINT32_MAX;
  }
  uint64_t start = state_.agent_start_of(agent);
  state_.table.on_exec(r.h.tgid, r.ppid, r.h.uid, r.comm, r.exe, r.args, r.cwd, r.cgroup_id,
                       r.h.ts_ns, agent, start);
  if (flags & REIN_F_CONTROLLED) {  // a running process, not an exec: the agent took it over
    auto v = state_.view(r.h.tgid);
    emit(controlled_event(builder_, r.h.ts_ns, v, state_.agent_for(agent), flags, r.selector,
                          r.cwd));
    return;
  }
  if (flags & REIN_F_DISCOVERED) {  // a running process, not an exec: it sent an LLM request
    auto v = state_.view(r.h.tgid);
    emit(discovered_event(builder_, r.h.ts_ns, v, state_.agent_for(agent), flags, r.cwd));
    return;
  }
  emit_exec(r.h.tgid, r.h.ts_ns, false, flags);
  policy_.detect_exec(r, agent);
  policy_.on_exec(r, agent);
}

void SensorPipeline::on_fork(const decode::ForkRec& r) {
  uint64_t start = state_.agent_start_of(r.h.agent);
  state_.table.on_fork(r.h.tgid, r.ppid, r.comm, r.h.ts_ns, r.h.agent, start);
  auto v = state_.view(r.h.tgid);
  emit(fork_event(builder_, r.h.ts_ns, v, state_.agent_for(r.h.agent), r.ppid));
}

void SensorPipeline::on_exit(const decode::ExitRec& r) {
  // the kernel sends an outcome before the exit when there was one
  for (const auto& c : connect_hold_.release_process(r.h.tgid)) write_connect(c);
  llm_.on_process_exit(r.h.tgid, r.h.ts_ns);  // its streams end: deliver their last calls
  watch_.on_exit(r.h.tgid, r.h.ts_ns);
  policy_.on_process_exit(r.h.tgid);
  state_.table.on_exit(r.h.tgid, int32_t(r.status), r.h.ts_ns);
  auto v = state_.view(r.h.tgid);
  emit(exit_event(builder_, r.h.ts_ns, v, state_.agent_for(r.h.agent), r.status));
  policy_.detect_exit(r);
  if (r.h.agent == r.h.tgid) emit_agent_summary(r.h.tgid, r.h.ts_ns);
  state_.forget_opener(r.h.tgid);
}

void SensorPipeline::file_event(const decode::Header& h, std::string_view op,
                                const std::string& path, int32_t result,
                                const std::function<void(sinks::JsonWriter&)>& extra) {
  auto v = state_.view(h.tgid);
  emit(file_mutation_event(builder_, h, v, state_.agent_for(h.agent), op, path, result, extra));
  policy_.detect_file(h, path, op, result);
}

void SensorPipeline::on_file(const decode::FileRec& r) {
  std::string path = clean_path(r.path, r.flags);
  std::string path2 =
      (r.op == REIN_OP_RENAME || r.op == REIN_OP_LINK) ? clean_path(r.path2, 0) : "";
  std::optional<FileViews> real, real2;
  policy_.resolve_real_paths(r, path, path2, real, real2);
  const std::string& shown = real ? real->path : path;
  const std::string& shown2 = real2 ? real2->path : path2;
  file_event(r.h, op_name(r.op), shown, r.result, [&](sinks::JsonWriter& w) {
    write_file_op_fields(w, r, path, path2, shown, shown2);
  });
  if (r.result == 0 && r.op != REIN_OP_MKDIR && r.op != REIN_OP_RMDIR) {
    const bool moved = r.op == REIN_OP_RENAME || r.op == REIN_OP_LINK;
    config_events_.on_change(r.h, op_name(r.op), moved ? shown2 : shown,
                             r.op == REIN_OP_RENAME ? shown : "");
  }
  policy_.on_file(r, op_name(r.op), path, path2, real, real2);
}

void SensorPipeline::on_mechanism(const decode::MechanismRec& r) {
  auto v = state_.view(r.h.tgid);
  const auto* agent = state_.agent_for(r.h.agent);
  emit(r.mechanism == REIN_MECH_RAW_SOCKET       ? raw_socket_event(builder_, v, agent, r)
       : r.mechanism == REIN_MECH_SENSOR_TAMPER ? sensor_tamper_event(builder_, v, agent, r)
                                                : mechanism_event(builder_, v, agent, r));
  policy_.on_mechanism(r);
}

void SensorPipeline::on_file_open(const decode::FileOpenRec& r) {
  auto extra = [&](sinks::JsonWriter& w) { write_open_fields(w, r); };
  if (r.flags & REIN_F_CREATED) file_event(r.h, "create", r.path, 0, extra);
  if (r.flags & REIN_F_TRUNCATED) file_event(r.h, "truncate", r.path, 0, extra);
  if (r.flags & (REIN_F_CREATED | REIN_F_TRUNCATED)) {
    const char* op = (r.flags & REIN_F_CREATED) ? "create" : "truncate";
    if (r.flags & REIN_F_WRITABLE) config_.on_open(r.file_id, op);  // reported at the close
    else config_events_.on_change(r.h, op, r.path, "");
  }
  policy_.on_file_open(r);
  if (r.flags & REIN_F_WRITABLE) state_.remember_open(r.file_id, r.path, r.h.tgid);
}

void SensorPipeline::on_file_close(const decode::FileCloseRec& r) {
  auto taken = state_.take_open(r.file_id);
  if (!taken) {
    if (r.writes) state_.stats.close_without_open++;
    return;
  }
  const std::string path = std::move(*taken);
  const std::string config_op = config_.on_close(r.file_id, r.writes);
  if (!r.writes) {
    if (!config_op.empty()) config_events_.on_change(r.h, config_op, path, "");
    return;
  }
  file_event(r.h, "write", path, 0, [&](sinks::JsonWriter& w) {
    w.key("bytes");
    w.number(r.bytes);
    w.key("writes");
    w.number(uint64_t(r.writes));
  });
  config_events_.on_change(r.h, config_op, path, "");
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
  if (in_progress) (c.outcome ? state_.stats.connect_outcomes : state_.stats.connect_no_outcome)++;
  auto v = state_.view(r.h.tgid);
  const std::string* host = r.address.empty() ? nullptr : state_.hostname(r.address);
  emit(connect_event(builder_, v, state_.agent_for(r.h.agent), c, host));
  policy_.detect_connect(c, host);
}

void SensorPipeline::on_dns(const decode::DnsRec& r) {
  auto msg = proto::parse_dns(r.payload);
  if (!msg || msg->questions.empty()) {
    state_.stats.dns_unparsed++;
    return;
  }
  auto paired = state_.pair_dns(r, *msg);
  if (!paired) return;
  const PendingDns& q = *paired;
  auto addrs = state_.learn_hostnames(q.name, *msg, !r.untrusted);
  const auto* p = state_.table.find(q.tgid);
  const uint32_t root = p ? p->agent_root : r.h.agent;
  policy_.on_dns_answer(q.tgid, root, q.name, addrs);
  auto v = state_.view(q.tgid);
  emit(dns_answer_event(builder_, r.h.ts_ns, v, state_.agent_for(r.h.agent), q, *msg,
                        msg->incomplete || r.orig_len > r.payload.size(), !r.untrusted));
  policy_.detect_dns(r.h.ts_ns, q.tgid, root, q.name, msg->rcode);
}

void SensorPipeline::tick(uint64_t now) {
  for (const auto& c : connect_hold_.expire(now)) write_connect(c);
  for (const auto& q : state_.expire_dns(now)) {
    auto v = state_.view(q.tgid);
    emit(dns_timeout_event(builder_, v, state_.agent_for(v.info ? v.info->agent_root : 0), q));
  }
  state_.table.gc(now);
  llm_.expire(now);
  watch_.tick(now);
  policy_.tick(now);
}

size_t SensorPipeline::adopt_existing(const std::string& proc_root) {
  return adopt_existing(process::ProcDirSource(proc_root));
}

size_t SensorPipeline::adopt_existing(const process::ProcSource& proc) {
  return adopt_from_proc(
      state_, track_, proc,
      [this](uint32_t pid, uint64_t now, uint32_t flags) { emit_exec(pid, now, true, flags); });
}

void SensorPipeline::emit_health(uint64_t now, std::string_view state,
                                 const std::vector<std::pair<std::string, uint64_t>>& kernel,
                                 const std::function<void(sinks::JsonWriter&)>& extra) {
  ProcessView none;
  none.pid = state_.self_pid();
  auto failed = state_.ask("health.path_resolve_failed", [this] {
    return std::optional<std::string>(std::to_string(state_.file_views.failures()));
  });
  HealthSources src{failed ? std::strtoull(failed->c_str(), nullptr, 10) : 0,
                    sink_.write_errors(),
                    llm_observer_ ? llm_observer_->write_errors() : 0,
                    config_,
                    llm_.stats(),
                    watch_.evicted(),
                    policy_.detections()};
  emit(health_event(builder_, now, none, state, kernel, state_, src, extra));
}

}  // namespace rein::pipeline
