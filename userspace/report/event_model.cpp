#include "report/event_model.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/rfc3339.h"
#include "llm/json_util.h"

namespace rein::report {

namespace json = llm::json;

namespace {

constexpr int64_t kNsPerSec = 1000000000;
constexpr int64_t kNsPerDay = kNsPerSec * 86400;

std::optional<int64_t> integer(json::Element e, std::string_view key) {
  auto v = json::field(e, key);
  if (!v) return std::nullopt;
  int64_t i;
  if (!v->get_int64().get(i)) return i;
  uint64_t u;
  if (!v->get_uint64().get(u)) return u > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(u);
  double d;
  if (!v->get_double().get(d) && d >= -9e18 && d <= 9e18) return static_cast<int64_t>(d);
  return std::nullopt;
}

std::string text(json::Element e, std::string_view key, size_t max) {
  auto s = json::str(e, key);
  return s ? clip(*s, max) : std::string();
}

// The hex digest of a "sha256" member, or of "<prefix>_sha256" at the event's top level
// (both shapes are accepted: the config.mutation producer is newer than this reader).
void hash_and_size(json::Element ev, std::string_view side, size_t max, std::string* sha,
                   std::optional<int64_t>* size) {
  if (auto o = json::field(ev, side); o && json::is_object(*o)) {
    *sha = text(*o, "sha256", max);
    *size = integer(*o, "size");
    return;
  }
  *sha = text(ev, std::string(side) + "_sha256", max);
  *size = integer(ev, std::string(side) + "_size");
}

// One argv element, unambiguous when joined with spaces: quoted (JSON-style escapes) when it
// is empty or holds whitespace, quotes, backslashes or control characters, so an agent
// cannot make two arguments look like one or hide a line break.
void append_arg(std::string& out, std::string_view a) {
  bool plain = !a.empty();
  for (char c : a) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\' || c == '\'' || c == 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(a);
    return;
  }
  out += '"';
  for (char c : a) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += '"';
}

template <typename Row>
void keep(Section<Row>& s, size_t max, Row row) {
  ++s.total;
  if (s.rows.size() < max) s.rows.push_back(std::move(row));
}

bool is_denial(std::string_view outcome) {
  return outcome == "prevented" || outcome == "killed" || outcome == "denied";
}

}  // namespace

std::string clip(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  // Back up to the start of a UTF-8 sequence so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out(s.substr(0, cut));
  out += "\xE2\x80\xA6";  // …
  return out;
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  // Sensor times are after 1970 and before 2262: anything outside (saturated) is not a time
  // we can place, and keeping times non-negative keeps every difference of two of them, such
  // as a duration, from overflowing.
  auto t = rein::parse_rfc3339_ns(s);
  if (!t || *t < 0 || *t >= INT64_MAX - kNsPerSec) return std::nullopt;
  return t;
}

Result<TimeBound> parse_time_bound(std::string_view s) {
  TimeBound b;
  int h, mi, sec = 0;
  if ((s.size() == 5 || s.size() == 8) && rein::fixed_digits(s, 0, 2, &h) && s[2] == ':' &&
      rein::fixed_digits(s, 3, 2, &mi) &&
      (s.size() == 5 || (s[5] == ':' && rein::fixed_digits(s, 6, 2, &sec)))) {
    if (h > 23 || mi > 59 || sec > 59)
      return make_error(fmt::format("'{}' is not a time of day (HH:MM or HH:MM:SS)", s));
    b.day_offset_ns = (int64_t(h) * 3600 + mi * 60 + sec) * kNsPerSec;
    return b;
  }
  if (auto t = parse_rfc3339(s)) {
    b.abs_ns = *t;
    return b;
  }
  return make_error(fmt::format(
      "'{}' is not a time: use RFC 3339 (2026-11-30T14:02:00Z) or HH:MM[:SS] (UTC, on the day "
      "of the first event)",
      clip(s, 80)));
}

struct EventModel::Impl {
  json::DocParser doc;
};

