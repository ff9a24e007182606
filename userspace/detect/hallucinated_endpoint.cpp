#include "detect/hallucinated_endpoint.h"

#include <errno.h>
#include <fmt/format.h>

#include "detect/state_bytes.h"
#include "llm/text_util.h"

namespace rein::detect {

namespace {
constexpr size_t kMaxSessions = 4096;
constexpr size_t kMaxMentionsPerSession = 512;
constexpr size_t kMaxReported = 1024;
constexpr size_t kMaxInstalls = 1024;

std::string lower_host(std::string_view h) {
  std::string s = llm::to_lower(h);
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string_view path_of(std::string_view target) {
  size_t q = target.find_first_of("?#");
  return target.substr(0, q);
}
}  // namespace

size_t HallucinatedEndpointDetector::tracked() const {
  size_t n = installs_.size();
  for (const auto& [k, s] : sessions_) n += 1 + s.mentions.size() + s.reported.size();
  return n;
}

size_t HallucinatedEndpointDetector::state_bytes() const {
  auto recent = [](const Recent& r) {
    return mem::str(r.response_id) + mem::str(r.provider) + mem::str(r.model) + mem::str(r.m.host) +
           mem::str(r.m.path) + mem::str(r.m.manager) + mem::str(r.m.package);
  };
  size_t n = mem::nodes(sessions_) + mem::nodes(installs_);
  for (const auto& [k, s] : sessions_) {
    n += mem::str(k) + mem::deque(s.mentions) + mem::nodes(s.reported);
    for (const auto& r : s.mentions) n += recent(r);
    for (const auto& r : s.reported) n += mem::str(r);
  }
  for (const auto& [pid, p] : installs_)
    n += mem::str(p.session) + mem::str(p.name) + mem::str(p.manager) + mem::str(p.package) +
         mem::str(p.command) + recent(p.mention);
  return n;
}

HallucinatedEndpointDetector::Session* HallucinatedEndpointDetector::session(const Who& who,
                                                                             uint64_t now) {
  if (who.session.empty()) return nullptr;
  auto it = sessions_.find(who.session);
  if (it == sessions_.end()) return nullptr;
  const uint64_t window = uint64_t(cfg_.window.count()) * 1'000'000'000ULL;
  auto& m = it->second.mentions;
  while (!m.empty() && now > m.front().ts + window) m.pop_front();
  return &it->second;
}

void HallucinatedEndpointDetector::on_llm(const LlmFact& f) {
  if (!cfg_.enabled || f.who.session.empty() || !f.content || f.content->response_text.empty())
    return;
  auto mentions = extract_mentions(f.content->response_text);
  if (mentions.empty()) return;
  auto [it, fresh] = find_or_emplace(sessions_, f.who.session);
  it->second.last = f.ts_ns;
  if (fresh) bound_by_last(sessions_, kMaxSessions);
  auto s = sessions_.find(f.who.session);
  if (s == sessions_.end()) return;
  for (auto& m : mentions) {
    if (m.kind == Mention::Kind::kPackage && !cfg_.packages) continue;
    Recent r{f.ts_ns, f.call->response_id.substr(0, 128), f.call->provider, f.call->request_model,
             std::move(m)};
    s->second.mentions.push_back(std::move(r));
    if (s->second.mentions.size() > kMaxMentionsPerSession) s->second.mentions.pop_front();
  }
}

void HallucinatedEndpointDetector::report(const Who& who, uint64_t ts, std::string_view failure,
                                          std::string_view what, const Recent& r,
                                          std::vector<Detection>& out) {
  auto it = sessions_.find(who.session);
  if (it != sessions_.end()) {
    std::string key = fmt::format("{}|{}|{}", failure, what, r.response_id);
    if (it->second.reported.size() >= kMaxReported) it->second.reported.clear();
    if (!it->second.reported.insert(key).second) return;
  }
  const auto& m = r.m;
  const char* kind = m.kind == Mention::Kind::kUrl    ? "url"
                     : m.kind == Mention::Kind::kHost ? "host"
                                                      : "package";
  out.push_back(make_detection("hallucinated_endpoint", who, ts, cfg_.action,
                               fmt::format("{}: {} named by LLM response {}", failure, what,
                                           r.response_id.empty() ? "(no id)" : r.response_id),
                               [&](sinks::JsonWriter& w) {
                                 w.key("failure");
                                 w.string(failure);
                                 w.key("target");
                                 w.string(what);
                                 w.key("time");
                                 w.string(time_ ? time_(ts) : fmt::format("{}", ts));
                                 w.key("mention");
                                 w.begin_object();
                                 w.key("kind");
                                 w.string(kind);
                                 if (m.kind == Mention::Kind::kPackage) {
                                   w.key("manager");
                                   w.string(m.manager);
                                   w.key("package");
                                   w.string(m.package);
                                 } else {
                                   w.key("host");
                                   w.string(m.host);
                                   w.key("port");
                                   if (m.port)
                                     w.number(uint64_t(m.port));
                                   else
                                     w.null();
                                   if (m.kind == Mention::Kind::kUrl) {
                                     w.key("path");
                                     w.string(m.path);
                                   }
                                 }
                                 w.key("span");
                                 w.begin_object();
                                 w.key("offset");
                                 w.number(uint64_t(m.offset));
                                 w.key("length");
                                 w.number(uint64_t(m.length));
                                 w.end_object();
                                 w.end_object();
                                 w.key("response");
                                 w.begin_object();
                                 w.key("id");
                                 if (r.response_id.empty())
                                   w.null();
                                 else
                                   w.string(r.response_id);
                                 w.key("time");
                                 w.string(time_ ? time_(r.ts) : fmt::format("{}", r.ts));
                                 w.key("provider");
                                 w.string(r.provider);
                                 w.key("model");
                                 w.string(r.model);
                                 w.end_object();
                               }));
}

void HallucinatedEndpointDetector::on_dns(const DnsFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || f.rcode != 3) return;
  Session* s = session(f.who, f.ts_ns);
  if (!s) return;
  std::string name = lower_host(f.name);
  for (auto it = s->mentions.rbegin(); it != s->mentions.rend(); ++it)
    if (it->m.kind != Mention::Kind::kPackage && it->m.host == name) {
      report(f.who, f.ts_ns, "nxdomain", name, *it, out);
      return;
    }
}

void HallucinatedEndpointDetector::on_connect(const ConnectFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || f.result != -ECONNREFUSED) return;
  Session* s = session(f.who, f.ts_ns);
  if (!s) return;
  std::string addr = lower_host(f.address), name = lower_host(f.hostname);
  for (auto it = s->mentions.rbegin(); it != s->mentions.rend(); ++it) {
    const auto& m = it->m;
    if (m.kind == Mention::Kind::kPackage) continue;
    if (m.host != addr && (name.empty() || m.host != name)) continue;
    if (m.port && m.port != f.port) continue;
    report(f.who, f.ts_ns, "refused", fmt::format("{}:{}", m.host, f.port), *it, out);
    return;
  }
}

