#include "cli/run_command.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>

#include "llm/key_fingerprint.h"
#include "llm/price_table.h"
#include "loader/bpf_sensor.h"
#include "loader/tls_hooks.h"
#include "enforce/control_socket.h"
#include "enforce/enforcer.h"
#include "enforce/policy_compiler.h"
#include "policy/policy_parser.h"
#include "pipeline/sensor_pipeline.h"
#include "process/cgroup_resolver.h"
#include "sinks/line_file_sink.h"
#include "source/ring_source.h"

namespace rein::cli {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void on_signal(int) { g_stop.store(true); }
void on_hup(int) { g_reload.store(true); }

// What user-space decisions do to the world: signals, and the kernel's policy maps.
class BpfActuator : public enforce::Actuator {
 public:
  explicit BpfActuator(loader::BpfSensor& bpf) : bpf_(bpf) {}
  bool signal(uint32_t pid, int sig) override {
    return pid > 1 && ::kill(static_cast<pid_t>(pid), sig) == 0;
  }
  void block_llm(uint32_t root, uint32_t budget_plus1) override { report(bpf_.block_llm(root, budget_plus1)); }
  void add_llm_endpoint(const std::array<uint8_t, 16>& a, uint16_t port) override {
    report(bpf_.add_llm_endpoint(a, port));
  }
  void add_network_entry(const rein_net_key& k, const rein_rule& r) override {
    report(bpf_.add_network_entry(k, r));
  }

 private:
  void report(const Result<void>& r) {
    if (!r) fmt::print(stderr, "rein: policy: {}\n", r.error().message);
  }
  loader::BpfSensor& bpf_;
};

time_t mtime_of(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_mtime : 0;
}

int fail(const std::string& msg) {
  fmt::print(stderr, "rein: {}\n", msg);
  return 1;
}

std::vector<std::pair<std::string, uint64_t>> named(const std::array<uint64_t, REIN_CTR_MAX>& c) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (uint32_t i = 0; i < REIN_CTR_MAX; i++) out.emplace_back(loader::counter_name(i), c[i]);
  return out;
}
// The shipped price table: next to the binary when installed, else in the source tree.
std::string default_prices_path() {
  if (const char* env = getenv("REIN_PRICES")) return env;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = 0;
    std::string dir(self);
    dir = dir.substr(0, dir.rfind('/'));
    for (const auto& c : {dir + "/prices.json", dir + "/../share/rein/prices.json"})
      if (access(c.c_str(), R_OK) == 0) return c;
  }
  return std::string(REIN_SOURCE_DIR) + "/data/prices.json";
}
}  // namespace

const std::vector<DefaultAgent>& default_agents() {
  // Coding-agent CLIs as their official packages install them: `claude` is a link to the
  // native claude.exe (so is opencode's), codex's node wrapper starts the native `codex`,
  // and node CLIs run as `node .../node_modules/PACKAGE/...` when not started by name.
  static const std::vector<DefaultAgent> agents = {
      {false, "claude", "claude"},   {false, "claude.exe", "claude"},
      {false, "gemini", "gemini"},   {false, "codex", "codex"},
      {false, "aider", "aider"},     {false, "goose", "goose"},
      {false, "opencode", "opencode"}, {false, "opencode.exe", "opencode"},
      {false, "cursor-agent", "cursor-agent"}, {false, "amp", "amp"},
      {false, "crush", "crush"},     {false, "qwen", "qwen"},
      {false, "continue", "continue"}, {false, "cline", "cline"},
      {false, "openhands", "openhands"},
      {true, "@anthropic-ai/claude-code", "claude"}, {true, "opencode-ai", "opencode"},
      {true, "@openai/codex", "codex"}, {true, "@google/gemini-cli", "gemini"},
      {true, "@qwen-code/qwen-code", "qwen"}};
  return agents;
}

