#include "report/html_report.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <vector>

namespace rein::report {

namespace {

constexpr std::string_view kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:1em 2em;color:#1d1d1f;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:0;display:inline}
header p{margin:.2em 0;color:#555}
nav{margin:.6em 0 1em}nav a{margin-right:1em}
details{margin:1.2em 0;border-top:1px solid #ddd;padding-top:.6em}summary{cursor:pointer}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top;word-break:break-word}
th{background:#f3f3f5;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{white-space:nowrap;font-variant-numeric:tabular-nums}
tr.alert td{background:#fff1f0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f7f7f9;border:1px solid #e3e3e8;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.add{color:#0a6b0a;background:#ecfdec}.del{color:#a40e0e;background:#fdecec}.hunk{color:#555}
.warn{background:#fff8e1;border:1px solid #f0d58c;padding:.5em 1em;margin:.6em 0}
.more{color:#8a5a00;font-style:italic}
.cards{display:flex;flex-wrap:wrap;gap:.6em;margin:.6em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.4em .8em;min-width:9em}
.card b{display:block;font-size:1.3em}.card span{color:#555;font-size:12px}
ul.tree{list-style:none;padding-left:1.3em;margin:0;border-left:1px dotted #bbb}
ul.tree>li{margin:.15em 0}.pid{font-weight:600}.muted{color:#777}
@media print{details{border:0}th{position:static}}
)css";

// Column sorting only: the page is complete without it.
constexpr std::string_view kScript =
    "document.querySelectorAll('table.sortable th').forEach(function(th){"
    "th.title='sort';th.addEventListener('click',function(){"
    "var i=th.cellIndex,tb=th.closest('table').tBodies[0],rows=Array.prototype.slice.call(tb.rows),"
    "asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';"
    "rows.sort(function(a,b){var x=a.cells[i]?a.cells[i].dataset.v||a.cells[i].textContent:'',"
    "y=b.cells[i]?b.cells[i].dataset.v||b.cells[i].textContent:'',"
    "p=parseFloat(x),q=parseFloat(y),r=(!isNaN(p)&&!isNaN(q)&&isFinite(x)&&isFinite(y))?p-q:"
    "x.localeCompare(y);return asc?r:-r;});"
    "rows.forEach(function(r){tb.appendChild(r);});});});";

std::string script_hash() {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(kScript.data()), kScript.size(), digest);
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), n > 0 ? static_cast<size_t>(n) : 0);
}

std::string esc(std::string_view s) {
  return html_escape(s);
}

std::string num(std::optional<int64_t> v) {
  return v ? std::to_string(*v) : std::string();
}

std::string usd(double v) {
  return fmt::format("${:.6f}", v);
}

std::string duration(int64_t ns) {
  if (ns <= 0) return "0 s";
  double s = static_cast<double>(ns) / 1e9;
  if (s < 60) return fmt::format("{:.3f} s", s);
  int64_t whole = ns / 1000000000;
  if (whole < 3600) return fmt::format("{}m {:02}s", whole / 60, whole % 60);
  return fmt::format("{}h {:02}m {:02}s", whole / 3600, (whole / 60) % 60, whole % 60);
}

std::string time_cell(int64_t ns) {
  return fmt::format("<td class=\"t\" data-v=\"{}\">{}</td>", ns, ns ? format_time(ns) : "");
}

std::string td(std::string_view s) {
  return "<td>" + esc(s) + "</td>";
}

std::string td_code(std::string_view s) {
  return s.empty() ? "<td></td>" : "<td><code>" + esc(s) + "</code></td>";
}

std::string td_num(std::optional<int64_t> v) {
  return "<td class=\"n\">" + num(v) + "</td>";
}

std::string td_num(std::optional<double> v, const char* f) {
  return "<td class=\"n\">" + (v ? fmt::format(fmt::runtime(f), *v) : std::string()) + "</td>";
}

void more(std::string& out, uint64_t not_shown, std::string_view what) {
  if (!not_shown) return;
  out += fmt::format(
      "<p class=\"more\">{} more {} not shown (narrow the report with --agent, --from, "
      "--to).</p>\n",
      not_shown, what);
}

void open_section(std::string& out, std::string_view id, std::string_view title, uint64_t total) {
  out += fmt::format(
      "<details open id=\"{}\"><summary><h2>{}</h2> <span class=\"muted\">({})"
      "</span></summary>\n",
      id, title, total);
}

void table_head(std::string& out, std::initializer_list<std::string_view> cols) {
  out += "<table class=\"sortable\"><thead><tr>";
  for (auto c : cols) {
    if (!c.empty() && c[0] == '#')
      out += fmt::format("<th class=\"n\">{}</th>", c.substr(1));
    else
      out += fmt::format("<th>{}</th>", c);
  }
  out += "</tr></thead><tbody>\n";
}

void card(std::string& out, std::string_view id, std::string_view value, std::string_view label) {
  out +=
      fmt::format("<div class=\"card\"><b id=\"{}\">{}</b><span>{}</span></div>", id, value, label);
}

void render_summary(std::string& out, const EventModel& m) {
  const Summary& s = m.summary();
  out += "<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">";
  const uint64_t agents = m.agents().size() + m.agents_not_shown();
  card(out, "sum-agents", std::to_string(agents), "agents");
  card(out, "sum-duration",
       s.first_ns && s.last_ns ? duration(s.last_ns - s.first_ns) : std::string("-"), "duration");
  card(out, "sum-events", std::to_string(s.events), "events");
  card(out, "sum-calls", std::to_string(s.calls), "LLM calls");
  card(out, "sum-call-errors", std::to_string(s.call_errors), "failed calls");
  card(out, "sum-input-tokens", std::to_string(s.input_tokens), "input tokens");
  card(out, "sum-output-tokens", std::to_string(s.output_tokens), "output tokens");
  card(out, "sum-cost", usd(s.cost_usd), s.unpriced_calls ? "cost (some calls unpriced)" : "cost");
  card(out, "sum-files", std::to_string(s.files_changed.size()) + (s.files_capped ? "+" : ""),
       "files changed");
  card(out, "sum-hosts", std::to_string(s.hosts.size()) + (s.hosts_capped ? "+" : ""),
       "hosts contacted");
  card(out, "sum-denials", std::to_string(s.denials), "denials");
  card(out, "sum-holds", std::to_string(s.holds), "holds");
  card(out, "sum-config", std::to_string(s.config_mutations), "config changes");
  out += "</div>\n<table><tbody>\n";
  auto row = [&](std::string_view k, const std::string& v) {
    out += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", k, v);
  };
  row("From", s.first_ns ? esc(format_time(s.first_ns)) : "-");
  row("To", s.last_ns ? esc(format_time(s.last_ns)) : "-");
  row("Tokens", fmt::format("{} input, {} output, {} cache read, {} cache write, {} reasoning",
                            s.input_tokens, s.output_tokens, s.cache_read_tokens,
                            s.cache_creation_tokens, s.reasoning_tokens));
  row("Cost", usd(s.cost_usd) + (s.unpriced_calls ? fmt::format(" ({} calls without a price or "
                                                                "usage are not included)",
                                                                s.unpriced_calls)
                                                  : std::string()));
  row("LLM traffic not decoded", std::to_string(s.unobserved) + " connections (llm.unobserved)");
  row("Processes started", std::to_string(s.process_execs) + " execs");
  row("File events", std::to_string(s.file_events));
  row("Policy actions",
      fmt::format("{} total: {} denials ({} kills), {} budget, {} holds ({} approved, {} denied)",
                  s.policy_actions, s.denials, s.kills, s.budget_actions, s.holds, s.holds_approved,
                  s.holds_denied));
  std::string hosts;
  size_t shown = 0;
  for (const auto& h : s.hosts) {
    if (shown++ == 50) {
      hosts += fmt::format(" <span class=\"more\">and {} more</span>", s.hosts.size() - 50);
      break;
    }
    hosts += "<code>" + esc(h) + "</code> ";
  }
  row("Hosts", hosts.empty() ? "-" : hosts);
  if (!s.sensor_state.empty()) row("Sensor state (last seen)", esc(s.sensor_state));
  out += "</tbody></table></section>\n";
}

void render_warnings(std::string& out, const EventModel& m) {
  const InputStats& st = m.stats();
  const Summary& s = m.summary();
  std::vector<std::string> w;
  if (st.bad)
    w.push_back(fmt::format("{} line(s) were not valid events and were skipped.", st.bad));
  if (st.oversized)
    w.push_back(fmt::format("{} line(s) longer than {} bytes were skipped.", st.oversized,
                            m.limits().max_line_bytes));
  if (s.sensor_drops)
    w.push_back(
        fmt::format("The sensor reported {} lost kernel records (drop_* counters in "
                    "sensor.health): this record is incomplete.",
                    s.sensor_drops));
  if (s.unobserved)
    w.push_back(
        fmt::format("{} TLS connection(s) of agents could not be decoded "
                    "(llm.unobserved): their LLM calls are not counted.",
                    s.unobserved));
  if (w.empty()) return;
  out += "<div class=\"warn\" id=\"warnings\"><ul>";
  for (auto& x : w) out += "<li>" + esc(x) + "</li>";
  out += "</ul></div>\n";
}

void render_agents(std::string& out, const EventModel& m) {
  open_section(out, "agents", "Agents", m.agents().size() + m.agents_not_shown());
  table_head(out, {"Agent id", "Name", "#Root pid", "First seen", "Last seen", "#Events",
                   "#LLM calls", "#Failed", "#Input tokens", "#Output tokens", "#Cost (USD)",
                   "#File events", "#Denials"});
  for (const auto& a : m.agents()) {
    out += "<tr>" + td_code(a.id) + td(a.name) + td_num(a.root_pid) + time_cell(a.first_ns) +
           time_cell(a.last_ns) + td_num(int64_t(a.events)) + td_num(int64_t(a.calls)) +
           td_num(int64_t(a.call_errors)) + td_num(a.input_tokens) + td_num(a.output_tokens) +
           td_num(std::optional<double>(a.cost_usd), "{:.6f}") + td_num(int64_t(a.file_events)) +
           td_num(int64_t(a.denials)) + "</tr>\n";
  }
  out += "</tbody></table>\n";
  more(out, m.agents_not_shown(), "agents");
  out += "</details>\n";
}

void render_timeline(std::string& out, const EventModel& m) {
  const auto& s = m.timeline();
  open_section(out, "timeline", "Timeline", s.total);
  table_head(out, {"Time", "Event", "Agent", "#Pid", "What"});
  for (const auto& r : s.rows) {
    out += std::string(r.alert ? "<tr class=\"alert\">" : "<tr>") + time_cell(r.time_ns) +
           td_code(r.type) + td(r.agent) + td_num(r.pid) + td(r.what) + "</tr>\n";
  }
  out += "</tbody></table>\n";
  more(out, s.not_shown(), "events");
  out += "</details>\n";
}

// Parent links only point to nodes seen earlier in the stream, so the tree has no cycles
// whatever pids and ppids the stream claims; depth is capped so hostile nesting cannot
// make the page (or this recursion) deep.
constexpr int kMaxTreeDepth = 48;

void render_node(std::string& out, const std::vector<ProcessNode>& nodes,
                 const std::vector<std::vector<size_t>>& kids, size_t i, int depth) {
  const ProcessNode& n = nodes[i];
  out += fmt::format("<li><span class=\"pid\">{}</span> ", n.pid);
  out += "<code>" + esc(n.args.empty() ? (n.exe.empty() ? n.comm : n.exe) : n.args) + "</code>";
  out += " <span class=\"muted\">" + esc(format_time(n.first_ns));
  if (n.exited) {
    if (n.signal && *n.signal)
      out += fmt::format(", killed by signal {}", *n.signal);
    else if (n.exit_code)
      out += fmt::format(", exit {}", *n.exit_code);
    else
      out += ", exited";
  }
  out += "</span>";
  if (!kids[i].empty()) {
    if (depth < kMaxTreeDepth) out += "\n<ul class=\"tree\">";
    for (size_t k : kids[i]) render_node(out, nodes, kids, k, depth + 1);
    if (depth < kMaxTreeDepth) out += "</ul>";
  }
  out += "</li>\n";
}

void render_tree(std::string& out, const EventModel& m) {
  const auto& s = m.processes();
  open_section(out, "processes", "Process tree", s.total);
  const auto& nodes = s.rows;
  std::vector<std::vector<size_t>> kids(nodes.size());
  std::vector<size_t> roots;
  std::map<int64_t, size_t> latest;  // pid -> newest node seen so far
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto it = nodes[i].ppid ? latest.find(*nodes[i].ppid) : latest.end();
    if (it != latest.end() && nodes[it->second].agent == nodes[i].agent)
      kids[it->second].push_back(i);
    else
      roots.push_back(i);
    latest[nodes[i].pid] = i;
  }
  std::string agent;
  bool open = false;
  for (size_t r : roots) {
    if (!open || nodes[r].agent != agent) {
      if (open) out += "</ul>\n";
      agent = nodes[r].agent;
      out += "<p>Agent <code>" + esc(agent) + "</code></p>\n<ul class=\"tree\">";
      open = true;
    }
    render_node(out, nodes, kids, r, 0);
  }
  if (open) out += "</ul>\n";
  more(out, s.not_shown(), "processes");
  out += "</details>\n";
}

void render_diff(std::string& out, std::string_view diff) {
  out += "<pre class=\"diff\">";
  while (!diff.empty()) {
    size_t nl = diff.find('\n');
    std::string_view line = diff.substr(0, nl);
    const char* cls = nullptr;
    if (line.substr(0, 2) == "@@")
      cls = "hunk";
    else if (!line.empty() && line[0] == '+' && line.substr(0, 3) != "+++")
      cls = "add";
    else if (!line.empty() && line[0] == '-' && line.substr(0, 3) != "---")
      cls = "del";
    if (cls)
      out += fmt::format("<span class=\"{}\">{}</span>", cls, esc(line));
    else
      out += esc(line);
    out += '\n';
    if (nl == std::string_view::npos) break;
    diff.remove_prefix(nl + 1);
  }
  out += "</pre>\n";
}

std::string hash_text(const std::string& sha, std::optional<int64_t> size) {
  if (sha.empty() && !size) return "(none)";
  return "<code>" + esc(sha.substr(0, 16)) + (sha.size() > 16 ? "…" : "") + "</code>" +
         (size ? fmt::format(" {} bytes", *size) : std::string());
}

void render_config(std::string& out, const EventModel& m) {
  const auto& s = m.config_mutations();
  open_section(out, "config", "Config changes", s.total);
  if (s.rows.empty()) out += "<p class=\"muted\">No config.mutation events.</p>\n";
  for (const auto& c : s.rows) {
    out += "<div class=\"mutation\"><table><tbody>\n";
    out += "<tr><th>Time</th>" + time_cell(c.time_ns) + "</tr>\n";
    out += "<tr><th>Path</th>" + td_code(c.path) + "</tr>\n";
    out += "<tr><th>Class</th>" + td(c.cls) + "</tr>\n";
    out += "<tr><th>Agent</th>" + td(c.agent) + "</tr>\n";
    out += "<tr><th>Pid</th>" + td_num(c.pid) + "</tr>\n";
    out += "<tr><th>Before</th><td>" + hash_text(c.before_sha256, c.before_size) + "</td></tr>\n";
    out += "<tr><th>After</th><td>" + hash_text(c.after_sha256, c.after_size) + "</td></tr>\n";
    std::string cause;
    if (!c.cause_response_id.empty() || !c.cause_model.empty()) {
      cause = "LLM call " + ("<code>" + esc(c.cause_response_id) + "</code>") +
              (c.cause_model.empty() ? "" : " (" + esc(c.cause_model) + ")") +
              (c.cause_time.empty() ? "" : " at " + esc(c.cause_time));
      if (!c.cause_tool_call_id.empty())
        cause += ", tool call <code>" + esc(c.cause_tool_call_id) + "</code>";
    } else {
      cause = "<span class=\"muted\">no preceding LLM call known</span>";
    }
    out += "<tr><th>Caused by</th><td>" + cause + "</td></tr>\n</tbody></table>\n";
    if (!c.diff.empty()) render_diff(out, c.diff);
    if (c.diff_truncated) out += "<p class=\"more\">Diff truncated.</p>\n";
    out += "</div>\n";
  }
  more(out, s.not_shown(), "config changes");
  out += "</details>\n";
}

void render_calls(std::string& out, const EventModel& m) {
  const auto& s = m.calls();
  open_section(out, "llm-calls", "LLM calls", s.total);
  table_head(out, {"Time", "Agent", "#Pid", "Provider", "Model", "Host", "#Status", "#Input",
                   "#Output", "#Cache read", "#Cache write", "#Reasoning", "#Cost (USD)",
                   "#Latency ms", "#TTFT ms", "Response id", "Key", "Error"});
  for (const auto& c : s.rows) {
    const bool failed = !c.error.empty() || (c.status && *c.status >= 400);
    out += std::string(failed ? "<tr class=\"alert\">" : "<tr>") + time_cell(c.time_ns) +
           td(c.agent) + td_num(c.pid) + td(c.provider) +
           td_code(c.model == c.request_model || c.request_model.empty()
                       ? c.model
                       : c.model + " (asked " + c.request_model + ")") +
           td(c.host) + td_num(c.status) + td_num(c.input_tokens) + td_num(c.output_tokens) +
           td_num(c.cache_read_tokens) + td_num(c.cache_creation_tokens) +
           td_num(c.reasoning_tokens) + td_num(c.cost_usd, "{:.6f}") +
           td_num(c.latency_ms, "{:.1f}") + td_num(c.ttft_ms, "{:.1f}") + td_code(c.response_id) +
           td_code(c.key) + td(c.error) + "</tr>\n";
  }
  out += "</tbody></table>\n";
  more(out, s.not_shown(), "LLM calls");
  out += "</details>\n";
}

void render_files(std::string& out, const EventModel& m) {
  const auto& s = m.files();
  open_section(out, "files", "File changes", s.total);
  table_head(out, {"Time", "Agent", "#Pid", "Op", "Path", "New path", "#Bytes", "Error"});
  for (const auto& f : s.rows) {
    out += std::string(f.error.empty() ? "<tr>" : "<tr class=\"alert\">") + time_cell(f.time_ns) +
           td(f.agent) + td_num(f.pid) + td(f.op) + td_code(f.path) + td_code(f.new_path) +
           td_num(f.bytes) + td(f.error) + "</tr>\n";
  }
  out += "</tbody></table>\n";
  more(out, s.not_shown(), "file events");
  out += "</details>\n";
}

void render_network(std::string& out, const EventModel& m) {
  const auto& s = m.network();
  open_section(out, "network", "Network", s.total);
  table_head(out, {"Time", "Agent", "#Pid", "Kind", "Target", "Name", "Error / note"});
  for (const auto& n : s.rows) {
    out += std::string(n.error == "EPERM" ? "<tr class=\"alert\">" : "<tr>") +
           time_cell(n.time_ns) + td(n.agent) + td_num(n.pid) + td(n.kind) + td_code(n.target) +
           td(n.hostname) + td(n.error) + "</tr>\n";
  }
  out += "</tbody></table>\n";
  more(out, s.not_shown(), "network events");
  out += "</details>\n";
}

void render_policy(std::string& out, const EventModel& m) {
  const auto& s = m.policy();
  open_section(out, "policy", "Policy actions", s.total);
  table_head(out, {"Time", "Agent", "#Pid", "Rule", "Kind", "Action", "Outcome", "Matched",
                   "Detail", "Hold"});
  for (const auto& p : s.rows) {
    const bool alert = p.outcome == "prevented" || p.outcome == "killed" || p.outcome == "denied" ||
                       p.outcome == "paused";
    out += std::string(alert ? "<tr class=\"alert\">" : "<tr>") + time_cell(p.time_ns) +
           td(p.agent) + td_num(p.pid) + td(p.rule) + td(p.kind) + td(p.action) + td(p.outcome) +
           td_code(p.matched) + td(p.detail) + td_code(p.hold_id) + "</tr>\n";
  }
  out += "</tbody></table>\n";
  more(out, s.not_shown(), "policy actions");
  out += "</details>\n";
}

// Appends one code point as UTF-8.
void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string html_escape(std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        case '\t':
        case '\n':
          out += static_cast<char>(c);
          break;
        default:
          if (c < 0x20 || c == 0x7F)
            out += kReplacement;
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: validate (shortest form, no surrogates, <= U+10FFFF).
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (c > 0xF4) len = 0;
    uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
      ok = false;
    if (!ok) {
      out += kReplacement;
      ++i;
      continue;
    }
    // C1 controls and the line/paragraph separators are not text a reader needs.
    if (cp < 0xA0 || cp == 0x2028 || cp == 0x2029) {
      out += kReplacement;
      i += len;
      continue;
    }
    put_utf8(out, cp);
    i += len;
  }
  return out;
}

std::string format_time(int64_t ns) {
  int64_t secs = ns >= 0 ? ns / 1000000000 : (ns - 999999999) / 1000000000;
  int64_t ms = (ns - secs * 1000000000) / 1000000;
  time_t tt = static_cast<time_t>(secs);
  tm t{};
  if (!gmtime_r(&tt, &t)) return std::to_string(ns);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms);
}

std::string render_html(const EventModel& m, const RenderInfo& info) {
  std::string out;
  out.reserve(64 * 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Nothing may be fetched (no src, href, font, frame, form target), only our own script runs.
  out += fmt::format(
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'sha256-{}'; img-src data:; form-action 'none'; "
      "base-uri 'none'\">\n",
      script_hash());
  out += "<meta name=\"referrer\" content=\"no-referrer\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>Rein incident report</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<header>\n<h1>Rein incident report</h1>\n";
  out += "<p>Source: <code>" + esc(clip(info.source, 500)) + "</code></p>\n";
  const Filter& f = m.filter();
  std::string filters;
  if (!f.agent.empty()) filters += "agent <code>" + esc(clip(f.agent, 200)) + "</code> ";
  if (m.from_ns()) filters += "from " + esc(format_time(*m.from_ns())) + " ";
  if (m.to_ns()) filters += "to " + esc(format_time(*m.to_ns())) + " (exclusive) ";
  out += "<p>Filters: " + (filters.empty() ? std::string("none") : filters) + "</p>\n";
  const InputStats& st = m.stats();
  out += fmt::format(
      "<p>Input: {} lines, {} events in the report, {} outside the filters, {} skipped as "
      "invalid</p>\n",
      st.lines, m.summary().events, st.filtered_out, st.bad + st.oversized);
  if (!info.generated.empty() || !info.version.empty())
    out += "<p>Generated " + esc(info.generated) +
           (info.version.empty() ? "" : " by rein " + esc(info.version)) + "</p>\n";
  out +=
      "</header>\n<nav><a href=\"#summary\">Summary</a><a href=\"#agents\">Agents</a>"
      "<a href=\"#timeline\">Timeline</a><a href=\"#processes\">Process tree</a>"
      "<a href=\"#config\">Config changes</a><a href=\"#llm-calls\">LLM calls</a>"
      "<a href=\"#files\">Files</a><a href=\"#network\">Network</a>"
      "<a href=\"#policy\">Policy actions</a></nav>\n";
  render_warnings(out, m);
  render_summary(out, m);
  render_agents(out, m);
  render_timeline(out, m);
  render_tree(out, m);
  render_config(out, m);
  render_calls(out, m);
  render_files(out, m);
  render_network(out, m);
  render_policy(out, m);
  out +=
      "<footer><p class=\"muted\">Every string above comes from the event stream, which the "
      "monitored agents influence; it is shown as text, never interpreted. API keys appear "
      "only as fingerprints.</p></footer>\n";
  out += "<script>";
  out += kScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace rein::report