EventModel::EventModel(Filter filter, Limits limits)
    : filter_(std::move(filter)), limits_(limits), impl_(std::make_unique<Impl>()) {
  auto absolute = [](const std::optional<TimeBound>& b) -> std::optional<int64_t> {
    return b ? b->abs_ns : std::nullopt;
  };
  from_ns_ = absolute(filter_.from);
  to_ns_ = absolute(filter_.to);
  bounds_resolved_ =
      !(filter_.from && filter_.from->day_offset_ns) && !(filter_.to && filter_.to->day_offset_ns);
}

EventModel::~EventModel() = default;

bool EventModel::in_range(int64_t t) {
  if (!bounds_resolved_) {
    // The first timed event fixes the day that HH:MM bounds refer to.
    int64_t day = t >= 0 ? t / kNsPerDay : (t - kNsPerDay + 1) / kNsPerDay;
    if (filter_.from && filter_.from->day_offset_ns)
      from_ns_ = day * kNsPerDay + *filter_.from->day_offset_ns;
    if (filter_.to && filter_.to->day_offset_ns)
      to_ns_ = day * kNsPerDay + *filter_.to->day_offset_ns;
    bounds_resolved_ = true;
  }
  if (from_ns_ && t < *from_ns_) return false;
  if (to_ns_ && t >= *to_ns_) return false;
  return true;
}

AgentRow* EventModel::agent_row(std::string_view id, std::string_view name,
                                std::optional<int64_t> root) {
  auto key = clip(id, limits_.max_string);
  auto it = agent_index_.find(key);
  if (it == agent_index_.end()) {
    if (agents_.size() >= limits_.max_agents) {
      if (agent_index_.size() < limits_.max_agents + limits_.max_distinct) {
        agent_index_.emplace(key, SIZE_MAX);  // remembered, so it is counted once
        ++agents_dropped_;
      }
      return nullptr;
    }
    AgentRow row;
    row.id = key;
    row.name = clip(name, limits_.max_string);
    row.root_pid = root;
    it = agent_index_.emplace(std::move(key), agents_.size()).first;
    agents_.push_back(std::move(row));
  }
  if (it->second == SIZE_MAX) return nullptr;
  return &agents_[it->second];
}

void EventModel::add_host(std::string host) {
  if (host.empty()) return;
  if (summary_.hosts.size() < limits_.max_distinct)
    summary_.hosts.insert(std::move(host));
  else if (!summary_.hosts.count(host))
    summary_.hosts_capped = true;
}