const std::vector<std::string>& default_llm_hosts() {
  static const std::vector<std::string> hosts = {
      "api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com",
      "aiplatform.googleapis.com", "*.openai.azure.com", "*.services.ai.azure.com",
      "*.cognitiveservices.azure.com", "api.mistral.ai", "api.groq.com", "api.deepseek.com",
      "api.x.ai", "openrouter.ai", "api.together.xyz", "api.together.ai", "api.cohere.com",
      "api.cohere.ai", "api.fireworks.ai", "api.perplexity.ai", "api.moonshot.ai",
      "dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com", "chatgpt.com"};
  return hosts;
}

int policy_check(const std::string& file) {
  std::string text;
  {
    FILE* f = fopen(file.c_str(), "r");
    if (!f) return fail(fmt::format("{}: {}", file, std::strerror(errno)));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && text.size() <= (2u << 20)) text.append(buf, n);
    fclose(f);
  }
  auto diags = policy::check_policy(text, file);
  for (const auto& d : diags) fmt::print("{}\n", d.to_string());
  if (!diags.empty()) return 1;
  auto p = policy::parse_policy(text, file);
  if (!p) return fail(p.error().message);
  auto k = enforce::compile_policy(*p);
  if (!k) return fail(k.error().message);
  fmt::print("{}: ok: {} agents, {} rules, {} allow-lists, {} budgets; kernel entries: {} file, "
             "{} exec, {} network\n",
             file, p->agents.size(), p->rules.size(), p->allow.size(), p->budgets.size(),
             k->file_prefixes.size() + k->file_basenames.size(), k->execs.size(), k->networks.size());
  for (const auto& note : k->user_space_notes) fmt::print("note: {}\n", note);
  return 0;
}

int control(const std::string& socket, const std::string& request) {
  auto reply = enforce::control_request(socket, request);
  if (!reply) return fail(reply.error().message);
  fmt::print("{}\n", *reply);
  return reply->find(R"("ok":true)") != std::string::npos ? 0 : 1;
}

