#include "pipeline/replay_kernel.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include "common/fnv1a.h"
#include "decode/records.h"
#include "enforce/rule_dirs.h"
#include "rein/abi/rule_eval.h"

namespace rein::pipeline {

namespace {
constexpr size_t kMaxRoots = 65536;  // bounds the root -> selector map on a long capture
constexpr size_t kMaxLearned = 65536;

// What enforce_rule_index (bpf/policy.bpf.h) does for a matched file or exec rule.
uint8_t file_outcome(uint8_t action) {
  if (action == REIN_ACT_DENY) return REIN_OUT_KILLED;
  if (action == REIN_ACT_PAUSE) return REIN_OUT_PAUSED;
  return REIN_OUT_AUDITED;
}

std::optional<std::array<uint8_t, 16>> mapped_address(const decode::ConnectRec& c) {
  std::array<uint8_t, 16> a{};
  if (c.family == AF_INET) {
    a[10] = a[11] = 0xff;
    if (inet_pton(AF_INET, c.address.c_str(), a.data() + 12) != 1) return std::nullopt;
    return a;
  }
  if (c.family == AF_INET6 && inet_pton(AF_INET6, c.address.c_str(), a.data()) == 1) return a;
  return std::nullopt;
}

template <class T>
void put_verdict(std::string& bytes, size_t rule_off, uint32_t rule_plus1, uint8_t action,
                 uint8_t outcome) {
  if (bytes.size() < sizeof(T)) return;
  std::memcpy(bytes.data() + rule_off, &rule_plus1, sizeof(rule_plus1));
  bytes[rule_off + 4] = char(action);
  bytes[rule_off + 5] = char(outcome);
}
}  // namespace

ReplayKernel::ReplayKernel(enforce::KernelPolicy k, std::vector<uint32_t> classes,
                           std::array<rein_rule, 64> file_scope,
                           std::array<rein_rule, 64> net_scope)
    : compiled_(std::move(k)),
      model_(compiled_),
      classes_(std::move(classes)),
      file_scope_(file_scope),
      net_scope_(net_scope) {}

Result<std::unique_ptr<ReplayKernel>> ReplayKernel::build(const policy::Policy& p,
                                                          std::vector<uint32_t> selector_classes) {
  auto k = enforce::compile_policy(p);
  if (!k) return k.error();
  return std::unique_ptr<ReplayKernel>(new ReplayKernel(std::move(*k), std::move(selector_classes),
                                                        enforce::file_scope_rules(p),
                                                        enforce::network_scope_rules(p)));
}

void ReplayKernel::on_track(uint32_t root, uint32_t sel) {
  if (root_selector_.size() >= kMaxRoots && !root_selector_.count(root)) root_selector_.clear();
  root_selector_[root] = sel;
}

// bpf/policy.bpf.h scope_bit(): untracked processes are in no scope; a root the replay has
// not seen tracked counts as the class a selector without one gets (REIN_CLASS_CLI).
uint64_t ReplayKernel::scope_of(uint32_t agent_root) const {
  if (!agent_root) return 0;
  auto it = root_selector_.find(agent_root);
  if (it != root_selector_.end() && it->second == 0xffffffff) return 1ULL << REIN_CLASS_DISCOVERED;
  uint32_t c = REIN_CLASS_CLI;
  if (it != root_selector_.end() && it->second < classes_.size()) c = classes_[it->second];
  return c < 64 ? 1ULL << c : 0;
}

void ReplayKernel::add_network_entry(const rein_net_key& key, const rein_rule& rule) {
  std::array<uint8_t, 16> a{};
  std::memcpy(a.data(), key.addr, 16);
  (void)model_.learn(a, rule);
}

void ReplayKernel::add_llm_endpoint(const std::array<uint8_t, 16>& addr, uint16_t port) {
  if (endpoints_.size() < kMaxLearned) endpoints_.insert({addr, port});
}

void ReplayKernel::block_llm(uint32_t agent_root, uint32_t budget_plus1) {
  if (!budget_plus1) {
    blocked_.erase(agent_root);
    return;
  }
  if (blocked_.size() < kMaxLearned) blocked_[agent_root] = budget_plus1;
}

std::optional<std::string> ReplayKernel::judge(std::string& bytes) {
  if (bytes.size() < sizeof(rein_hdr)) return std::nullopt;
  rein_hdr h{};
  std::memcpy(&h, bytes.data(), sizeof(h));
  switch (h.kind) {
    case REIN_REC_CONNECT:
      return judge_connect(bytes);
    case REIN_REC_EXEC:
      judge_exec(bytes);
      return std::nullopt;
    case REIN_REC_MECHANISM:
      judge_exec_map(bytes);
      judge_scope_ban(bytes);
      return std::nullopt;
    case REIN_REC_FILE: {
      if (!h.agent) return std::nullopt;
      auto r = decode::decode_record(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      if (!r || !std::holds_alternative<decode::FileRec>(*r)) return std::nullopt;
      const auto& f = std::get<decode::FileRec>(*r);
      const uint64_t scope = scope_of(h.agent);
      auto v = model_.file(f.path, f.op, scope);
      // rename/link: both names are decided and the more severe rule acts (bpf/file.bpf.h)
      if ((f.op == REIN_OP_RENAME || f.op == REIN_OP_LINK) && !f.path2.empty()) {
        auto v2 = model_.file(f.path2, f.op, scope);
        if (v2.action != REIN_ACT_NONE && rein_severity(v2.action) > rein_severity(v.action))
          v = v2;
      }
      if (v.action != REIN_ACT_NONE)
        put_verdict<rein_file>(bytes, offsetof(rein_file, rule), v.rule + 1, v.action,
                               file_outcome(v.action));
      return std::nullopt;
    }
    case REIN_REC_FILE_OPEN: {
      if (!h.agent) return std::nullopt;
      auto r = decode::decode_record(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      if (!r || !std::holds_alternative<decode::FileOpenRec>(*r)) return std::nullopt;
      const auto& f = std::get<decode::FileOpenRec>(*r);
      uint32_t op = (f.flags & REIN_F_CREATED)     ? REIN_OP_CREATE
                    : (f.flags & REIN_F_TRUNCATED) ? REIN_OP_TRUNCATE
                                                   : REIN_OP_WRITE;
      auto v = model_.file(f.path, op, scope_of(h.agent));
      if (v.action != REIN_ACT_NONE)
        put_verdict<rein_file_open>(bytes, offsetof(rein_file_open, rule), v.rule + 1, v.action,
                                    file_outcome(v.action));
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

// bpf/policy.bpf.h net_policy(): a connect of a tracked process; an agent blocked by a
// budget is refused at LLM endpoints first, else the network rules decide.
std::optional<std::string> ReplayKernel::judge_connect(const std::string& bytes) {
  auto r = decode::decode_record(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!r || !std::holds_alternative<decode::ConnectRec>(*r)) return std::nullopt;
  const auto& c = std::get<decode::ConnectRec>(*r);
  if (!c.h.agent) return std::nullopt;
  auto addr = mapped_address(c);
  if (!addr) return std::nullopt;
  rein_policy_net e{};
  e.h.kind = REIN_REC_POLICY_NET;
  e.h.abi = REIN_ABI_VERSION;
  e.h.size = sizeof(e);
  e.h.ts_ns = c.h.ts_ns;
  e.h.pid = c.h.pid;
  e.h.tgid = c.h.tgid;
  e.h.agent = c.h.agent;
  e.h.uid = c.h.uid;
  auto b = blocked_.find(c.h.agent);
  if (b != blocked_.end() && endpoints_.count({*addr, c.port})) {
    e.budget = b->second;
    e.action = REIN_ACT_DENY;
  } else {
    auto v = model_.connect(*addr, c.port, scope_of(c.h.agent));
    if (v.action == REIN_ACT_NONE) return std::nullopt;
    e.rule = v.rule;
    e.action = v.action;
  }
  // pause cannot hold a connect in a cgroup hook: it refuses, like deny
  e.outcome = e.action == REIN_ACT_AUDIT ? REIN_OUT_AUDITED : REIN_OUT_PREVENTED;
  e.port = c.port;
  std::memcpy(e.addr, addr->data(), 16);
  e.family = c.family == AF_INET6 ? 10 : 2;
  e.hook = c.family == AF_INET6 ? 6 : 4;
  return std::string(reinterpret_cast<const char*>(&e), sizeof(e));
}

// bpf/policy.bpf.h match_exec(): a path (its first REIN_PATH_KEY bytes) and its basename, by
// FNV-1a 64, decide together; for a fileless program the fileless rules stand in for the
// basename's. REIN_ACT_NONE when no rule acts.
ReplayKernel::ExecVerdict ReplayKernel::exec_verdict(std::string_view path, uint32_t root,
                                                     bool fileless) const {
  // bpf/policy.bpf.h match_exec(): a path past the key's length by its last bytes (its
  // basename), and no full-path match
  const bool longer = path.size() > REIN_PATH_KEY;
  const std::string_view key = longer ? path.substr(path.size() - REIN_PATH_KEY) : path;
  const size_t slash = key.rfind('/');
  const uint64_t full = longer ? 0 : fnv1a64(key);
  const uint64_t base = fileless ? REIN_EXEC_FILELESS_HASH
                                 : fnv1a64(slash == std::string_view::npos ? key : key.substr(slash + 1));
  const rein_rule_set* sets[2] = {nullptr, nullptr};
  for (const auto& [hash, set] : compiled_.exec_sets) {
    if (hash == full) sets[0] = &set;
    if (hash == base) sets[1] = &set;
  }
  rein_eval_query q{};
  q.scope = scope_of(root);
  q.op = 0;
  q.path_len = uint32_t(path.size());
  rein_eval_state st;
  rein_eval_init(&st);
  for (auto* s : sets)
    if (s) rein_eval_rules(s, &q, &st);
  for (auto* s : sets)
    if (s) rein_eval_otherwise(s, &q, &st);
  return {st.rule, st.action};
}

// bpf/process.bpf.h emit_process(): the file the kernel ran, then the absolute name it was
// exec'd by (a rule on a symlink or a script's name).
void ReplayKernel::judge_exec(std::string& bytes) {
  auto r = decode::decode_record(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!r || !std::holds_alternative<decode::ExecRec>(*r)) return;
  const auto& x = std::get<decode::ExecRec>(*r);
  if (x.flags & REIN_F_NEW_AGENT)
    on_track(x.h.tgid, (x.flags & REIN_F_DISCOVERED) ? 0xffffffff : x.selector);
  const uint32_t root = x.h.agent ? x.h.agent : ((x.flags & REIN_F_NEW_AGENT) ? x.h.tgid : 0);
  if (!root || compiled_.exec_sets.empty() || x.exe.empty() || (x.flags & REIN_F_DISCOVERED))
    return;
  ExecVerdict v = exec_verdict(x.exe, root, x.flags & REIN_F_FILELESS);
  if (v.action == REIN_ACT_NONE && x.exec_name.starts_with('/'))
    v = exec_verdict(x.exec_name, root);
  if (v.action != REIN_ACT_NONE)
    put_verdict<rein_exec>(bytes, offsetof(rein_exec, rule), v.rule + 1, v.action,
                           file_outcome(v.action));
}

// bpf/file_extra.bpf.h exec_map_check(): a file mapped as code, judged by the exec rules.
void ReplayKernel::judge_exec_map(std::string& bytes) {
  auto r = decode::decode_record(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  if (!r || !std::holds_alternative<decode::MechanismRec>(*r)) return;
  const auto& m = std::get<decode::MechanismRec>(*r);
  if (m.mechanism != REIN_MECH_EXEC_MAP || !m.h.agent || compiled_.exec_sets.empty()) return;
  const ExecVerdict v = exec_verdict(m.path, m.h.agent);
  if (v.action != REIN_ACT_NONE)
    put_verdict<rein_mechanism>(bytes, offsetof(rein_mechanism, rule), v.rule + 1, v.action,
                                file_outcome(v.action));
}

// bpf/file_extra.bpf.h io_uring_enter_check(), bpf/net.bpf.h raw_socket_check() and
// bpf/sensor_guard.bpf.h: what is banned under any rule of a kind, by the process's class.
void ReplayKernel::judge_scope_ban(std::string& bytes) {
  if (bytes.size() < sizeof(rein_mechanism)) return;
  rein_mechanism m{};
  std::memcpy(&m, bytes.data(), sizeof(m));
  const uint64_t scope = scope_of(m.h.agent);
  if (!scope) return;
  const unsigned c = static_cast<unsigned>(__builtin_ctzll(scope));
  const rein_rule* r = nullptr;
  bool net = false;
  switch (m.mechanism) {
    case REIN_MECH_IO_URING_SETUP:
    case REIN_MECH_IO_URING_ENTER:
    case REIN_MECH_IO_URING_REGISTER: r = &file_scope_[c]; break;
    case REIN_MECH_RAW_SOCKET: r = &net_scope_[c]; break;
    case REIN_MECH_SENSOR_TAMPER:
      if (m.flags & REIN_TAMPER_AT_SENSOR) {  // aimed at the sensor's process: killed whatever the policy
        put_verdict<rein_mechanism>(bytes, offsetof(rein_mechanism, rule), 0, REIN_ACT_DENY,
                                    REIN_OUT_KILLED);
        return;
      }
      r = &file_scope_[c];
      if (!r->ops) {
        r = &net_scope_[c];
        net = true;
      }
      break;
    default: return;
  }
  if (!r->ops) return;
  put_verdict<rein_mechanism>(bytes, offsetof(rein_mechanism, rule), r->rule + 1, r->action,
                              REIN_OUT_KILLED);
  if (m.mechanism == REIN_MECH_SENSOR_TAMPER) {
    const uint32_t flags = (m.flags & ~REIN_TAMPER_NET_RULE) | (net ? REIN_TAMPER_NET_RULE : 0);
    std::memcpy(bytes.data() + offsetof(rein_mechanism, flags), &flags, sizeof(flags));
  }
}

}  // namespace rein::pipeline