void EventModel::feed(std::string_view line) {
  ++stats_.lines;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty() || line.find_first_not_of(" \t") == std::string_view::npos) {
    ++stats_.blank;
    return;
  }
  if (line.size() > limits_.max_line_bytes) {
    ++stats_.oversized;
    return;
  }
  json::Element ev;
  if (impl_->doc.parse(line, ev) != json::DocParser::Status::kOk || !json::is_object(ev)) {
    ++stats_.bad;
    return;
  }
  auto type_sv = json::str(ev, "type");
  if (!type_sv || type_sv->empty()) {
    ++stats_.bad;
    return;
  }
  const std::string type = clip(*type_sv, 64);
  std::optional<int64_t> time;
  if (auto ts = json::str(ev, "time")) time = parse_rfc3339(*ts);
  if (!time) ++stats_.untimed;
  const bool time_filtered = filter_.from || filter_.to;
  if (time) {
    if (!in_range(*time)) {
      ++stats_.filtered_out;
      return;
    }
  } else if (time_filtered) {
    ++stats_.filtered_out;  // an event without a time cannot be placed in the window
    return;
  }
  const int64_t t = time.value_or(0);

  std::string agent_id, agent_name;
  std::optional<int64_t> root_pid;
  if (auto ag = json::field(ev, "agent"); ag && json::is_object(*ag)) {
    agent_id = text(*ag, "id", limits_.max_string);
    agent_name = text(*ag, "name", limits_.max_string);
    root_pid = integer(*ag, "root_pid");
  }
  std::optional<int64_t> pid;
  std::optional<json::Element> proc;
  if (auto p = json::field(ev, "process"); p && json::is_object(*p)) {
    proc = *p;
    pid = integer(*p, "pid");
  }

  if (type == "sensor.health") {
    // Sensor-wide: whether the record is complete matters for every agent's report.
    std::string state = text(ev, "state", 64);
    if (!state.empty()) summary_.sensor_state = state;
    if (auto k = json::field(ev, "kernel"); k && json::is_object(*k)) {
      int64_t drops = 0;
      simdjson::dom::object obj;
      if (!k->get_object().get(obj)) {
        for (auto field : obj) {
          if (field.key.substr(0, 5) != "drop_") continue;
          int64_t v;
          if (!field.value.get_int64().get(v) && v > 0 && drops <= INT64_MAX - v) drops += v;
        }
      }
      summary_.sensor_drops = std::max(summary_.sensor_drops, drops);
    }
    if (!filter_.agent.empty() || state == "running" || state.empty()) return;
    ++summary_.events;
    TimelineRow row{t, type, "", "sensor " + state, pid, state == "policy_rejected"};
    if (state == "policy_rejected") row.what += ": " + text(ev, "error", limits_.max_string);
    keep(timeline_, limits_.max_timeline, std::move(row));
    if (time) {
      if (!summary_.first_ns || t < summary_.first_ns) summary_.first_ns = t;
      if (t > summary_.last_ns) summary_.last_ns = t;
    }
    return;
  }
  if (!filter_.agent.empty() && agent_id != filter_.agent && agent_name != filter_.agent) {
    ++stats_.filtered_out;
    return;
  }

  ++summary_.events;
  if (time) {
    if (!summary_.first_ns || t < summary_.first_ns) summary_.first_ns = t;
    if (t > summary_.last_ns) summary_.last_ns = t;
  }
  AgentRow* agent = agent_id.empty() ? nullptr : agent_row(agent_id, agent_name, root_pid);
  if (agent) {
    ++agent->events;
    if (time && (!agent->first_ns || t < agent->first_ns)) agent->first_ns = t;
    if (time && t > agent->last_ns) agent->last_ns = t;
  }
  const std::string& who = agent_id;

  // The process tree: agents' processes only (the sensor's own events carry no agent).
  if (!agent_id.empty() && pid && proc) {
    auto it = process_index_.find(*pid);
    bool fresh = it == process_index_.end() ||
                 (type == "process.fork" && processes_.rows[it->second].exited);
    if (fresh) {
      ++processes_.total;
      if (processes_.rows.size() < limits_.max_processes) {
        ProcessNode n;
        n.pid = *pid;
        n.ppid = integer(*proc, "ppid");
        if (type == "process.fork") {
          if (auto pp = integer(ev, "parent_pid")) n.ppid = pp;
        }
        n.agent = who;
        n.first_ns = t;
        process_index_[*pid] = processes_.rows.size();
        processes_.rows.push_back(std::move(n));
        it = process_index_.find(*pid);
      } else {
        it = process_index_.end();
      }
    }
    if (it != process_index_.end()) {
      ProcessNode& n = processes_.rows[it->second];
      if (type == "process.exec" || n.exe.empty()) {
        n.exe = text(*proc, "exe", limits_.max_string);
        n.comm = text(*proc, "comm", 64);
        std::string args;
        if (auto a = json::field(*proc, "args"); a && json::is_array(*a)) {
          simdjson::dom::array arr;
          if (!a->get_array().get(arr)) {
            for (auto v : arr) {
              std::string_view s;
              if (v.get_string().get(s)) continue;
              if (!args.empty()) args += ' ';
              append_arg(args, s.substr(0, limits_.max_args + 1));
              if (args.size() > limits_.max_args) break;
            }
          }
        }
        n.args = clip(args, limits_.max_args);
      }
      if (type == "process.exit") {
        n.exited = true;
        n.exit_code = integer(ev, "exit_code");
        n.signal = integer(ev, "signal");
      }
    }
  }

  TimelineRow tl{t, type, who, "", pid, false};
  const size_t ms = limits_.max_string;
  if (type == "process.exec") {
    ++summary_.process_execs;
    auto idx = pid ? process_index_.find(*pid) : process_index_.end();
    tl.what = "exec " + (idx != process_index_.end() ? processes_.rows[idx->second].args
                         : proc                      ? text(*proc, "exe", ms)
                                                     : std::string());
    if (json::boolean(ev, "new_agent").value_or(false)) tl.what += " (new agent)";
  } else if (type == "process.fork") {
    tl.what = fmt::format("fork from {}", integer(ev, "parent_pid").value_or(-1));
  } else if (type == "process.exit") {
    auto sig = integer(ev, "signal");
    if (sig && *sig) {
      tl.what = fmt::format("exit: killed by signal {}", *sig);
      tl.alert = true;
    } else {
      auto code = integer(ev, "exit_code");
      tl.what = code ? fmt::format("exit {}", *code) : std::string("exit");
    }
  } else if (type == "file.mutation") {
    ++summary_.file_events;
    if (agent) ++agent->file_events;
    FileRow f{t,
              who,
              text(ev, "op", 32),
              text(ev, "path", ms),
              text(ev, "new_path", ms),
              text(ev, "error", 32),
              pid,
              integer(ev, "bytes")};
    if (f.error.empty()) {
      for (const std::string* p : {&f.path, &f.new_path}) {
        if (p->empty()) continue;
        if (summary_.files_changed.size() < limits_.max_distinct)
          summary_.files_changed.insert(*p);
        else if (!summary_.files_changed.count(*p))
          summary_.files_capped = true;
      }
    }
    tl.what = f.op + " " + f.path + (f.new_path.empty() ? "" : " -> " + f.new_path) +
              (f.error.empty() ? "" : " (" + f.error + ")");
    tl.alert = f.error == "EPERM";
    keep(files_, limits_.max_rows, std::move(f));
  } else if (type == "file.mechanism") {
    std::string enf = text(ev, "enforcement", 32);
    tl.what = text(ev, "mechanism", 64) + (enf.empty() ? "" : " (" + enf + ")");
    tl.alert = enf == "killed";
  } else if (type == "net.connect" || type == "net.tls" || type == "llm.unobserved") {
    std::string fam = text(ev, "family", 16);
    std::string addr = text(ev, "address", ms);
    auto port = integer(ev, "port");
    std::string target = addr + (port ? fmt::format(":{}", *port) : "");
    NetRow n{
        t,      who, type == "net.connect" ? "connect" : type == "net.tls" ? "tls" : "unobserved",
        target, "",  text(ev, "error", 32),
        pid};
    if (type == "net.connect") {
      n.hostname = text(ev, "hostname", ms);
      if (fam != "unix") add_host(target);
      tl.alert = n.error == "EPERM";
    } else {
      n.hostname = text(ev, "sni", ms);
      if (type == "llm.unobserved") {
        ++summary_.unobserved;
        n.error = text(ev, "reason", ms);
      }
    }
    tl.what = n.kind + " " + target + (n.hostname.empty() ? "" : " (" + n.hostname + ")") +
              (n.error.empty() ? "" : ": " + n.error);
    keep(net_, limits_.max_rows, std::move(n));
  } else if (type == "net.dns") {
    std::string q = text(ev, "query", ms);
    auto answers = json::field(ev, "answers");
    size_t count = 0;
    simdjson::dom::array arr;
    if (answers && !answers->get_array().get(arr)) count = arr.size();
    NetRow n{t,  who, "dns", q + " " + text(ev, "query_type", 16), fmt::format("{} answers", count),
             "", pid};
    if (json::boolean(ev, "trusted") == false) n.error = "untrusted answer";
    tl.what = "dns " + n.target + " (" + n.hostname + ")";
    keep(net_, limits_.max_rows, std::move(n));
  } else if (type == "llm.call") {
    CallRow c;
    c.time_ns = t;
    c.agent = who;
    c.pid = pid;
    c.provider = text(ev, "provider", 64);
    c.api = text(ev, "api", 64);
    c.host = text(ev, "host", ms);
    c.request_model = text(ev, "request_model", ms);
    c.model = text(ev, "response_model", ms);
    if (c.model.empty()) c.model = c.request_model;
    c.response_id = text(ev, "response_id", ms);
    c.key = text(ev, "api_key_fingerprint", 64);
    c.status = integer(ev, "status");
    c.stream = json::boolean(ev, "stream").value_or(false);
    if (auto u = json::field(ev, "usage"); u && json::is_object(*u)) {
      c.input_tokens = json::count(*u, "input_tokens");
      c.output_tokens = json::count(*u, "output_tokens");
      c.cache_read_tokens = json::count(*u, "cache_read_input_tokens");
      c.cache_creation_tokens = json::count(*u, "cache_creation_input_tokens");
      c.reasoning_tokens = json::count(*u, "reasoning_tokens");
    }
    c.cost_usd = json::number(ev, "cost_usd");
    c.latency_ms = json::number(ev, "latency_ms");
    c.ttft_ms = json::number(ev, "ttft_ms");
    if (auto e = json::field(ev, "error"); e && json::is_object(*e)) {
      c.error = text(*e, "type", 64);
      std::string msg = text(*e, "message", ms);
      if (!msg.empty()) c.error += (c.error.empty() ? "" : ": ") + msg;
      if (c.error.empty()) c.error = "error";
    }
    const bool failed = !c.error.empty() || (c.status && *c.status >= 400);
    auto add = [](int64_t& sum, std::optional<int64_t> v) {
      if (v && *v <= INT64_MAX - sum) sum += *v;
    };
    ++summary_.calls;
    if (failed) ++summary_.call_errors;
    add(summary_.input_tokens, c.input_tokens);
    add(summary_.output_tokens, c.output_tokens);
    add(summary_.cache_read_tokens, c.cache_read_tokens);
    add(summary_.cache_creation_tokens, c.cache_creation_tokens);
    add(summary_.reasoning_tokens, c.reasoning_tokens);
    if (c.cost_usd && *c.cost_usd >= 0 && *c.cost_usd < 1e12)
      summary_.cost_usd += *c.cost_usd;
    else
      ++summary_.unpriced_calls;
    if (agent) {
      ++agent->calls;
      if (failed) ++agent->call_errors;
      add(agent->input_tokens, c.input_tokens);
      add(agent->output_tokens, c.output_tokens);
      if (c.cost_usd && *c.cost_usd >= 0 && *c.cost_usd < 1e12) agent->cost_usd += *c.cost_usd;
    }
    // Same host key as net.connect (address:port) so one connection counts once.
    std::string host;
    if (auto p = json::field(ev, "peer"); p && json::is_object(*p)) {
      host = text(*p, "address", ms);
      if (auto port = integer(*p, "port"); port && !host.empty()) host += fmt::format(":{}", *port);
    }
    add_host(host.empty() ? c.host : host);
    tl.what = fmt::format("{} {} {} in/{} out", c.provider, c.model,
                          c.input_tokens ? std::to_string(*c.input_tokens) : "?",
                          c.output_tokens ? std::to_string(*c.output_tokens) : "?");
    if (c.cost_usd) tl.what += fmt::format(" ${:.6f}", *c.cost_usd);
    if (failed)
      tl.what += " failed" + (c.status ? fmt::format(" {}", *c.status) : "") +
                 (c.error.empty() ? "" : ": " + c.error);
    tl.alert = failed;
    keep(calls_, limits_.max_rows, std::move(c));
  } else if (type == "policy.action") {
    PolicyRow p{t,
                who,
                text(ev, "rule", ms),
                text(ev, "kind", 32),
                text(ev, "action", 32),
                text(ev, "outcome", 32),
                text(ev, "matched", ms),
                text(ev, "detail", ms),
                text(ev, "hold_id", 64),
                pid};
    ++summary_.policy_actions;
    if (is_denial(p.outcome)) {
      ++summary_.denials;
      if (agent) ++agent->denials;
    }
    if (p.outcome == "killed") ++summary_.kills;
    if (p.kind == "budget") ++summary_.budget_actions;
    if (p.outcome == "paused") ++summary_.holds;
    if (!p.hold_id.empty() && p.outcome == "approved") ++summary_.holds_approved;
    if (!p.hold_id.empty() && p.outcome == "denied") ++summary_.holds_denied;
    tl.what = p.rule + ": " + p.kind + " " + p.action + " -> " + p.outcome +
              (p.matched.empty() ? "" : " (" + p.matched + ")");
    tl.alert = is_denial(p.outcome) || p.outcome == "paused";
    keep(policy_, limits_.max_rows, std::move(p));
  } else if (type == "config.mutation") {
    ++summary_.config_mutations;
    ConfigMutationRow c;
    c.time_ns = t;
    c.agent = who;
    c.pid = pid;
    c.path = text(ev, "path", ms);
    c.cls = text(ev, "class", 64);
    c.op = text(ev, "op", 32);
    hash_and_size(ev, "before", 64, &c.before_sha256, &c.before_size);
    hash_and_size(ev, "after", 64, &c.after_sha256, &c.after_size);
    std::string_view diff;
    if (auto d = json::str(ev, "diff")) {
      diff = *d;
    } else if (auto o = json::field(ev, "diff"); o && json::is_object(*o)) {
      diff = json::str(*o, "text").value_or("");
      c.diff_truncated = json::boolean(*o, "truncated").value_or(false);
    }
    c.diff_truncated = c.diff_truncated || json::boolean(ev, "diff_truncated").value_or(false) ||
                       diff.size() > limits_.max_diff;
    c.diff = clip(diff, limits_.max_diff);
    if (auto cb = json::field(ev, "caused_by"); cb && json::is_object(*cb)) {
      c.cause_response_id = text(*cb, "response_id", ms);
      c.cause_model = text(*cb, "model", ms);
      c.cause_time = text(*cb, "time", 64);
      c.cause_tool_call_id = text(*cb, "tool_call_id", ms);
    }
    tl.what = (c.cls.empty() ? "" : c.cls + " ") + c.path;
    tl.alert = true;
    keep(config_, limits_.max_rows, std::move(c));
  } else if (type == "sensor.tamper") {
    tl.what = "reached for the sensor: " + text(ev, "attempt", ms);
    tl.alert = true;
  } else if (type == "net.mechanism") {
    tl.what = fmt::format("raw socket ({} {})", text(ev, "family", ms), text(ev, "socket_type", ms));
    tl.alert = true;
  } else if (type == "process.controlled") {
    tl.what = fmt::format("taken over by pid {} ({})", integer(ev, "controller_pid").value_or(0),
                          text(ev, "mechanism", ms));
    tl.alert = true;
  } else if (type == "agent.discovered") {
    tl.what = "discovered: " + text(ev, "reason", ms);
  } else if (type == "agent.summary") {
    auto cost = json::number(ev, "cost_usd");
    tl.what = fmt::format("agent done: {} calls", integer(ev, "calls").value_or(0)) +
              (cost ? fmt::format(", ${:.6f}", *cost) : "");
  }
  keep(timeline_, limits_.max_timeline, std::move(tl));
}