int run(const RunOptions& o) {
  if (auto ok = loader::preflight(); !ok) return fail(ok.error().message);
  // Every TLS hook in a tracked process holds a perf event fd: lift the soft limit to the
  // hard one so a busy agent tree cannot exhaust the default 1024.
  struct rlimit nofile {};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::vector<pipeline::Selector> sels;
  for (const auto& v : o.exe) sels.push_back({pipeline::SelectorKind::Exe, v, {}});
  for (const auto& v : o.cmdline) sels.push_back({pipeline::SelectorKind::Cmdline, v, {}});
  for (const auto& v : o.cgroup) sels.push_back({pipeline::SelectorKind::Cgroup, v, {}});
  for (const auto& v : o.pid) sels.push_back({pipeline::SelectorKind::Pid, v, {}});
  for (const auto& v : o.script) sels.push_back({pipeline::SelectorKind::Script, v, {}});
  std::optional<policy::Policy> pol;
  if (!o.policy.empty()) {
    auto loaded = policy::load_policy_file(o.policy);
    if (!loaded) return fail(loaded.error().message);
    pol = std::move(*loaded);
    for (uint32_t i = 0; i < pol->agents.size(); i++) {  // policy agents are selectors too
      const auto& a = pol->agents[i];
      for (const auto& e : a.exe) sels.push_back({pipeline::SelectorKind::Exe, e, a.name, i});
      for (const auto& c : a.cmdline) sels.push_back({pipeline::SelectorKind::Cmdline, c.source(), a.name, i});
      for (const auto& c : a.cgroup) sels.push_back({pipeline::SelectorKind::Cgroup, c, a.name, i});
      for (auto p : a.pid) sels.push_back({pipeline::SelectorKind::Pid, std::to_string(p), a.name, i});
    }
  }
  bool defaults = sels.empty() && !o.no_default_agents;
  if (defaults)
    for (const auto& a : default_agents())
      sels.push_back({a.script ? pipeline::SelectorKind::Script : pipeline::SelectorKind::Exe,
                      a.value, a.name});
  auto selectors = pipeline::SelectorSet::build(sels);
  if (!selectors) return fail(selectors.error().message);

  auto cgroups = process::CgroupResolver::create();
  if (!cgroups) fmt::print(stderr, "rein: degraded: {} (cgroup paths and --agent-cgroup unavailable)\n",
                           cgroups.error().message);
  process::CgroupResolver* cg = cgroups ? &*cgroups : nullptr;

  // cgroup selectors become kernel keys (cgroup ids) before anything attaches
  std::vector<std::pair<uint64_t, uint32_t>> cgroup_keys;
  for (uint32_t i = 0; i < selectors->items().size(); i++) {
    const auto& s = selectors->items()[i];
    if (s.kind != pipeline::SelectorKind::Cgroup) continue;
    if (!cg) return fail(fmt::format("--agent-cgroup {}: no cgroup v2 mount", s.value));
    auto id = cg->id_for_path(s.value);
    if (!id) return fail(fmt::format("--agent-cgroup {}: no such cgroup under {}", s.value,
                                     cg->mount_point()));
    cgroup_keys.emplace_back(*id, i);
  }

  auto prices = llm::PriceTable::load(o.prices.empty() ? default_prices_path() : o.prices,
                                     o.prices_override);
  if (!prices) return fail(prices.error().message);
  if (mkdir(o.state_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(fmt::format("--state-dir {}: {}", o.state_dir, std::strerror(errno)));
  auto fingerprinter = llm::Fingerprinter::from_key_file(o.state_dir + "/fingerprint.key");
  if (!fingerprinter) return fail(fingerprinter.error().message);

  auto sink = sinks::LineFileSink::open(o.output);
  if (!sink) return fail(sink.error().message);

  auto sensor = loader::BpfSensor::load(o.ring_mib * 1024 * 1024);
  if (!sensor) return fail(sensor.error().message);
  auto& bpf = **sensor;
  bpf.set_self(uint32_t(getpid()));
  for (auto [hash, idx] : selectors->exe_hashes())
    if (auto ok = bpf.add_exe_selector(hash, idx); !ok) return fail(ok.error().message);
  for (auto [id, idx] : cgroup_keys)
    if (auto ok = bpf.add_cgroup_selector(id, idx); !ok) return fail(ok.error().message);
  bpf.set_exec_candidates(selectors->has_cmdline());
  bpf.set_script_selectors(selectors->has_script());
  const bool autodiscover = !o.no_autodiscover && (!pol || pol->autodiscover);
  const bool system_hooks = o.tls_hooks == "system";
  // With per-process hooks, discovery comes from what the kernel sees anyway (the TLS
  // server name, a plain-HTTP request); system-wide hooks also peek at every TLS write.
  bpf.set_autodiscover(autodiscover && system_hooks);
  bpf.set_discover_connect(autodiscover);
  for (const auto& h : default_llm_hosts()) {
    bool below = h.rfind("*.", 0) == 0;
    if (auto ok = bpf.add_llm_host(pipeline::fnv1a64(below ? h.substr(2) : h), below); !ok)
      return fail(ok.error().message);
  }
  for (uint32_t i = 0; i < selectors->items().size(); i++)
    if (auto ok = bpf.set_selector_class(i, selectors->items()[i].agent_class); !ok)
      return fail(ok.error().message);

  BpfActuator actuator(bpf);
  std::unique_ptr<enforce::Enforcer> enforcer;
  auto install_policy = [&](policy::Policy p) -> Result<void> {
    auto compiled = enforce::compile_policy(p);
    if (!compiled) return compiled.error();
    auto n = bpf.apply_policy(*compiled);
    if (!n) return n.error();
    fmt::print(stderr, "rein: policy {}: {} rules, {} allow-lists, {} budgets; {} kernel entries\n",
               p.file, p.rules.size(), p.allow.size(), p.budgets.size(), *n);
    for (const auto& note : compiled->user_space_notes) fmt::print(stderr, "rein: policy: {}\n", note);
    auto next = std::make_unique<enforce::Enforcer>(std::move(p), actuator);
    if (enforcer) next->adopt(std::move(*enforcer));  // paused processes keep their holds
    enforcer = std::move(next);
    return {};
  };
  if (pol) {
    if (auto ok = install_policy(std::move(*pol)); !ok) return fail(ok.error().message);
  }
  bpf.set_capture_plain(!o.no_plain_http);

  pipeline::SensorPipeline pipe(
      std::move(*selectors), **sink,
      [&bpf](uint32_t tgid, uint32_t root, uint32_t sel, uint64_t start) {
        return bpf.track(tgid, root, sel, start);
      },
      cg, pipeline::LlmConfig{&*prices, &*fingerprinter});
  pipe.set_enforcer(enforcer.get());

  auto report = bpf.attach(cg ? cg->mount_point() : std::string());
  if (!report) return fail(report.error().message);
  for (const auto& h : *report) {
    if (h.attached)
      fmt::print(stderr, "rein: attached   {:28} ({})\n", h.hook, h.program);
    else
      fmt::print(stderr, "rein: unavailable {:27} {} -> without it: no {}\n", h.hook, h.error,
                 h.feature);
  }

  loader::TlsHooks tls(bpf.tls_programs(),
                      system_hooks ? loader::TlsHooks::Mode::SystemWide : loader::TlsHooks::Mode::PerProcess,
                      o.state_dir + "/tls-plans.cache");
  if (system_hooks)
    tls.attach_system_wide({"/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
                            "/usr/lib/x86_64-linux-gnu/libgnutls.so.30", "/usr/lib64/libssl.so.3",
                            "/usr/lib/libssl.so.3", "/usr/bin/node", "/usr/local/bin/node"});
  auto report_tls = [&tls]() {
    for (const auto& line : tls.take_log()) fmt::print(stderr, "rein: {}\n", line);
  };
  fmt::print(stderr, "rein: TLS hooks: {}; {}\n",
             system_hooks ? "system wide (libssl, GnuTLS, node for every process)"
                          : "per tracked process (untracked processes are not hooked)",
             bpf.tls_programs().multi ? "uprobe_multi links"
                                      : "per-offset perf uprobes (no uprobe_multi in this kernel: "
                                        "removing hooks of exited agents delays new ones)");
  pipe.set_tls_coverage([&tls](uint32_t pid) {
    auto c = tls.coverage(pid);
    return pipeline::TlsCoverage{std::move(c.hooked), std::move(c.undecodable), c.pending, c.hooked_at_ns};
  });

  // Records that change where TLS hooks are needed go to the hooks right after the pipeline
  // has seen them (it decides which execs are tracked: argv selectors match in user space).
  auto ring = source::RingSource::open(bpf.ring_fd(), [&](std::span<const uint8_t> b) {
    pipe.on_record(b);
    if (b.size() < sizeof(rein_hdr)) return;
    rein_hdr h{};
    std::memcpy(&h, b.data(), sizeof(h));
    uint64_t now = h.ts_ns;
    switch (h.kind) {
      case REIN_REC_EXEC:
        // h.agent: tracked at the exec, even if the process is gone by now
        if (h.agent || bpf.is_tracked(h.tgid)) tls.on_process(h.tgid, now);
        break;
      case REIN_REC_FORK:
        if (b.size() >= sizeof(rein_fork)) {
          rein_fork f{};
          std::memcpy(&f, b.data(), sizeof(f));
          tls.on_fork(h.tgid, f.ppid, now);
        }
        break;
      case REIN_REC_EXIT:
        tls.on_exit(h.tgid);
        break;
      case REIN_REC_TLS_LIB:
        if (auto r = decode::decode_record(b); r && std::holds_alternative<decode::TlsLibRec>(*r))
          tls.on_library(h.tgid, std::get<decode::TlsLibRec>(*r).path, now);
        break;
      default:
        break;
    }
  });
  if (!ring) return fail(ring.error().message);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_hup;
  sigaction(SIGHUP, &hup, nullptr);

  std::optional<enforce::ControlServer> control;
  if (enforcer) {
    auto srv = enforce::ControlServer::listen(o.control_socket);
    if (!srv) return fail(srv.error().message);
    control.emplace(std::move(*srv));
  }
  time_t policy_mtime = o.policy.empty() ? 0 : mtime_of(o.policy);
  // A new policy is parsed and compiled first; a bad one leaves the running one in force.
  auto reload = [&]() {
    auto loaded = policy::load_policy_file(o.policy);
    Result<void> ok = loaded ? install_policy(std::move(*loaded)) : Result<void>(loaded.error());
    if (ok) pipe.set_enforcer(enforcer.get());
    pipe.emit_health(pipeline::Clock::boot_now_ns(), ok ? "policy_reloaded" : "policy_rejected",
                     named(bpf.counters()), [&](sinks::JsonWriter& w) {
                       w.key("policy");
                       w.string(o.policy);
                       w.key("error");
                       if (ok) w.null(); else w.string(ok.error().message);
                     });
    if (!ok)
      fmt::print(stderr, "rein: policy {} not reloaded, the previous one stays in force:\n{}\n",
                 o.policy, ok.error().message);
  };
  signal(SIGPIPE, SIG_IGN);

  auto hooks_json = [&](sinks::JsonWriter& w) {
    w.key("hooks");
    w.begin_array();
    for (const auto& h : *report) {
      w.begin_object();
      w.key("hook");
      w.string(h.hook);
      w.key("attached");
      w.boolean(h.attached);
      w.key("error");
      if (h.attached) w.null(); else w.string(h.error);
      w.end_object();
    }
    w.end_array();
    w.key("default_agents");
    w.boolean(defaults);
    w.key("tls_hooks");
    w.string(system_hooks ? "system" : "process");
    w.key("autodiscover");
    w.boolean(!o.no_autodiscover && (!enforcer || enforcer->policy().autodiscover));
    w.key("policy");
    if (o.policy.empty()) w.null(); else w.string(o.policy);
  };
  pipe.emit_health(pipeline::Clock::boot_now_ns(), "started", named(bpf.counters()), hooks_json);
  size_t adopted = pipe.adopt_existing();
  for (uint32_t pid : pipe.table().pids())
    if (bpf.is_tracked(pid)) tls.on_process(pid, pipeline::Clock::boot_now_ns());
  (*sink)->flush();
  fmt::print(stderr, "rein: ready ({} running processes adopted{})\n", adopted,
             defaults ? ", default agent selectors" : "");
  fflush(stderr);

  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto next_health = start + std::chrono::duration<double>(o.health_interval_s);
  int rc = 0;
  while (!g_stop.load()) {
    // The kernel wakes us only for a full batch or an urgent record; poll's timeout plus a
    // drain bound the latency of everything else (poll consumes signalled rings only).
    // a process waits for its TLS hooks: come back within milliseconds, not a poll period
    auto n = ring->poll(tls.attach_pending() ? 2 : 50);
    if (n) n = ring->drain();
    if (!n) {
      rc = fail(n.error().message);
      break;
    }
    auto now = clock::now();
    uint64_t boot = pipeline::Clock::boot_now_ns();
    pipe.tick(boot);
    if (control) control->serve_pending([&pipe](const std::string& req) { return pipe.control(req); });
    // SIGHUP: reopen --output (log rotation) and reload the policy
    bool hup = g_reload.exchange(false);
    if (hup)
      if (auto ok = (*sink)->reopen(); !ok) fmt::print(stderr, "rein: {}\n", ok.error().message);
    if (!o.policy.empty()) {
      time_t m = mtime_of(o.policy);
      if (hup || (m && m != policy_mtime)) {
        policy_mtime = m;
        reload();
      }
    }
    tls.poll(boot);
    report_tls();
    if (o.health_interval_s > 0 && now >= next_health) {
      pipe.emit_health(boot, "running", named(bpf.counters()));
      next_health = now + std::chrono::duration<double>(o.health_interval_s);
    }
    (*sink)->flush();
    if (o.duration_s > 0 && now - start >= std::chrono::duration<double>(o.duration_s)) break;
  }
  (void)ring->drain();
  pipe.finish(pipeline::Clock::boot_now_ns());
  pipe.emit_health(pipeline::Clock::boot_now_ns(), "stopped", named(bpf.counters()));
  (*sink)->flush();
  return rc;
}

}  // namespace rein::cli
