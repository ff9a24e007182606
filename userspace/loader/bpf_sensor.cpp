#include "loader/bpf_sensor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "loader/uprobe_multi.h"
#include "rein.skel.h"

namespace rein::loader {
namespace {

int quiet_libbpf(enum libbpf_print_level level, const char* fmt_str, va_list args) {
  if (level == LIBBPF_WARN && getenv("REIN_LIBBPF_DEBUG")) return vfprintf(stderr, fmt_str, args);
  if (level == LIBBPF_DEBUG && getenv("REIN_LIBBPF_DEBUG")) return vfprintf(stderr, fmt_str, args);
  return 0;
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// bpf/track_quota.bpf.h: members of each agent in `tracked`, keyed by root and its start.
struct QuotaKey {
  uint32_t agent, pad;
  uint64_t start;
};
struct QuotaVal {
  uint64_t members, refused;
};

void adjust_quota(struct bpf_map* m, uint32_t agent, uint64_t start, int delta) {
  QuotaKey k{agent, 0, start};
  QuotaVal v{};
  if (bpf_map__lookup_elem(m, &k, sizeof(k), &v, sizeof(v), 0) != 0) v = {};
  if (delta < 0 && v.members <= 1) {
    bpf_map__delete_elem(m, &k, sizeof(k), 0);
    return;
  }
  v.members += delta;
  bpf_map__update_elem(m, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

}  // namespace

Result<void> preflight() {
  if (geteuid() != 0)
    return make_error("rein must run as root (it loads BPF programs: CAP_BPF, CAP_PERFMON and "
                      "CAP_SYS_ADMIN are needed)");
  struct stat st {};
  if (stat("/sys/kernel/btf/vmlinux", &st) != 0)
    return make_error("this kernel exposes no BTF at /sys/kernel/btf/vmlinux "
                      "(CONFIG_DEBUG_INFO_BTF=y is required for CO-RE)");
  return {};
}

const char* counter_name(uint32_t idx) {
  static const char* names[] = {
      "records",         "drop_ringbuf_full", "drop_pending_full", "drop_tracked_full",
      "drop_openfile_full", "path_truncated",  "args_truncated",    "dns_truncated",
      "user_read_failed", "exec_candidates", "data_truncated", "data_read_failed",
      "drop_conn_full", "agents_discovered", "host_addresses_learned", "tls_records_not_data",
      "tls_records_padded", "agents_discovered_sni", "agents_discovered_plain_http",
      "go_tls_unpaired_returns", "tls_library_opens", "dns_answers_ignored", "hold_escapes",
      "path_resolve_holds", "connect_pending_full", "drop_track_quota", "drop_data_budget",
      "drop_control_ring", "pending_slot_shared"};
  static_assert(sizeof(names) / sizeof(names[0]) == REIN_CTR_MAX);
  return idx < REIN_CTR_MAX ? names[idx] : "unknown";
}

Result<std::unique_ptr<BpfSensor>> BpfSensor::load(uint32_t ring_bytes, uint32_t control_ring_bytes) {
  if (auto ok = preflight(); !ok) return ok.error();
  libbpf_set_print(quiet_libbpf);
  struct ::rein_bpf* skel = rein_bpf__open();
  if (!skel) return make_error(fmt::format("cannot open the BPF object: {}", errno_text(errno)));
  std::unique_ptr<BpfSensor> s(new BpfSensor(skel));
  if (ring_bytes) {
    if (int err = bpf_map__set_max_entries(skel->maps.data_events, ring_bytes); err)
      return make_error(fmt::format("ring buffer size {}: {}", ring_bytes, errno_text(err)));
  }
  if (control_ring_bytes) {
    if (int err = bpf_map__set_max_entries(skel->maps.events, control_ring_bytes); err)
      return make_error(
          fmt::format("control ring buffer size {}: {}", control_ring_bytes, errno_text(err)));
  }
  // TLS programs become uprobe_multi programs where the kernel has them; such a program
  // cannot be attached the per-offset way, so the choice is made here, once.
  s->multi_ = uprobe_multi_supported();
  if (s->multi_) {
    for (auto* p : {skel->progs.rein_tls_enter, skel->progs.rein_tls_exit, skel->progs.rein_gcm_seal,
                    skel->progs.rein_gcm_open_enter, skel->progs.rein_gcm_open_exit,
                    skel->progs.rein_go_enter, skel->progs.rein_go_ret,
                    skel->progs.rein_aesni_seal, skel->progs.rein_aesni_open,
                    skel->progs.rein_chacha_seal, skel->progs.rein_chacha_open})
      bpf_program__set_expected_attach_type(p, static_cast<enum bpf_attach_type>(kAttachUprobeMulti));
  }
  if (int err = rein_bpf__load(skel); err)
    return make_error(fmt::format(
        "loading the BPF programs failed: {} (run with REIN_LIBBPF_DEBUG=1 for the verifier log)",
        errno_text(err)));
  return s;
}

BpfSensor::~BpfSensor() {
  for (auto* l : cgroup_links_) bpf_link__destroy(l);
  rein_bpf__destroy(skel_);
}

Result<std::vector<HookStatus>> BpfSensor::attach(const std::string& cgroup2_mount) {
  std::vector<HookStatus> report;
  struct Tp {
    bpf_program* prog;
    const char* hook;
    bool required;
    const char* feature;
  };
  const Tp tracing[] = {
      {skel_->progs.rein_exec, "tp_btf/sched_process_exec", true, "exec events and selection"},
      {skel_->progs.rein_fork, "tp_btf/sched_process_fork", true, "descendant tracking"},
      {skel_->progs.rein_exit, "tp_btf/sched_process_exit", true, "exit events"},
      {skel_->progs.rein_sys_enter, "tp_btf/sys_enter", true, "file and connect events"},
      {skel_->progs.rein_sys_exit, "tp_btf/sys_exit", true, "file and connect events"},
      {skel_->progs.rein_sock_state, "tp_btf/inet_sock_set_state", false,
       "outcomes of non-blocking connects"},
  };
  for (const auto& t : tracing) {
    HookStatus st{bpf_program__name(t.prog), t.hook, false, t.required, {}, t.feature};
    struct bpf_link* link = bpf_program__attach(t.prog);
    if (!link) {
      st.error = errno_text(errno);
    } else {
      st.attached = true;
      // The skeleton destroys links it knows about; hand it this one.
      if (t.prog == skel_->progs.rein_exec) skel_->links.rein_exec = link;
      else if (t.prog == skel_->progs.rein_fork) skel_->links.rein_fork = link;
      else if (t.prog == skel_->progs.rein_exit) skel_->links.rein_exit = link;
      else if (t.prog == skel_->progs.rein_sys_enter) skel_->links.rein_sys_enter = link;
      else if (t.prog == skel_->progs.rein_sock_state) skel_->links.rein_sock_state = link;
      else skel_->links.rein_sys_exit = link;
    }
    report.push_back(st);
  }
  const Tp cgroup[] = {
      {skel_->progs.rein_connect4, "cgroup/connect4", false, "DNS socket discovery (IPv4)"},
      {skel_->progs.rein_connect6, "cgroup/connect6", false, "DNS socket discovery (IPv6)"},
      {skel_->progs.rein_sendmsg4, "cgroup/sendmsg4", false, "DNS socket discovery (IPv4)"},
      {skel_->progs.rein_sendmsg6, "cgroup/sendmsg6", false, "DNS socket discovery (IPv6)"},
      {skel_->progs.rein_skb_egress, "cgroup_skb/egress", false, "DNS queries"},
      {skel_->progs.rein_skb_ingress, "cgroup_skb/ingress", false, "DNS answers"},
  };
  int cg = cgroup2_mount.empty() ? -1 : open(cgroup2_mount.c_str(), O_RDONLY | O_DIRECTORY);
  int cg_errno = errno;
  for (const auto& t : cgroup) {
    HookStatus st{bpf_program__name(t.prog), t.hook, false, false, {}, t.feature};
    if (cg < 0) {
      st.error = cgroup2_mount.empty() ? "no cgroup v2 mount found"
                                       : fmt::format("{}: {}", cgroup2_mount, errno_text(cg_errno));
    } else if (struct bpf_link* link = bpf_program__attach_cgroup(t.prog, cg); !link) {
      st.error = errno_text(errno);
    } else {
      st.attached = true;
      cgroup_links_.push_back(link);
    }
    report.push_back(st);
  }
  if (cg >= 0) close(cg);
  for (const auto& st : report) {
    if (st.required && !st.attached)
      return make_error(fmt::format("required hook {} ({}) did not attach: {}", st.hook,
                                    st.program, st.error));
  }
  return report;
}

int BpfSensor::ring_fd() const { return bpf_map__fd(skel_->maps.events); }

int BpfSensor::data_ring_fd() const { return bpf_map__fd(skel_->maps.data_events); }

void BpfSensor::set_data_budget(uint32_t rate_kib_per_s, uint32_t burst_kib) {
  __atomic_store_n(&skel_->bss->cfg.data_burst_kib, burst_kib, __ATOMIC_RELEASE);
  __atomic_store_n(&skel_->bss->cfg.data_rate_kib, rate_kib_per_s, __ATOMIC_RELEASE);
}

void BpfSensor::set_self(uint32_t tgid) { skel_->bss->cfg.self_tgid = tgid; }

void BpfSensor::set_exec_candidates(bool on) {
  __atomic_store_n(&skel_->bss->cfg.exec_candidates, on ? 1u : 0u, __ATOMIC_RELEASE);
}

void BpfSensor::set_autodiscover(bool on) {
  __atomic_store_n(&skel_->bss->cfg.autodiscover, on ? 1u : 0u, __ATOMIC_RELEASE);
}

void BpfSensor::set_capture_plain(bool on) {
  __atomic_store_n(&skel_->bss->cfg.capture_plain, on ? 1u : 0u, __ATOMIC_RELEASE);
}

namespace {
// Deletes every key of a map (policy reload).
void clear_map(struct bpf_map* m, size_t key_size) {
  std::vector<uint8_t> key(key_size), next(key_size);
  while (bpf_map__get_next_key(m, nullptr, next.data(), key_size) == 0) {
    if (bpf_map__delete_elem(m, next.data(), key_size, 0) != 0) break;
  }
}

template <typename K, typename V>
Result<void> put(struct bpf_map* m, const K& key, const V& r, const char* what) {
  if (bpf_map__update_elem(m, &key, sizeof(K), &r, sizeof(r), BPF_ANY) != 0)
    return make_error(fmt::format("policy map {}: {}", what, std::strerror(errno)));
  return {};
}
}  // namespace

Result<size_t> BpfSensor::apply_policy(const enforce::KernelPolicy& k) {
  auto& cfg = skel_->bss->cfg;
  // Rules off while the maps are rewritten: a reload is a short window of audit-free time
  // rather than a mix of two policies.
  __atomic_store_n(&cfg.file_rules, 0u, __ATOMIC_SEQ_CST);
  __atomic_store_n(&cfg.exec_rules, 0u, __ATOMIC_SEQ_CST);
  __atomic_store_n(&cfg.net_rules, 0u, __ATOMIC_SEQ_CST);
  clear_map(skel_->maps.policy_fpath, sizeof(rein_path_key));
  clear_map(skel_->maps.policy_fbase, sizeof(uint64_t));
  clear_map(skel_->maps.policy_exec, sizeof(uint64_t));
  __atomic_store_n(&cfg.host_rules, 0u, __ATOMIC_SEQ_CST);
  clear_map(skel_->maps.policy_net, sizeof(rein_net_key));
  clear_map(skel_->maps.policy_hosts, sizeof(uint64_t));
  size_t n = 0;
  for (const auto& [prefix, r] : k.file_prefix_sets) {
    rein_path_key key{};
    size_t len = std::min(prefix.size(), sizeof(key.path));
    std::memcpy(key.path, prefix.data(), len);
    key.prefixlen = uint32_t(len * 8);
    if (auto ok = put(skel_->maps.policy_fpath, key, r, "file prefixes"); !ok) return ok.error();
    n++;
  }
  for (const auto& [hash, r] : k.file_basename_sets) {
    if (auto ok = put(skel_->maps.policy_fbase, hash, r, "file names"); !ok) return ok.error();
    n++;
  }
  for (const auto& [hash, r] : k.exec_sets) {
    if (auto ok = put(skel_->maps.policy_exec, hash, r, "executables"); !ok) return ok.error();
    n++;
  }
  for (const auto& [key, r] : k.network_sets) {
    if (auto ok = put(skel_->maps.policy_net, key, r, "networks"); !ok) return ok.error();
    n++;
  }
  for (const auto& [hash, r] : k.host_sets) {
    if (auto ok = put(skel_->maps.policy_hosts, hash, r, "host names"); !ok) return ok.error();
    n++;
  }
  __atomic_store_n(&cfg.host_rules, uint32_t(k.host_sets.size()), __ATOMIC_SEQ_CST);
  __atomic_store_n(&cfg.file_rules, uint32_t(k.file_prefix_sets.size() + k.file_basename_sets.size()), __ATOMIC_SEQ_CST);
  __atomic_store_n(&cfg.exec_rules, uint32_t(k.execs.size()), __ATOMIC_SEQ_CST);
  __atomic_store_n(&cfg.net_rules, uint32_t(k.network_sets.size()), __ATOMIC_SEQ_CST);
  return n;
}

Result<void> BpfSensor::apply_file_mechanisms(const std::vector<enforce::RuleDir>& dirs,
                                              const std::array<rein_rule, 64>& scope_rules) {
  __atomic_store_n(&skel_->bss->inode_rules_n, 0u, __ATOMIC_SEQ_CST);
  clear_map(skel_->maps.rule_inodes, sizeof(rein_inode_key));
  uint32_t n = 0;
  if (dirs.size() > REIN_RULE_INODES_MAX)
    return make_error(fmt::format(
        "policy: {} rule directories and exact-path files exist, the kernel holds {}",
        dirs.size(), REIN_RULE_INODES_MAX));
  for (const auto& d : dirs) {
    rein_inode_key key{};
    key.ino = d.ino;
    key.dev = enforce::kernel_dev(d.dev);
    if (auto ok = put(skel_->maps.rule_inodes, key, d.rule, "rule directories"); !ok) return ok.error();
    n++;
  }
  for (uint32_t c = 0; c < scope_rules.size(); c++) {
    if (bpf_map__update_elem(skel_->maps.file_scope_rule, &c, sizeof(c), &scope_rules[c],
                             sizeof(rein_rule), BPF_ANY) != 0)
      return make_error(fmt::format("file scope map: {}", std::strerror(errno)));
  }
  __atomic_store_n(&skel_->bss->inode_rules_n, n, __ATOMIC_SEQ_CST);
  return {};
}

Result<void> BpfSensor::apply_net_scope(const std::array<rein_rule, 64>& scope_rules) {
  for (uint32_t c = 0; c < scope_rules.size(); c++) {
    if (bpf_map__update_elem(skel_->maps.net_scope_rule, &c, sizeof(c), &scope_rules[c],
                             sizeof(rein_rule), BPF_ANY) != 0)
      return make_error(fmt::format("network scope map: {}", std::strerror(errno)));
  }
  return {};
}

Result<void> BpfSensor::set_selector_class(uint32_t selector, uint32_t agent_class) {
  if (bpf_map__update_elem(skel_->maps.sel_class, &selector, sizeof(selector), &agent_class,
                           sizeof(agent_class), BPF_ANY) != 0)
    return make_error(fmt::format("selector class map: {}", std::strerror(errno)));
  return {};
}

Result<void> BpfSensor::block_llm(uint32_t agent_root, uint32_t budget_plus1) {
  int rc = budget_plus1 ? bpf_map__update_elem(skel_->maps.blocked_agents, &agent_root,
                                               sizeof(agent_root), &budget_plus1,
                                               sizeof(budget_plus1), BPF_ANY)
                        : bpf_map__delete_elem(skel_->maps.blocked_agents, &agent_root,
                                               sizeof(agent_root), 0);
  if (rc != 0 && budget_plus1) return make_error(fmt::format("blocked agents: {}", std::strerror(errno)));
  __atomic_store_n(&skel_->bss->cfg.blocked_agents, 1u, __ATOMIC_SEQ_CST);
  return {};
}

Result<void> BpfSensor::add_llm_endpoint(const std::array<uint8_t, 16>& addr, uint16_t port) {
  rein_endpoint ep{};
  std::memcpy(ep.addr, addr.data(), 16);
  ep.port = port;
  uint32_t one = 1;
  if (bpf_map__update_elem(skel_->maps.llm_endpoints, &ep, sizeof(ep), &one, sizeof(one), BPF_ANY) != 0)
    return make_error(fmt::format("LLM endpoints: {}", std::strerror(errno)));
  return {};
}

Result<void> BpfSensor::add_network_entry(const rein_net_key& key, const rein_rule& rule) {
  // Merge into what covers the address now (the LPM lookup returns the longest covering
  // leaf): a learned name never hides a CIDR deny or an allow-list catch-all.
  rein_rule_set set{};
  if (bpf_map__lookup_elem(skel_->maps.policy_net, &key, sizeof(key), &set, sizeof(set), 0) != 0)
    set = rein_rule_set{};
  rein_set_add(&set, &rule);
  if (auto ok = put(skel_->maps.policy_net, key, set, "networks"); !ok) return ok;
  __atomic_add_fetch(&skel_->bss->cfg.net_rules, 1u, __ATOMIC_SEQ_CST);
  return {};
}

TlsPrograms BpfSensor::tls_programs() const {
  return TlsPrograms{skel_->progs.rein_tls_enter, skel_->progs.rein_tls_exit,
                     skel_->progs.rein_gcm_seal,  skel_->progs.rein_gcm_open_enter,
                     skel_->progs.rein_gcm_open_exit, skel_->progs.rein_go_enter,
                     skel_->progs.rein_go_ret, skel_->progs.rein_aesni_seal, skel_->progs.rein_aesni_open,
                     skel_->progs.rein_chacha_seal, skel_->progs.rein_chacha_open, multi_};
}

void BpfSensor::set_discover_connect(bool on) {
  __atomic_store_n(&skel_->bss->cfg.discover_connect, on ? 1u : 0u, __ATOMIC_RELEASE);
}

void BpfSensor::set_script_selectors(bool on) {
  __atomic_store_n(&skel_->bss->cfg.script_selectors, on ? 1u : 0u, __ATOMIC_RELEASE);
}

Result<void> BpfSensor::add_llm_host(uint64_t hash, bool below) {
  uint32_t v = below ? 2 : 1;
  if (bpf_map__update_elem(skel_->maps.llm_sni, &hash, sizeof(hash), &v, sizeof(v), BPF_ANY) != 0)
    return make_error(fmt::format("LLM host map: {}", errno_text(errno)));
  return {};
}

Result<void> BpfSensor::add_exe_selector(uint64_t hash, uint32_t index) {
  if (bpf_map__update_elem(skel_->maps.sel_exe, &hash, sizeof(hash), &index, sizeof(index),
                           BPF_ANY) != 0)
    return make_error(fmt::format("exe selector map: {}", errno_text(errno)));
  __atomic_add_fetch(&skel_->bss->cfg.exe_selectors, 1, __ATOMIC_RELEASE);
  return {};
}

Result<void> BpfSensor::add_cgroup_selector(uint64_t id, uint32_t index) {
  if (bpf_map__update_elem(skel_->maps.sel_cgroup, &id, sizeof(id), &index, sizeof(index),
                           BPF_ANY) != 0)
    return make_error(fmt::format("cgroup selector map: {}", errno_text(errno)));
  __atomic_add_fetch(&skel_->bss->cfg.cgroup_selectors, 1, __ATOMIC_RELEASE);
  return {};
}

std::vector<std::pair<uint32_t, rein_held>> BpfSensor::held() const {
  std::vector<std::pair<uint32_t, rein_held>> out;
  uint32_t key = 0, next = 0;
  const uint32_t* prev = nullptr;
  // Bounded by the map's size: a key deleted mid-walk restarts the walk at most that often.
  for (size_t i = 0; i < 4096 && bpf_map__get_next_key(skel_->maps.held, prev, &next, sizeof(next)) == 0; i++) {
    rein_held v{};
    if (bpf_map__lookup_elem(skel_->maps.held, &next, sizeof(next), &v, sizeof(v), 0) == 0)
      out.emplace_back(next, v);
    key = next;
    prev = &key;
  }
  return out;
}

Result<void> BpfSensor::set_held(uint32_t tgid, const rein_held& v) {
  if (bpf_map__update_elem(skel_->maps.held, &tgid, sizeof(tgid), &v, sizeof(v), BPF_ANY) != 0)
    return make_error(fmt::format("held map: {}", errno_text(errno)));
  __atomic_store_n(&skel_->bss->holds_active, 1u, __ATOMIC_SEQ_CST);
  return {};
}

void BpfSensor::delete_held(uint32_t tgid) {
  bpf_map__delete_elem(skel_->maps.held, &tgid, sizeof(tgid), 0);
  uint32_t any = 0;
  if (bpf_map__get_next_key(skel_->maps.held, nullptr, &any, sizeof(any)) == 0) return;
  // Empty: clear, then look again, so a pause the kernel recorded in between keeps the flag.
  __atomic_store_n(&skel_->bss->holds_active, 0u, __ATOMIC_SEQ_CST);
  if (bpf_map__get_next_key(skel_->maps.held, nullptr, &any, sizeof(any)) == 0)
    __atomic_store_n(&skel_->bss->holds_active, 1u, __ATOMIC_SEQ_CST);
}

Result<void> BpfSensor::track(uint32_t tgid, uint32_t agent_root, uint32_t selector,
                              uint64_t agent_start_ns) {
  if (tgid >= REIN_MAX_PID) return make_error(fmt::format("pid {} out of range", tgid));
  rein_tracked t{agent_root, selector, agent_start_ns};
  const int rc =
      bpf_map__update_elem(skel_->maps.tracked, &tgid, sizeof(tgid), &t, sizeof(t), BPF_ANY);
  const int err = errno;
  tracked_changed();
  if (rc != 0) return make_error(fmt::format("tracked map: {}", errno_text(err)));
  // The kernel sets bits atomically too; a plain read-modify-write could lose one.
  __atomic_fetch_or(&skel_->bss->tracked_bits[tgid / 64], 1ULL << (tgid % 64), __ATOMIC_SEQ_CST);
  // Counted against the agent's quota like a fork would be (bpf/track_quota.bpf.h); racing
  // the kernel's atomic adds can lose one, which only makes the quota a little looser.
  adjust_quota(skel_->maps.track_counts, agent_root, agent_start_ns, +1);
  return {};
}

void BpfSensor::tracked_changed() {
  __atomic_fetch_add(&skel_->data->tracked_gen, 1, __ATOMIC_SEQ_CST);
}

void BpfSensor::untrack(uint32_t tgid) {
  if (tgid >= REIN_MAX_PID) return;
  rein_tracked t{};
  if (bpf_map__lookup_and_delete_elem(skel_->maps.tracked, &tgid, sizeof(tgid), &t, sizeof(t),
                                      0) == 0)
    adjust_quota(skel_->maps.track_counts, t.agent, t.agent_start_ns, -1);
  tracked_changed();
  __atomic_fetch_and(&skel_->bss->tracked_bits[tgid / 64], ~(1ULL << (tgid % 64)),
                     __ATOMIC_SEQ_CST);
}

void BpfSensor::set_track_quota(uint32_t members) {
  __atomic_store_n(&skel_->data->track_quota, members, __ATOMIC_RELEASE);
}

std::vector<BpfSensor::QuotaHit> BpfSensor::quota_hits() const {
  std::vector<QuotaHit> out;
  QuotaKey key{}, next{};
  const void* prev = nullptr;
  // bounded by the map's size: the walk cannot run on forever under churn
  for (int i = 0; i < 4096; i++) {
    if (bpf_map__get_next_key(skel_->maps.track_counts, prev, &next, sizeof(next)) != 0) break;
    key = next;
    prev = &key;
    QuotaVal v{};
    if (bpf_map__lookup_elem(skel_->maps.track_counts, &key, sizeof(key), &v, sizeof(v), 0) == 0 &&
        v.refused)
      out.push_back({key.agent, v.members, v.refused});
  }
  return out;
}

Result<void> BpfSensor::add_dns_resolver(const std::array<uint8_t, 16>& addr, uint16_t port) {
  rein_endpoint ep{};
  std::memcpy(ep.addr, addr.data(), 16);
  ep.port = port;
  uint32_t one = 1;
  if (bpf_map__update_elem(skel_->maps.dns_resolvers, &ep, sizeof(ep), &one, sizeof(one),
                           BPF_ANY) != 0)
    return make_error(fmt::format("DNS resolver map: {}", errno_text(errno)));
  return {};
}

bool BpfSensor::is_tracked(uint32_t tgid) const {
  if (tgid >= REIN_MAX_PID) return false;
  return (__atomic_load_n(&skel_->bss->tracked_bits[tgid / 64], __ATOMIC_RELAXED) >> (tgid % 64)) & 1;
}

std::array<uint64_t, REIN_CTR_MAX> BpfSensor::counters() const {
  std::array<uint64_t, REIN_CTR_MAX> out{};
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> vals(ncpu);
  for (uint32_t i = 0; i < REIN_CTR_MAX; i++) {
    if (bpf_map__lookup_elem(skel_->maps.counters, &i, sizeof(i), vals.data(),
                             vals.size() * sizeof(uint64_t), 0) == 0)
      for (auto v : vals) out[i] += v;
  }
  return out;
}

}  // namespace rein::loader