void EventModel::finish() {
  auto by_time = [](const auto& a, const auto& b) { return a.time_ns < b.time_ns; };
  std::stable_sort(timeline_.rows.begin(), timeline_.rows.end(), by_time);
  std::stable_sort(calls_.rows.begin(), calls_.rows.end(), by_time);
  std::stable_sort(files_.rows.begin(), files_.rows.end(), by_time);
  std::stable_sort(net_.rows.begin(), net_.rows.end(), by_time);
  std::stable_sort(policy_.rows.begin(), policy_.rows.end(), by_time);
  std::stable_sort(config_.rows.begin(), config_.rows.end(), by_time);
}

Result<void> read_events_file(const std::string& path, EventModel& model) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
    return make_error(fmt::format("{} is a directory, not an events file", path));
  const size_t max_line = model.limits().max_line_bytes;
  std::string line;
  bool skipping = false;  // inside an overlong line: drop bytes up to its newline
  std::vector<char> buf(size_t{1} << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(fmt::format("reading {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    while (!chunk.empty()) {
      size_t nl = chunk.find('\n');
      std::string_view part = chunk.substr(0, nl);
      if (!skipping) {
        if (line.size() + part.size() > max_line) {
          skipping = true;
          line.clear();
          line.shrink_to_fit();
        } else {
          line.append(part);
        }
      }
      if (nl == std::string_view::npos) break;
      if (skipping)
        model.note_oversized();
      else
        model.feed(line);
      line.clear();
      skipping = false;
      chunk.remove_prefix(nl + 1);
    }
  }
  if (skipping)
    model.note_oversized();
  else if (!line.empty())
    model.feed(line);  // a last line without newline (a file being written)
  return {};
}

}  // namespace rein::report