void HallucinatedEndpointDetector::on_tls_failure(const TlsFailureFact& f,
                                                  std::vector<Detection>& out) {
  if (!cfg_.enabled) return;
  Session* s = session(f.who, f.ts_ns);
  if (!s) return;
  std::string addr = lower_host(f.address), name = lower_host(f.sni);
  for (auto it = s->mentions.rbegin(); it != s->mentions.rend(); ++it) {
    const auto& m = it->m;
    if (m.kind == Mention::Kind::kPackage) continue;
    // The name the client asked for is the mention's: an address alone says less (many
    // names share one), so it counts only for a mention that is an address.
    if ((name.empty() || m.host != name) && m.host != addr) continue;
    if (m.port && m.port != f.port) continue;
    report(f.who, f.ts_ns, "tls_failed", fmt::format("{}:{}", m.host, f.port), *it, out);
    return;
  }
}

void HallucinatedEndpointDetector::on_http(const HttpFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || f.status != 404) return;
  Session* s = session(f.who, f.ts_ns);
  if (!s) return;
  std::string host = lower_host(f.host);
  std::string_view path = path_of(f.target);
  for (auto it = s->mentions.rbegin(); it != s->mentions.rend(); ++it) {
    const auto& m = it->m;
    if (m.kind != Mention::Kind::kUrl || m.host != host || m.path.size() < 2) continue;
    std::string_view mp = path_of(m.path);
    if (path != mp &&
        !(path.size() > mp.size() && path.substr(0, mp.size()) == mp && path[mp.size()] == '/'))
      continue;
    report(f.who, f.ts_ns, "http_404", fmt::format("{}{}", host, path), *it, out);
    return;
  }
}

void HallucinatedEndpointDetector::on_exec(const ExecFact& f) {
  if (!cfg_.enabled || !cfg_.packages || !f.args || f.args->empty()) return;
  Session* s = session(f.who, f.ts_ns);
  if (!s) return;
  std::vector<std::string_view> argv(f.args->begin(), f.args->end());
  auto inst = parse_install(argv);
  if (inst.packages.empty()) return;
  for (const auto& p : inst.packages)
    for (auto it = s->mentions.rbegin(); it != s->mentions.rend(); ++it) {
      if (it->m.kind != Mention::Kind::kPackage || it->m.package != p) continue;
      if (installs_.size() >= kMaxInstalls) installs_.erase(installs_.begin());
      installs_[f.who.pid] = PendingInstall{f.ts_ns,
                                            std::string(f.who.session),
                                            std::string(f.who.name),
                                            inst.manager,
                                            p,
                                            fmt::format("{} {}", inst.manager, p),
                                            f.who.root,
                                            *it};
      return;
    }
}

void HallucinatedEndpointDetector::on_exit(const ExitFact& f, std::vector<Detection>& out) {
  auto it = installs_.find(f.who.pid);
  if (it == installs_.end()) return;
  PendingInstall p = std::move(it->second);
  installs_.erase(it);
  if (f.exit_code == 0) return;
  Who who = f.who;
  who.session = p.session;
  who.name = p.name;
  who.root = p.root;
  report(who, f.ts_ns, "install_failed", fmt::format("{} {}", p.manager, p.package), p.mention,
         out);
}

}  // namespace rein::detect
