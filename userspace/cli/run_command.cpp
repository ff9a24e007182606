#include "cli/run_command.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <fmt/format.h>

#include "binary/x86_decode.h"
#include "cli/bpf_actuator.h"
#include "cli/health_extras.h"
#include "cli/capture_setup.h"
#include "cli/event_subscribers.h"
#include "cli/metrics_server.h"
#include "cli/prices_path.h"
#include "detect/detection_engine.h"
#include "enforce/hold_store.h"
#include "llm/key_fingerprint.h"
#include "llm/price_table.h"
#include "loader/bpf_sensor.h"
#include "ledger/usage_ledger.h"
#include "loader/tls_hooks.h"
#include "metrics/listen_address.h"
#include "metrics/metrics_feed.h"
#include "metrics/pod_llm_metrics.h"
#include "enforce/control_socket.h"
#include "enforce/enforcer.h"
#include "enforce/policy_compiler.h"
#include "enforce/rule_shadowing.h"
#include "policy/policy_parser.h"
#include "pipeline/capture_detections.h"
#include "pipeline/capture_inputs.h"
#include "pipeline/llm_call_observers.h"
#include "pipeline/sensor_pipeline.h"
#include "process/cgroup_resolver.h"
#include "process/k8s_identity.h"
#include "process/proc_reader.h"
#include "process/resolv_conf.h"
#include "proto/decode_budget.h"
#include "sinks/line_file_sink.h"
#include "sinks/subscriber_fanout.h"
#include "source/cipher_records.h"
#include "source/ring_source.h"

namespace rein::cli {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void on_signal(int) { g_stop.store(true); }
void on_hup(int) { g_reload.store(true); }

// What says the policy file changed: its inode (an editor's or a ConfigMap's rename), size
// and modification time to the nanosecond. Whole seconds missed a write that finished in the
// second a reload caught it half-written (truncated, empty): the finished file was never read.
struct FileStamp {
  ino_t ino = 0;
  off_t size = -1;
  int64_t sec = 0, nsec = 0;
  bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec), int64_t(st.st_mtim.tv_nsec)};
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
  auto read = policy::read_policy_text(file);  // the same checks as `rein run --policy`
  if (!read) {
    fmt::print("{}\n", read.error().message);
    return 1;
  }
  const std::string& text = *read;
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
  for (const auto& w : enforce::unreachable_rules(*p)) fmt::print("{}\n", w);
  return 0;
}

int control(const std::string& socket, const std::string& request) {
  auto reply = enforce::control_request(socket, request);
  if (!reply) return fail(reply.error().message);
  fmt::print("{}\n", *reply);
  return reply->find(R"("ok":true)") != std::string::npos ? 0 : 1;
}

