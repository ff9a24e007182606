#include "top/agent_board.h"

#include <algorithm>
#include <string>

#include "ledger/usage_ledger.h"
#include "llm/json_util.h"

namespace rein::top {

namespace json = llm::json;

struct AgentBoard::Parser {
  json::DocParser doc;
};

AgentBoard::AgentBoard(size_t max_agents) : max_agents_(max_agents ? max_agents : 1) {}
AgentBoard::~AgentBoard() = default;

SortKey next_sort(SortKey k) {
  switch (k) {
    case SortKey::kCost:
      return SortKey::kRate;
    case SortKey::kRate:
      return SortKey::kCalls;
    case SortKey::kCalls:
      return SortKey::kErrors;
    case SortKey::kErrors:
      return SortKey::kName;
    case SortKey::kName:
      return SortKey::kCost;
  }
  return SortKey::kCost;
}

std::string_view sort_name(SortKey k) {
  switch (k) {
    case SortKey::kCost:
      return "cost";
    case SortKey::kRate:
      return "$/min";
    case SortKey::kCalls:
      return "calls";
    case SortKey::kErrors:
      return "errors";
    case SortKey::kName:
      return "name";
  }
  return "cost";
}

namespace {

bool is_null(json::Element e) {
  return e.is_null();
}

// A set, non-null member (error objects, `usage_missing: true`).
bool present(json::Element e, std::string_view key) {
  auto v = json::field(e, key);
  return v && !is_null(*v);
}

std::optional<int64_t> integer(json::Element e, std::string_view key) {
  auto v = json::field(e, key);
  if (!v) return std::nullopt;
  int64_t i;
  if (!v->get_int64().get(i)) return i;
  double d;
  if (!v->get_double().get(d) && d >= -9e18 && d <= 9e18) return static_cast<int64_t>(d);
  return std::nullopt;
}

template <typename Deque, typename Row>
void push_bounded(Deque& d, Row row) {
  d.push_back(std::move(row));
  while (d.size() > kRecentRows) d.pop_front();
}

}  // namespace

AgentStats& AgentBoard::agent(std::string_view id, std::string_view name,
                              std::optional<int64_t> pid) {
  auto it = agents_.find(std::string(id));
  if (it == agents_.end()) {
    if (agents_.size() >= max_agents_ && !by_touch_.empty()) {
      auto oldest = by_touch_.begin();
      agents_.erase(oldest->second);
      by_touch_.erase(oldest);
      ++evicted_;
    }
    it = agents_.emplace(std::string(id), AgentStats{}).first;
    it->second.id = std::string(id);
  }
  AgentStats& a = it->second;
  if (!name.empty()) a.name = std::string(name);
  if (pid) a.root_pid = pid;
  if (a.touched) by_touch_.erase(a.touched);
  a.touched = ++seq_;
  by_touch_.emplace(a.touched, a.id);
  return a;
}

void AgentBoard::prune(AgentStats& a) const {
  while (!a.cost_window.empty() && a.cost_window.front().first <= newest_ns_ - kRateWindowNs)
    a.cost_window.pop_front();
}

void AgentBoard::feed(std::string_view line) {
  ++lines_;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty()) return;  // blank lines are not events, nor errors
  if (line.size() > kMaxLineBytes) {
    ++skipped_;
    return;
  }
  if (!parser_) parser_ = std::make_unique<Parser>();
  json::Element ev;
  if (parser_->doc.parse(line, ev) != json::DocParser::Status::kOk || !json::is_object(ev)) {
    ++skipped_;
    return;
  }
  auto type = json::str(ev, "type");
  if (!type) {
    ++skipped_;
    return;
  }
  int64_t t = 0;
  if (auto ts = json::str(ev, "time")) {
    if (auto ns = ledger::parse_rfc3339_ns(*ts)) t = *ns;
  }
  if (t > newest_ns_) newest_ns_ = t;
  if (*type == "sensor.health") {
    if (auto st = json::str(ev, "state")) sensor_state_ = std::string(*st);
    return;
  }
  auto ag = json::field(ev, "agent");
  if (!ag || !json::is_object(*ag)) return;  // not an agent's event
  auto id = json::str(*ag, "id");
  if (!id || id->empty()) return;
  auto name = json::str(*ag, "name");
  AgentStats& a = agent(*id, name.value_or(""), integer(*ag, "root_pid"));
  if (t > a.last_seen_ns) a.last_seen_ns = t;

