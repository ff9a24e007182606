// Owns the BPF skeleton: preflight checks, load, per-program attach with a report of what
// attached and what did not, and the user-space side of the kernel maps (selectors,
// tracked processes, counters). Everything is released by the destructor.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "enforce/policy_compiler.h"
#include "enforce/rule_dirs.h"
#include "rein/abi/events.h"

struct rein_bpf;  // generated skeleton (rein.skel.h)
struct bpf_link;
struct bpf_program;

namespace rein::loader {

// The programs TLS hooks attach (userspace/loader/tls_hooks.h places them).
struct TlsPrograms {
  struct bpf_program* tls_enter;      // uprobe: SSL_write/SSL_read-shaped entry
  struct bpf_program* tls_exit;       // uretprobe of the same
  struct bpf_program* gcm_seal;       // uprobe: aws-lc AES-GCM encrypt entry (rustls)
  struct bpf_program* gcm_open_enter; // uprobe: aws-lc AES-GCM decrypt entry
  struct bpf_program* gcm_open_exit;  // uretprobe of the same
  struct bpf_program* go_enter;       // uprobe: Go (*tls.Conn).Read/Write entry
  struct bpf_program* go_ret;         // uprobe on each RET of the same
  struct bpf_program* aesni_seal;     // uprobe: aws-lc AES-NI GCM encrypt entry (no AVX-512)
  struct bpf_program* aesni_open;     // uprobe: aws-lc AES-NI GCM decrypt entry
  struct bpf_program* chacha_seal;    // uprobe: aws-lc ChaCha20-Poly1305 seal entry
  struct bpf_program* chacha_open;    // uprobe: aws-lc ChaCha20-Poly1305 open entry
  bool multi = false;  // loaded for uprobe_multi links (loader/uprobe_multi.h)
};

struct HookStatus {
  std::string program;
  std::string hook;   // what it hooks, for the start-up report
  bool attached = false;
  bool required = false;
  std::string error;  // why not, when not attached
  std::string feature;  // what is lost without it
};

class BpfSensor {
 public:
  // Fails with one clear sentence when the machine cannot run the sensor.
  // Ring sizes in bytes (powers of two; 0: the size compiled into the BPF object).
  static Result<std::unique_ptr<BpfSensor>> load(uint32_t ring_bytes, uint32_t control_ring_bytes = 0);
  ~BpfSensor();
  BpfSensor(const BpfSensor&) = delete;
  BpfSensor& operator=(const BpfSensor&) = delete;

  // Attaches every program; required hooks failing is an error, optional ones degrade.
  Result<std::vector<HookStatus>> attach(const std::string& cgroup2_mount);

  int ring_fd() const;       // control records
  int data_ring_fd() const;  // payload records
  // Per-agent payload budget (token bucket in the kernel); rate 0 = unlimited.
  void set_data_budget(uint32_t rate_kib_per_s, uint32_t burst_kib);
  void set_self(uint32_t tgid);
  void set_exec_candidates(bool on);
  void set_autodiscover(bool on);
  void set_capture_plain(bool on);
  // Policy maps: replaces every kernel rule (a bad policy never gets here: it is compiled
  // and checked first). Returns how many entries were written.
  Result<size_t> apply_policy(const enforce::KernelPolicy& k);
  // Rule directories by inode and the per-class io_uring ban (enforce/rule_dirs.h).
  Result<void> apply_file_mechanisms(const std::vector<enforce::RuleDir>& dirs,
                                     const std::array<rein_rule, 64>& scope_rules);
  // Per class, the network rule that bans raw and packet sockets (enforce/rule_dirs.h).
  Result<void> apply_net_scope(const std::array<rein_rule, 64>& scope_rules);
  Result<void> set_selector_class(uint32_t selector, uint32_t agent_class);
  Result<void> block_llm(uint32_t agent_root, uint32_t budget_plus1);
  Result<void> add_llm_endpoint(const std::array<uint8_t, 16>& addr, uint16_t port);
  Result<void> add_network_entry(const rein_net_key& key, const rein_rule& rule);
  TlsPrograms tls_programs() const;
  // Untracked processes' first socket write after a TCP connect is looked at for an LLM
  // host's TLS server name or a plain LLM request (discovery without TLS hooks).
  void set_discover_connect(bool on);
  void set_script_selectors(bool on);
  // An LLM API host name for discovery (FNV-1a 64 of the lower-cased name); below = any
  // name under it.
  Result<void> add_llm_host(uint64_t hash, bool below);
  Result<void> add_exe_selector(uint64_t hash, uint32_t index);
  Result<void> add_cgroup_selector(uint64_t cgroup_id, uint32_t index);
  // Marks a process tracked as a member of the agent rooted at `agent_root`.
  Result<void> track(uint32_t tgid, uint32_t agent_root, uint32_t selector, uint64_t agent_start_ns);
  bool is_tracked(uint32_t tgid) const;
  // Drops a process's entry (it turned out to be gone, or another process under its pid).
  void untrack(uint32_t tgid);
  // Members each agent may have in the kernel's tracked table (0: no limit).
  void set_track_quota(uint32_t members);
  struct QuotaHit {
    uint32_t agent = 0;
    uint64_t members = 0, refused = 0;
  };
  // Live agents that had children left untracked by the quota.
  std::vector<QuotaHit> quota_hits() const;
  // A resolver whose DNS answers may teach addresses to host-name rules (v4-mapped).
  Result<void> add_dns_resolver(const std::array<uint8_t, 16>& addr, uint16_t port);
  std::array<uint64_t, REIN_CTR_MAX> counters() const;
  // Held (paused) processes, map "held" (bpf/holds.bpf.h): the kernel adds its pauses there.
  std::vector<std::pair<uint32_t, rein_held>> held() const;
  Result<void> set_held(uint32_t tgid, const rein_held& v);
  void delete_held(uint32_t tgid);

 private:
  explicit BpfSensor(struct ::rein_bpf* skel) : skel_(skel) {}
  // After every change to the tracked map: the kernel's per-CPU agent answers (agent_of in
  // bpf/common.bpf.h) older than it are looked up again.
  void tracked_changed();
  struct ::rein_bpf* skel_;
  std::vector<struct bpf_link*> cgroup_links_;
  bool multi_ = false;
};

// Root and kernel BTF: one clear sentence when the machine cannot run the sensor.
Result<void> preflight();

// Names of the kernel counters, indexed by enum rein_counter (for sensor.health).
const char* counter_name(uint32_t idx);

}  // namespace rein::loader
