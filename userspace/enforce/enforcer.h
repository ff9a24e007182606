// Policy at run time: names what the kernel decided, decides what only user space can
// (argv patterns, globs that are not prefixes, `..` in a caller's path, LLM rules, budgets),
// feeds the kernel what it learns (addresses behind host names, LLM endpoints, agents over
// budget) and keeps the holds of paused processes.
#pragma once
#include <signal.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "enforce/holds.h"
#include "llm/llm_call.h"
#include "policy/budget.h"
#include "policy/policy.h"
#include "rein/abi/events.h"

namespace rein::enforce {

// Who did it.
struct Subject {
  uint32_t pid = 0;
  uint32_t agent_root = 0;
  std::string agent_id;
  std::string agent_name;
  bool discovered = false;
};

// One policy decision, as the policy.action event reports it.
struct Decision {
  std::string rule;     // rule, allow scope or budget name
  std::string kind;     // file, network, exec, llm, budget
  std::string action;   // audit, deny, pause, or the budget's action
  std::string outcome;  // prevented, killed, paused, approved, denied, alerted
  std::string what;     // path, address:port, executable, model
  std::string detail;   // how it was decided
  uint64_t hold_id = 0;
  uint32_t pid = 0;
  uint32_t agent_root = 0;
};

// How a paused process is held (Actuator::begin_hold).
struct HoldStart {
  bool alive = true;         // false: it exited, or its pid is another process now
  bool seized = false;       // every thread ptrace-stopped: SIGCONT from others cannot resume it
  std::string how;           // for the event: how it is held, or why only by SIGSTOP
  uint64_t start_ticks = 0;  // /proc/PID/stat field 22
};

// The effects user space has on the world: signals and kernel maps.
class Actuator {
 public:
  virtual ~Actuator() = default;
  // False when the process is already gone (a late decision can come after its exit).
  // seen_ns (boot time the process was seen, e.g. its record's): a pid reused since then is
  // not signalled; 0 = now.
  virtual bool signal(uint32_t pid, int sig, uint64_t seen_ns = 0) = 0;
  // pid was just stopped (SIGSTOP) for rule `rule` (0xffffffff: not a rule): keep it stopped,
  // whatever others send it, until end_hold.
  virtual HoldStart begin_hold(uint32_t pid, uint32_t rule, uint64_t seen_ns) {
    (void)pid, (void)rule, (void)seen_ns;
    return {};
  }
  // approve: resume it; else kill it. False when it is already gone.
  virtual bool end_hold(uint32_t pid, bool approve) {
    return signal(pid, approve ? SIGCONT : SIGKILL);
  }
  // The held process exited on its own account (killed by someone else).
  virtual void forget_hold(uint32_t pid) { (void)pid; }
  // Processes the kernel stopped for pause rules (bpf map "held").
  virtual std::vector<KernelHold> kernel_holds() { return {}; }
  // Called whenever the open holds change (persisted for a restart).
  virtual void holds_changed(const std::vector<Hold>& open, bool default_allow) {
    (void)open, (void)default_allow;
  }
  // Periodic upkeep (reaping ptrace notifications), from Enforcer::tick.
  virtual void maintain() {}
  virtual void block_llm(uint32_t agent_root, uint32_t budget_plus1) = 0;  // 0: unblock
  virtual void add_llm_endpoint(const std::array<uint8_t, 16>& addr, uint16_t port) = 0;
  virtual void add_network_entry(const rein_net_key& key, const rein_rule& rule) = 0;
};

class Enforcer {
 public:
  Enforcer(policy::Policy policy, Actuator& actuator);