int run(const RunOptions& o) {
  // Before anything loads: a bad or busy --metrics-addr is the first thing reported.
  std::unique_ptr<metrics::MetricsFeed> metrics_feed;
  std::unique_ptr<MetricsServer> metrics_server;  // declared after the feed: stops first
  if (!o.metrics_addr.empty()) {
    auto addr = metrics::parse_listen_address(o.metrics_addr);
    if (!addr) return fail(addr.error().message);
    metrics_feed = std::make_unique<metrics::MetricsFeed>(metrics::FeedOptions{
        REIN_VERSION, o.metrics_max_label_values, o.metrics_max_label_values});
    auto srv = MetricsServer::start(*addr, metrics_feed->registry());
    if (!srv) return fail(srv.error().message);
    metrics_server = std::move(*srv);
  }
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
  // Holds an earlier run left open (it was killed): their processes must not stay stopped.
  size_t unreadable = 0;
  auto leftovers = enforce::resolve_leftover_holds(o.state_dir + "/holds", &unreadable);
  for (const auto& l : leftovers)
    fmt::print(stderr, "rein: hold of pid {} ({}) from an earlier run: {}\n", l.hold.pid,
               l.hold.rule, l.detail);
  if (unreadable)
    fmt::print(stderr,
               "rein: {}/holds: {} unreadable line(s) from an earlier run, not acted on: a process "
               "that run held may still be stopped (state T in ps)\n",
               o.state_dir, unreadable);
  auto fingerprinter = llm::Fingerprinter::from_key_file(o.state_dir + "/fingerprint.key");
  if (!fingerprinter) return fail(fingerprinter.error().message);
  // --capture: the journal writer (never blocks; drops are counted in its stats()). Declared
  // before the pipeline so it outlives whatever appends to it; its destructor closes the
  // last segment.
  std::unique_ptr<capture::CaptureWriter> capture_writer;
  if (!o.capture_dir.empty()) {
    auto w = open_run_capture(o);
    if (!w) return fail(w.error().message);
    capture_writer = std::move(*w);
    fmt::print(stderr, "rein: capture to {} (key in {})\n", o.capture_dir, o.state_dir);
  }

  std::unique_ptr<ledger::UsageLedger> usage_ledger;
  if (!o.ledger.empty()) {
    ledger::UsageLedger::Options lo;
    lo.path = o.ledger;
    lo.retention_days = o.ledger_retention_days;
    auto l = ledger::UsageLedger::open(lo);
    if (!l) return fail(l.error().message);
    usage_ledger = std::move(*l);
  }
  auto sink = sinks::LineFileSink::open(o.output);
  if (!sink) return fail(sink.error().message);
  sinks::SubscriberFanout fanout(**sink);  // the same lines to `rein top --socket` clients

  auto sensor = loader::BpfSensor::load(o.ring_mib * 1024 * 1024, o.control_ring_mib * 1024 * 1024);
  if (!sensor) return fail(sensor.error().message);
  auto& bpf = **sensor;
  bpf.set_self(uint32_t(getpid()));
  for (auto [hash, idx] : selectors->exe_hashes())
    if (auto ok = bpf.add_exe_selector(hash, idx); !ok) return fail(ok.error().message);
  for (auto [id, idx] : cgroup_keys)
    if (auto ok = bpf.add_cgroup_selector(id, idx); !ok) return fail(ok.error().message);
  bpf.set_track_quota(o.track_quota);
  // Only these resolvers' answers teach addresses to host-name rules (bpf/dns_trust.bpf.h).
  std::vector<process::ResolverAddr> resolvers;
  if (auto text = process::read_file_bounded("/etc/resolv.conf", process::kMaxSmallProcFileBytes))
    resolvers = process::parse_resolv_conf(*text);
  for (const auto& r : o.dns_resolvers) {
    auto a = process::parse_resolver_address(r);
    if (!a) return fail(fmt::format("--dns-resolver {}: not an IPv4 or IPv6 address", r));
    resolvers.push_back(*a);
  }
  // Each address once (the kernel map holds 64): containers often share their resolver.
  std::set<process::ResolverAddr> trusted_resolvers;
  auto trust = [&](const process::ResolverAddr& a, std::string_view why) -> Result<void> {
    if (trusted_resolvers.count(a)) return {};
    if (auto ok = bpf.add_dns_resolver(a, 53); !ok) return ok;
    trusted_resolvers.insert(a);
    fmt::print(stderr, "rein: DNS answers teach host rules from {} ({})\n", process::resolver_text(a), why);
    return {};
  };
  for (const auto& a : resolvers)
    if (auto ok = trust(a, "resolv.conf or --dns-resolver"); !ok) return fail(ok.error().message);
  if (resolvers.empty())
    fmt::print(stderr, "rein: no DNS resolver in /etc/resolv.conf: host rules learn from none\n");
  process::NamespaceResolvers ns_resolvers("/proc", process::mount_ns_of("/proc/self/ns/mnt"));
  bpf.set_exec_candidates(selectors->has_cmdline());
  bpf.set_script_selectors(selectors->has_script());
  bpf.set_data_budget(o.agent_data_mibps * 1024, o.agent_data_burst_mib * 1024);
  proto::DecodeBudget::global().set_limit(size_t(o.decode_mib) << 20);
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

  BpfActuator actuator(bpf, o.state_dir + "/holds");
  std::unique_ptr<enforce::Enforcer> enforcer;
  // Detections run with defaults without a policy; a policy's detections: section retunes them.
  detect::DetectionEngine detections;
  if (auto ok = detections.set_state_dir(o.state_dir); !ok)
    fmt::print(stderr, "rein: detections: {}\n", ok.error().message);
  std::optional<detect::SecretScanner> secret_scanner;  // request bodies: secrets and PII
  if (o.no_detections) {
    // no Hyperscan database either
  } else if (auto sc = detect::SecretScanner::create(*fingerprinter, {.cache_dir = o.state_dir});
             sc) {
    secret_scanner.emplace(std::move(*sc));
    detections.set_secret_scanner(&*secret_scanner);
  } else {
    fmt::print(stderr, "rein: detections: no secret scanning: {}\n", sc.error().message);
  }
  auto install_policy = [&](policy::Policy p) -> Result<void> {
    auto compiled = enforce::compile_policy(p);
    if (!compiled) return compiled.error();
    auto n = bpf.apply_policy(*compiled);
    if (!n) return n.error();
    if (auto ok = bpf.apply_file_mechanisms(enforce::rule_dirs(p), enforce::file_scope_rules(p)); !ok)
      return ok.error();
    if (auto ok = bpf.apply_net_scope(enforce::network_scope_rules(p)); !ok) return ok.error();
    fmt::print(stderr, "rein: policy {}: {} rules, {} allow-lists, {} budgets; {} kernel entries\n",
               p.file, p.rules.size(), p.allow.size(), p.budgets.size(), *n);
    for (const auto& note : compiled->user_space_notes) fmt::print(stderr, "rein: policy: {}\n", note);
    // dns.resolvers: trusted from now on; a reload adds, never removes (docs/policy.md)
    for (const auto& a : p.dns_resolvers) {
      process::ResolverAddr r{};
      if (a.v6) {
        std::copy(a.bytes.begin(), a.bytes.end(), r.begin());
      } else {
        r[10] = r[11] = 0xff;
        std::copy(a.bytes.begin(), a.bytes.begin() + 4, r.begin() + 12);
      }
      if (auto ok = trust(r, "policy dns.resolvers"); !ok) return ok.error();
    }
    detections.configure(p.detections);
    auto next = std::make_unique<enforce::Enforcer>(std::move(p), actuator);
    if (enforcer) next->adopt(std::move(*enforcer));  // paused processes keep their holds
    enforcer = std::move(next);
    return {};
  };
  if (pol) {
    if (auto ok = install_policy(std::move(*pol)); !ok) return fail(ok.error().message);
  }
  bpf.set_capture_plain(!o.no_plain_http);

  process::K8sIdentityResolver::Options k8s_opts;
  k8s_opts.log_root = o.k8s_log_root;
  process::K8sIdentityResolver k8s(std::move(k8s_opts));  // outlives the pipeline using it
  std::unique_ptr<process::K8sLabelFetcher> k8s_labels;
  if (o.k8s_api) {
    auto cfg = process::k8s_api_config_from_env(o.k8s_sa_dir);
    if (!cfg) return fail("--k8s-api: " + cfg.error().message);
    fmt::print(stderr, "rein: pod labels from the API server at {}:{}\n", cfg->host, cfg->port);
    k8s_labels = std::make_unique<process::K8sLabelFetcher>(std::move(*cfg));
    k8s.set_label_fetcher(k8s_labels.get());
  }
  // Every llm.call also goes to the ledger and to the per-pod metrics (declared before the
  // pipeline: they outlive it).
  std::unique_ptr<metrics::PodLlmMetrics> pod_metrics;
  if (metrics_feed) pod_metrics = std::make_unique<metrics::PodLlmMetrics>(metrics_feed->registry());
  pipeline::LlmCallObservers llm_observers;
  llm_observers.add(usage_ledger.get());
  llm_observers.add(pod_metrics.get());
  // --capture: every input the pipeline gets is journaled (pipeline/capture_inputs.h).
  std::unique_ptr<pipeline::CaptureWriterJournal> capture_journal;
  std::unique_ptr<pipeline::CaptureRecorder> capture_rec;
  if (capture_writer) {
    capture_journal = std::make_unique<pipeline::CaptureWriterJournal>(*capture_writer);
    capture_rec = std::make_unique<pipeline::CaptureRecorder>(*capture_journal, *fingerprinter);
    pipeline::journal_detections(detections, *capture_rec->inputs(), o.state_dir);  // replay's inputs
  }
  pipeline::SensorPipeline pipe(
      std::move(*selectors), fanout,
      pipeline::capture_track(capture_rec.get(), [&bpf](uint32_t tgid, uint32_t root, uint32_t sel, uint64_t start) -> Result<void> {
        if (auto ok = bpf.track(tgid, root, sel, start); !ok) return ok;
        if (tgid != root) return {};
        // A root chosen in user space (argv) may have exited before this insert: its exit
        // then never removes the entry, and a later process under its pid would inherit the
        // agent. `start` is when it was seen (its exec, or its /proc start time): the
        // process under this pid now must have started by then.
        auto st = process::read_file_bounded(fmt::format("/proc/{}/stat", tgid),
                                             process::kMaxSmallProcFileBytes);
        auto ps = st ? process::parse_proc_stat(*st) : std::nullopt;
        static const long hz = sysconf(_SC_CLK_TCK);
        const uint64_t tick = hz > 0 ? 1'000'000'000ull / uint64_t(hz) : 10'000'000ull;
        if (!ps || ps->state == 'Z' ||
            process::clock_ticks_to_ns(ps->start_ticks, hz) > start + tick) {
          bpf.untrack(tgid);
          return make_error(fmt::format("pid {} exited before it could be tracked", tgid));
        }
        return {};
      }),
      cg, pipeline::LlmConfig{&*prices, &*fingerprinter});
  if (capture_rec) {
    pipe.set_input_journal(capture_rec->inputs());
    capture_rec->context(pipeline::pipeline_context(
        pipe, sels, o.policy, o.prices.empty() ? default_prices_path() : o.prices, o.prices_override,
        uint64_t(o.decode_mib) << 20));
  }
  pipe.set_enforcer(enforcer.get());
  pipe.set_k8s_identity(&k8s);
  if (metrics_feed) pipe.set_observer(metrics_feed.get());
  if (!llm_observers.empty()) pipe.set_llm_call_observer(&llm_observers);
  if (!o.no_detections) pipe.set_detections(&detections);  // --no-detections: none of their cost
  if (enforcer)
    for (const auto& l : leftovers)
      if (l.action != enforce::LeftoverAction::kNone)
        enforcer->note({l.hold.rule, "hold", "pause",
                        l.action == enforce::LeftoverAction::kKill ? "denied" : "approved", "",
                        l.detail, 0, l.hold.pid, 0});

  auto report = bpf.attach(cg ? cg->mount_point() : std::string());
  if (!report) return fail(report.error().message);
  for (const auto& h : *report) {
    if (h.attached)
      fmt::print(stderr, "rein: attached   {:28} ({})\n", h.hook, h.program);
    else
      fmt::print(stderr, "rein: unavailable {:27} {} -> without it: no {}\n", h.hook, h.error,
                 h.feature);
  }

  // v2: OpenSSL plans hook its internal read/write functions; a v1 line would keep the
  // slower export hooks forever, since cache lines never expire.
  loader::TlsHooks tls(bpf.tls_programs(),
                      system_hooks ? loader::TlsHooks::Mode::SystemWide : loader::TlsHooks::Mode::PerProcess,
                      o.state_dir + "/tls-plans-v4.cache");
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
  pipe.set_tls_coverage(pipeline::capture_coverage(capture_rec.get(), [&tls](uint32_t pid) {
    auto c = tls.coverage(pid);
    return pipeline::TlsCoverage{std::move(c.hooked), std::move(c.undecodable), c.pending, c.hooked_at_ns};
  }));

  // Records that change where TLS hooks are needed go to the hooks right after the pipeline
  // has seen them (it decides which execs are tracked: argv selectors match in user space).
  // rustls records opened in user space (aws-lc's AES-NI path) are opened first: the
  // pipeline and the capture see their plaintext, never a key.
  source::CipherRecords cipher_records;
  auto on_ring_record = [&](std::span<const uint8_t> b) {
    pipeline::CaptureRecorder::RecordScope capture_scope(capture_rec.get(), b);  // after all of it
    if (b.size() >= sizeof(rein_hold_event) && b[0] == REIN_REC_HOLD && b[1] == 0) {
      rein_hold_event e{};  // holds are the enforcer's: the pipeline has no use for them
      std::memcpy(&e, b.data(), sizeof(e));
      if (enforcer) enforcer->on_hold_event(e, e.h.ts_ns);
      return;
    }
    pipe.on_record(b);
    if (b.size() < sizeof(rein_hdr)) return;
    rein_hdr h{};
    std::memcpy(&h, b.data(), sizeof(h));
    uint64_t now = h.ts_ns;
    switch (h.kind) {
      case REIN_REC_EXEC:
        // h.agent: tracked at the exec, even if the process is gone by now
        if (h.agent || bpf.is_tracked(h.tgid)) {
          tls.on_process(h.tgid, now);
          // a tracked process in its own mount namespace (a container) has its own resolvers
          for (const auto& a : ns_resolvers.for_process(h.tgid))
            (void)trust(a, fmt::format("mount namespace of pid {}", h.tgid));
        }
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
  };
  // Made once: built from the lambda at each record, the std::function allocated its copy of
  // the lambda's captures for every ring record.
  const source::CipherRecords::Out deliver_record = on_ring_record;
  auto ring = source::RingSource::open(
      {bpf.ring_fd(), bpf.data_ring_fd()},
      [&](std::span<const uint8_t> b) { cipher_records.feed(b, deliver_record); });
  if (!ring) return fail(ring.error().message);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_hup;
  sigaction(SIGHUP, &hup, nullptr);

  std::optional<enforce::ControlServer> control;
  // Holds need it; without a policy it serves `subscribe` (rein top) and is optional, and
  // another running sensor's socket is left to it.
  if (!enforcer && control_socket_in_use(o.control_socket))
    fmt::print(stderr, "rein: degraded: another sensor serves {} (no `rein top --socket` here)\n",
               o.control_socket);
  else if (auto srv = enforce::ControlServer::listen(o.control_socket); srv)
    control.emplace(std::move(*srv));
  else if (enforcer)
    return fail(srv.error().message);
  else
    fmt::print(stderr, "rein: degraded: {} (no `rein top --socket`)\n", srv.error().message);
  std::optional<FileStamp> policy_stamp = o.policy.empty() ? std::nullopt : stamp_of(o.policy);
  // A new policy is parsed and compiled first; a bad one leaves the running one in force.
  auto reload = [&]() {
    auto loaded = policy::load_policy_file(o.policy);
    Result<void> ok = loaded ? install_policy(std::move(*loaded)) : Result<void>(loaded.error());
    if (ok) pipe.set_enforcer(enforcer.get());
    if (capture_rec)
      capture_rec->policy_reload(o.policy,
                                 process::read_file_bounded(o.policy, 2u << 20).value_or(""), bool(ok));
    pipeline::emit_health_maybe_captured(capture_rec.get(), pipe, pipeline::Clock::boot_now_ns(), ok ? "policy_reloaded" : "policy_rejected",
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
  pipeline::emit_health_maybe_captured(capture_rec.get(), pipe, pipeline::Clock::boot_now_ns(), "started", named(bpf.counters()), hooks_json);
  // with --capture, adopted from a snapshot of /proc that the capture keeps (replay reads it)
  size_t adopted = capture_rec ? capture_rec->adopt(pipe, "/proc")
                               : pipe.adopt_existing();
  for (uint32_t pid : pipe.table().pids())
    if (bpf.is_tracked(pid)) tls.on_process(pid, pipeline::Clock::boot_now_ns());
  (*sink)->flush();
  if (metrics_server) {
    metrics_server->set_ready(true);
    fmt::print(stderr, "rein: metrics at http://{}/metrics\n", o.metrics_addr);
  }
  // Start-up's peaks (BTF parsing, the Hyperscan compile) are freed by now, but glibc keeps
  // the pages: ~5 MiB of idle RSS (docs/operations.md "Memory").
  malloc_trim(0);
  fmt::print(stderr, "rein: ready ({} running processes adopted{})\n", adopted,
             defaults ? ", default agent selectors" : "");
  fflush(stderr);

  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto next_health = start + std::chrono::duration<double>(o.health_interval_s);
  auto next_metrics = start;
  auto next_trim = start + std::chrono::seconds(10);
  // The control socket and the output are serviced at most every kIoEvery: under load the
  // loop turns thousands of times a second, and an accept4() that finds nobody plus a
  // write() of a few lines per turn were ~10% of the sensor's CPU on the LLM benchmark.
  // Lines still reach the file within a poll period plus kIoEvery.
  constexpr auto kIoEvery = std::chrono::milliseconds(10);
  auto next_io = start;
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
    if (capture_rec) capture_rec->tick(boot);
    if (usage_ledger) usage_ledger->tick();  // one transaction for this round's calls
    const bool io_turn = now >= next_io;
    if (io_turn) next_io = now + kIoEvery;
    if (control && io_turn)
      control->serve_pending(
          [&pipe](const std::string& req) {
            // "shutdown" ends every hold: only rein itself says it, when it stops
            return req == "shutdown" ? std::string(R"({"ok":false,"error":"unknown request"})")
                                     : pipe.control(req);
          },
          [&fanout](const std::string& req, int fd) { return subscribe(fanout, req, fd); });
    // SIGHUP: reopen --output (log rotation) and reload the policy
    bool hup = g_reload.exchange(false);
    if (hup)
      if (auto ok = (*sink)->reopen(); !ok) fmt::print(stderr, "rein: {}\n", ok.error().message);
    if (!o.policy.empty()) {
      auto stamp = stamp_of(o.policy);
      if (hup || (stamp && stamp != policy_stamp)) {
        policy_stamp = stamp;
        reload();
      }
    }
    tls.poll(boot);
    report_tls();
    if (o.health_interval_s > 0 && now >= next_health) {
      pipeline::emit_health_maybe_captured(capture_rec.get(), pipe, boot, "running", named(bpf.counters()), [&bpf, &capture_writer, &capture_rec, &fanout, &detections, &o](sinks::JsonWriter& w) {
        if (capture_writer) write_capture_health(w, capture_writer->stats(), capture_rec->cpu_ns());
        write_subscriber_health(w, fanout);
        if (!o.no_detections) write_detection_time(w, detections.meter());
        w.key("track_quota_hits");  // agents whose children went untracked (drop_track_quota)
        w.begin_array();
        for (const auto& q : bpf.quota_hits()) {
          w.begin_object();
          w.key("agent_pid");
          w.number(uint64_t(q.agent));
          w.key("tracked");
          w.number(q.members);
          w.key("untracked_children");
          w.number(q.refused);
          w.end_object();
        }
        w.end_array();
      });
      next_health = now + std::chrono::duration<double>(o.health_interval_s);
    }
    if (metrics_feed && now >= next_metrics) {  // loss counters, fresher than sensor.health
      metrics_feed->set_loss_counters(named(bpf.counters()));
      metrics_feed->set_loss_counters(metrics::pipeline_loss_counters(pipe, (*sink)->write_errors()));
      next_metrics = now + std::chrono::seconds(1);
    }
    if (io_turn) fanout.flush();  // the file, then what subscribers' sockets take
    if (now >= next_trim) {  // what a burst allocated and freed goes back to the kernel
      binary::unload_idle_x86_decoder();  // capstone, once a TLS plan has been computed
      malloc_trim(0);
      next_trim = now + std::chrono::seconds(10);
    }
    if (o.duration_s > 0 && now - start >= std::chrono::duration<double>(o.duration_s)) break;
  }
  (void)ring->drain();
  if (enforcer) (void)pipe.control("shutdown");  // every hold ends by the policy's default
  const uint64_t finish_ns = pipeline::Clock::boot_now_ns();
  pipe.finish(finish_ns);
  if (capture_rec) capture_rec->finish(finish_ns);
  if (auto ok = detections.flush(); !ok) fmt::print(stderr, "rein: detections: {}\n", ok.error().message);
  if (usage_ledger) usage_ledger->flush();
  if (const auto& cs = cipher_records.stats(); cs.opened || cs.not_app_data || cs.failed || cs.lost)
    fmt::print(stderr,
               "rein: rustls records opened in user space (aws-lc AES-NI, ChaCha20-Poly1305): {} with data, {} not data, "
               "{} failed their tag, {} incomplete\n",
               cs.opened, cs.not_app_data, cs.failed, cs.lost);
  pipeline::emit_health_maybe_captured(capture_rec.get(), pipe, pipeline::Clock::boot_now_ns(), "stopped", named(bpf.counters()), [&capture_writer, &capture_rec, &fanout, &detections, &o](sinks::JsonWriter& w) {
    if (capture_writer) write_capture_health(w, capture_writer->stats(), capture_rec->cpu_ns());
    write_subscriber_health(w, fanout);
    if (!o.no_detections) write_detection_time(w, detections.meter());
  });
  if (capture_rec) capture_rec->flush();  // the Health entry just staged
  fanout.flush();  // subscribers see "stopped" too (what their sockets take now)
  return rc;
}

}  // namespace rein::cli
