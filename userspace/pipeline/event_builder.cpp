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

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool secret_flag_name(std::string_view name) {
  std::string n = lower(name);
  for (const char* w :
       {"key", "token", "secret", "password", "passwd", "credential", "auth", "cookie", "signature"})
    if (n.find(w) != std::string::npos) return true;
  return n == "sig" || n == "pwd";  // Azure SAS signatures; ODBC's Pwd=
}

bool identifier(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

bool looks_like_key(std::string_view v) { return !secret_token_class(v).empty(); }

// Each key-shaped token becomes the marker (common/secret_redaction.h: one list for every
// place that redacts).
std::string mask_key_tokens(std::string_view s) {
  return redact_secret_tokens(s, RedactionMarker::kPlain);
}

// Values of credential-named assignments inside an argument: query parameters
// (?key=..., &access_token=...) and the key=value lists of connection strings
// ("host=db user=app password=...", "Server=x;Pwd=...").
std::string mask_assignments(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (size_t eq = s.find('='); eq != std::string_view::npos; eq = s.find('=', eq + 1)) {
    if (eq < i) continue;  // inside a value already masked
    size_t start = eq;
    while (start > i && (std::isalnum(static_cast<unsigned char>(s[start - 1])) ||
                         s[start - 1] == '_' || s[start - 1] == '-' || s[start - 1] == '.'))
      start--;
    if (start == eq || (start > 0 && !std::strchr("?& \t;,\"'", s[start - 1]))) continue;
    if (!secret_flag_name(s.substr(start, eq - start))) continue;
    out.append(s.substr(i, eq + 1 - i));
    out += "[redacted]";
    i = std::min(s.find_first_of("& \t;,#\"'", eq + 1), s.size());
  }
  out.append(s.substr(std::min(i, s.size())));
  return out;
}

// Credentials inside a longer argument, in the shapes tools take them: a header value
// (curl -H "Authorization: Bearer ..."), a URL password (https://u:pw@host), a query
// parameter (?key=...), or a key-shaped token anywhere ("x-api-key: sk-...").
std::string redact_inside(std::string_view arg) {
  if (auto colon = arg.find(':');
      colon != std::string_view::npos && arg.substr(colon, 3) != "://") {
    size_t start = colon;
    while (start > 0 && (std::isalnum(static_cast<unsigned char>(arg[start - 1])) ||
                         arg[start - 1] == '-' || arg[start - 1] == '_'))
      start--;
    auto name = arg.substr(start, colon - start);
    if (!name.empty() &&
        (secret_flag_name(name) || lower(name).find("cookie") != std::string::npos))
      return std::string(arg.substr(0, colon + 1)) + " [redacted]";
  }
  return mask_key_tokens(mask_assignments(redact_url_passwords(arg)));
}

// Flags whose value is a credential only in some shapes: curl's -u/--user user:password
// (the password part) and -b/--cookie name=value (a bare word there is a cookie file).
bool user_flag(std::string_view a) { return a == "-u" || a == "--user" || a == "--proxy-user"; }
bool cookie_flag(std::string_view a) { return a == "-b"; }

std::string redact_user_value(std::string_view v) {
  const size_t colon = v.find(':');
  if (colon == std::string_view::npos) return std::string(v);
  return std::string(v.substr(0, colon + 1)) + "[redacted]";
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

std::string redact_arg(std::string_view arg, bool previous_was_secret_flag, bool* is_secret_flag) {
  ArgState next = ArgState::kPlain;
  std::string out = redact_arg(arg, previous_was_secret_flag ? ArgState::kSecret : ArgState::kPlain, &next);
  *is_secret_flag = next == ArgState::kSecret;
  return out;
}

std::string redact_arg(std::string_view arg, ArgState previous, ArgState* next) {
  *next = ArgState::kPlain;
  if (previous == ArgState::kSecret) return "[redacted]";
  if (previous == ArgState::kUser && arg.find(':') != std::string_view::npos)
    return redact_user_value(arg);
  if (previous == ArgState::kCookie && arg.find('=') != std::string_view::npos) return "[redacted]";
  if (user_flag(arg) || cookie_flag(arg)) {
    *next = user_flag(arg) ? ArgState::kUser : ArgState::kCookie;
    return std::string(arg);
  }
  if (auto eq = arg.find('='); eq != std::string_view::npos && user_flag(arg.substr(0, eq)))
    return std::string(arg.substr(0, eq + 1)) + redact_user_value(arg.substr(eq + 1));
  if (arg.size() > 2 && arg[0] == '-') {
    auto eq = arg.find('=');
    std::string_view name = arg.substr(0, eq);
    if (secret_flag_name(name)) {
      if (eq == std::string_view::npos) {
        *next = ArgState::kSecret;
        return std::string(arg);
      }
      return std::string(arg.substr(0, eq + 1)) + "[redacted]";
    }
  }
  // NAME=value assignments (env -i FOO_API_KEY=... cmd)
  if (auto eq = arg.find('='); eq != std::string_view::npos && eq > 0 && arg[0] != '-' &&
                               identifier(arg.substr(0, eq)) && secret_flag_name(arg.substr(0, eq)))
    return std::string(arg.substr(0, eq + 1)) + "[redacted]";
  if (looks_like_key(arg)) return "[redacted]";
  return redact_inside(arg);
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