  const policy::Policy& policy() const { return policy_; }
  // The kernel matched a rule (rule_index as the kernel reports it) and did `outcome`.
  Decision from_kernel(std::string_view kind, uint32_t rule_index, uint8_t action,
                       uint8_t outcome, std::string what, const Subject& who, uint64_t now_ns);
  Decision budget_refusal(uint32_t budget_index, std::string what, const Subject& who);
  // A detection whose policy action is not alert (docs/detections.md): the effects of a
  // budget's action of the same name, on the agent's root process.
  Decision on_detection(const Subject& who, std::string_view kind, policy::DetectionAction action,
                        std::string what, uint64_t now_ns);
  // The blocked_agents value of an agent blocked by a detection (budgets use index + 1).
  static constexpr uint32_t kDetectionBlock = 0x10000;
  std::vector<Decision> on_exec(const Subject& who, const std::string& exe,
                                const std::vector<std::string>& args, uint64_t now_ns,
                                bool fileless = false);
  std::vector<Decision> on_file(const Subject& who, std::string_view op, const std::string& path,
                                const std::string& path2, uint64_t now_ns);
  std::vector<Decision> on_llm(const Subject& who, const llm::LlmCall& call,
                               const std::string& peer_address, uint16_t peer_port,
                               uint64_t now_ns);
  void on_dns(const Subject& who, const std::string& query, const std::vector<std::string>& addrs);
  // The Host header of a request the process sent (TLS plaintext or plain HTTP): host-name
  // rules act on it after the fact, for names reached without a DNS answer we saw.
  std::vector<Decision> on_http_host(const Subject& who, const std::string& host, uint64_t now_ns);
  // The server name of a TLS connection the process opened: host-name rules act on the
  // process (after the fact) and the peer address is refused from then on.
  std::vector<Decision> on_tls_sni(const Subject& who, const std::string& sni,
                                   const std::string& peer_address, uint64_t now_ns);
  void on_process_exit(uint32_t pid);
  // A REIN_REC_HOLD record: someone sent SIGCONT to a held process (sender = who), or a
  // held process ran again and the kernel stopped it again. Reported at the next tick.
  void on_hold_event(const rein_hold_event& e, uint64_t now_ns);
  // Holds a restart found open (hold_store.h): reported at the next tick.
  void note(Decision d);
  std::vector<Decision> tick(uint64_t now_ns);
  // "holds" | "approve ID" | "deny ID": the JSON reply and what it decided. "shutdown" (rein
  // stopping; not served on the control socket) ends every hold by the policy default.
  std::pair<std::string, std::vector<Decision>> control(const std::string& request, uint64_t now_ns);
  size_t holds() const { return holds_.size(); }
  // On reload: keep the holds (their processes are stopped and wait for a human), the agents
  // blocked by budgets and the LLM endpoints learned. Budget windows restart.
  void adopt(Enforcer&& old);

 private:
  std::string rule_name(uint32_t index) const;
  std::vector<Decision> host_rules(const Subject& who, const std::string& host, uint64_t now_ns,
                                   const char* how);
  policy::AgentRef ref(const Subject& who) const;
  Decision act(uint32_t rule_index, policy::Action action, std::string_view kind, std::string what,
               const Subject& who, uint64_t now_ns, std::string detail);
  Decision hold(Decision d, const Subject& who, uint64_t now_ns, uint32_t rule_index = 0xffffffff);
  std::string rule_kind(uint32_t index) const;
  bool default_allow() const;
  void persist();
  std::vector<Decision> adopt_unclaimed(uint64_t now_ns);
  Decision release(const Hold& h, bool approve, std::string detail);
  std::vector<Decision> budget_transitions(const std::vector<policy::BudgetTransition>& ts,
                                           const Subject* who, uint64_t now_ns);

  policy::Policy policy_;
  Actuator& act_;
  HoldRegistry holds_;
  std::vector<Decision> notes_;  // hold events and restart results, reported at the next tick
  uint64_t notes_dropped_ = 0;
  policy::BudgetTracker budgets_;
  std::map<std::string, std::set<uint32_t>> roots_by_name_;  // for per-name budgets
  std::set<std::pair<std::string, uint32_t>> blocked_;       // (budget key, agent root)
  std::map<std::string, uint32_t> blocked_names_;  // per-name budgets over: name -> budget + 1
  std::set<std::pair<std::array<uint8_t, 16>, uint16_t>> endpoints_;
  std::set<std::pair<std::array<uint8_t, 16>, uint32_t>> learned_;  // (address, rule)
};

}  // namespace rein::enforce