  if (*type == "llm.call") {
    CallRow row;
    row.time_ns = t;
    if (auto m = json::str(ev, "response_model"); m && !m->empty())
      row.model = std::string(*m);
    else if (auto rm = json::str(ev, "request_model"))
      row.model = std::string(*rm);
    if (auto u = json::field(ev, "usage"); u && json::is_object(*u)) {
      row.input_tokens = json::count(*u, "input_tokens");
      row.output_tokens = json::count(*u, "output_tokens");
    }
    row.cost_usd = json::number(ev, "cost_usd");
    row.latency_ms = json::number(ev, "latency_ms");
    row.status = integer(ev, "status");
    bool usage_missing = json::boolean(ev, "usage_missing").value_or(false);
    row.error = (row.status && *row.status >= 400) || present(ev, "error") ||
                (!row.status && usage_missing);
    ++a.calls;
    if (row.error) ++a.errors;
    a.input_tokens += row.input_tokens.value_or(0);
    a.output_tokens += row.output_tokens.value_or(0);
    if (row.cost_usd) {
      a.cost_usd += *row.cost_usd;
      a.cost_window.emplace_back(t, *row.cost_usd);
    }
    // The peer's address:port when known, so a call and its net.connect count once.
    std::string host;
    if (auto p = json::field(ev, "peer"); p && json::is_object(*p)) {
      if (auto addr = json::str(*p, "address"); addr && !addr->empty()) {
        host = std::string(*addr);
        if (auto port = integer(*p, "port")) host += ":" + std::to_string(*port);
      }
    }
    if (host.empty()) host = std::string(json::str(ev, "host").value_or(""));
    if (!host.empty()) {
      if (a.hosts.size() < kMaxHostsPerAgent)
        a.hosts.insert(std::move(host));
      else if (!a.hosts.count(host))
        a.hosts_capped = true;
    }
    push_bounded(a.recent_calls, std::move(row));
  } else if (*type == "net.connect") {
    if (auto addr = json::str(ev, "address"); addr && !addr->empty()) {
      std::string host(*addr);
      if (auto port = integer(ev, "port")) host += ":" + std::to_string(*port);
      if (a.hosts.size() < kMaxHostsPerAgent)
        a.hosts.insert(std::move(host));
      else if (!a.hosts.count(host))
        a.hosts_capped = true;
    }
  } else if (*type == "file.mutation") {
    ++a.files_changed;
    FileRow row;
    row.time_ns = t;
    row.op = std::string(json::str(ev, "op").value_or(""));
    row.path = std::string(json::str(ev, "path").value_or(""));
    push_bounded(a.recent_files, std::move(row));
  } else if (*type == "policy.action") {
    auto outcome = json::str(ev, "outcome").value_or("");
    auto hold = json::str(ev, "hold_id").value_or("");
    if (outcome == "prevented" || outcome == "killed" || outcome == "denied") ++a.denials;
    if (!hold.empty()) {
      if (outcome == "paused") {
        if (a.holds_waiting.size() < kMaxHoldsPerAgent) a.holds_waiting.emplace(hold);
      } else if (outcome == "approved" || outcome == "denied" || outcome == "killed") {
        a.holds_waiting.erase(std::string(hold));
      }
    }
  }
  prune(a);
}

double AgentBoard::cost_per_min(const AgentStats& a) const {
  double sum = 0;
  // The window is exactly one minute, so the sum is the rate.
  for (const auto& [t, c] : a.cost_window)
    if (t > newest_ns_ - kRateWindowNs) sum += c;
  return sum;
}

std::vector<const AgentStats*> AgentBoard::sorted(SortKey key) const {
  std::vector<std::pair<double, const AgentStats*>> v;
  v.reserve(agents_.size());
  for (const auto& [id, a] : agents_) {
    double k = 0;
    switch (key) {
      case SortKey::kCost:
        k = a.cost_usd;
        break;
      case SortKey::kRate:
        k = cost_per_min(a);
        break;
      case SortKey::kCalls:
        k = static_cast<double>(a.calls);
        break;
      case SortKey::kErrors:
        k = static_cast<double>(a.errors);
        break;
      case SortKey::kName:
        break;
    }
    v.emplace_back(k, &a);
  }
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first > y.first;
    if (x.second->name != y.second->name) return x.second->name < y.second->name;
    return x.second->id < y.second->id;
  });
  std::vector<const AgentStats*> out;
  out.reserve(v.size());
  for (auto& [k, a] : v) out.push_back(a);
  return out;
}

const AgentStats* AgentBoard::find(std::string_view id) const {
  auto it = agents_.find(std::string(id));
  return it == agents_.end() ? nullptr : &it->second;
}

}  // namespace rein::top
