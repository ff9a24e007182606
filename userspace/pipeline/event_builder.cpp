#include "pipeline/event_builder.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fmt/format.h>

#include "common/secret_redaction.h"
#include "process/container_id.h"

namespace rein::pipeline {

namespace {
int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Clock::Clock() : offset_ns_(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME)) {}

uint64_t Clock::boot_now_ns() { return static_cast<uint64_t>(clock_ns(CLOCK_BOOTTIME)); }

int64_t Clock::realtime_ns(uint64_t boot_ns) const {
  // Saturate rather than overflow on a nonsense stamp (replayed or corrupt records).
  constexpr uint64_t kMax = uint64_t(INT64_MAX) / 2;
  int64_t real = static_cast<int64_t>(std::min(boot_ns, kMax)) + offset_ns_;
  return real < 0 ? 0 : real;
}

std::string Clock::rfc3339(uint64_t boot_ns) const {
  const int64_t real = realtime_ns(boot_ns);
  time_t secs = real / 1'000'000'000;
  long nanos = real % 1'000'000'000;
  tm t{};
  gmtime_r(&secs, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, nanos);
}

sinks::JsonWriter& EventBuilder::begin(std::string_view type, uint64_t boot_ns,
                                       const ProcessView& proc, const process::Agent* agent) {
  w_.clear();
  w_.begin_object();
  w_.key("type");
  w_.string(type);
  w_.key("time");
  w_.string(time_text(boot_ns));
  w_.key("process");
  auto k8s = k8s_identity(proc.cgroup);
  if (process_blocks_.size() >= kMaxBlocks && !process_blocks_.count(proc.pid))
    process_blocks_.clear();
  auto [pb, fresh_pid] = process_blocks_.try_emplace(proc.pid);
  if (fresh_pid || !process_block_fresh(pb->second, proc, k8s))
    render_process_block(pb->second, proc, std::move(k8s));
  w_.raw(pb->second.json);
  w_.key("agent");
  if (agent) {
    if (agent_blocks_.size() >= kMaxBlocks && !agent_blocks_.count(agent->root_pid))
      agent_blocks_.clear();
    auto [ab, fresh_agent] = agent_blocks_.try_emplace(agent->root_pid);
    if (fresh_agent || ab->second.id != agent->id || ab->second.name != agent->name)
      render_agent_block(ab->second, *agent);
    w_.raw(ab->second.json);
  } else {
    w_.null();
  }
  return w_;
}

bool EventBuilder::process_block_fresh(const ProcessBlock& b, const ProcessView& proc,
                                       const std::optional<process::K8sIdentity>& k8s) {
  const auto* p = proc.info;
  if (b.has_info != (p != nullptr) || b.cgroup != proc.cgroup || b.k8s != k8s) return false;
  return !p || (b.ppid == p->ppid && b.uid == p->uid && b.comm == p->comm && b.exe == p->exe &&
                b.args == p->args);
}

void EventBuilder::render_process_block(ProcessBlock& b, const ProcessView& proc,
                                        std::optional<process::K8sIdentity> k8s) {
  b.has_info = proc.info != nullptr;
  b.cgroup = proc.cgroup;
  b.k8s = std::move(k8s);
  if (const auto* p = proc.info) {
    b.ppid = p->ppid;
    b.uid = p->uid;
    b.comm = p->comm;
    b.exe = p->exe;
    b.args = p->args;
  }
  sinks::JsonWriter& w = scratch_;
  w.clear();
  w.begin_object();
  w.key("pid");
  w.number(uint64_t(proc.pid));
  const auto* p = proc.info;
  auto str_or_null = [&](const char* k, const std::string* v) {
    w.key(k);
    if (v) w.string(*v); else w.null();
  };
  w.key("ppid");
  if (p) w.number(uint64_t(p->ppid)); else w.null();
  w.key("uid");
  if (p) w.number(uint64_t(p->uid)); else w.null();
  str_or_null("comm", p ? &p->comm : nullptr);
  str_or_null("exe", p && !p->exe.empty() ? &p->exe : nullptr);
  w.key("args");
  if (p) {
    w.begin_array();
    ArgState state = ArgState::kPlain;
    for (const auto& a : p->args) {
      ArgState next = ArgState::kPlain;
      w.string(redact_arg(a, state, &next));
      state = next;
    }
    w.end_array();
  } else {
    w.null();
  }
  w.key("cgroup");
  if (!proc.cgroup.empty()) w.string(proc.cgroup); else w.null();
  w.key("container_id");
  if (auto id = process::container_id_from_cgroup(proc.cgroup)) w.string(*id); else w.null();
  w.key("k8s");
  if (const auto& k = b.k8s) {
    // Only what was established: a field kubelet's log tree did not give is absent.
    w.begin_object();
    if (k->ns) {
      w.key("namespace");
      w.string(*k->ns);
    }
    if (k->pod) {
      w.key("pod");
      w.string(*k->pod);
    }
    w.key("pod_uid");
    w.string(k->pod_uid);
    if (k->container) {
      w.key("container");
      w.string(*k->container);
    }
    if (k->labels) {
      w.key("labels");
      w.begin_object();
      for (const auto& [name, value] : *k->labels) {
        w.key(name);
        w.string(value);
      }
      w.end_object();
    }
    w.end_object();
  } else {
    w.null();
  }
  w.end_object();
  b.json = w.str();
}

void EventBuilder::render_agent_block(AgentBlock& b, const process::Agent& agent) {
  b.id = agent.id;
  b.name = agent.name;
  sinks::JsonWriter& w = scratch_;
  w.clear();
  w.begin_object();
  w.key("id");
  w.string(agent.id);
  w.key("name");
  w.string(agent.name);
  w.key("root_pid");
  w.number(uint64_t(agent.root_pid));
  w.end_object();
  b.json = w.str();
}

const std::string& EventBuilder::time_text(uint64_t boot_ns) {
  const int64_t real = clock_.realtime_ns(boot_ns);
  const int64_t secs = real / 1'000'000'000;
  if (secs != time_secs_) {
    time_text_ = clock_.rfc3339(boot_ns);
    time_prefix_ = time_text_.substr(0, time_text_.size() - 10);  // less the nanoseconds and "Z"
    time_secs_ = secs;
    return time_text_;
  }
  time_text_.assign(time_prefix_);
  char digits[9];
  for (int64_t i = 8, n = real % 1'000'000'000; i >= 0; i--, n /= 10) digits[i] = char('0' + n % 10);
  time_text_.append(digits, 9);
  time_text_ += 'Z';
  return time_text_;
}

std::optional<process::K8sIdentity> EventBuilder::k8s_identity(std::string_view cgroup) {
  return k8s_ ? k8s_->resolve(cgroup) : process::k8s_identity_from_cgroup(cgroup);
}

const std::string& EventBuilder::finish() {
  w_.end_object();
  return w_.str();
}

}  // namespace rein::pipeline
