#include "pipeline/pipeline_state.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

namespace rein::pipeline {

const process::Agent* PipelineState::agent_for(uint32_t root) {
  if (!root) return nullptr;
  auto it = agent_start.find(root);
  if (it == agent_start.end()) return nullptr;
  return agents.find(root, it->second);
}

const process::Agent* PipelineState::start_agent(uint32_t root, uint64_t ts, uint32_t selector,
                                                 std::string_view comm) {
  std::string name(comm);
  if (selector < selectors.items().size() && !selectors.items()[selector].name.empty())
    name = selectors.items()[selector].name;
  agent_start[root] = ts;
  const auto& a = agents.get_or_create(root, ts, name);
  if (observer) observer->on_agent_started(a);
  return &a;
}

uint64_t PipelineState::agent_start_of(uint32_t root) {
  return agent_start.count(root) ? agent_start[root] : 0;
}

Identity PipelineState::identity(uint32_t pid, uint32_t agent_root) {
  Identity id;
  id.pid = pid;
  id.agent_root = agent_root;
  id.agent = agent_for(agent_root);
  id.discovered = discovered.count(agent_root) && discovered[agent_root];
  return id;
}

ProcessView PipelineState::view(uint32_t pid) {
  ProcessView v;
  v.pid = pid;
  v.info = table.find(pid);
  if (v.info && v.info->cgroup_id && (cgroups || journal)) {
    if (auto p = cgroup_path(v.info->cgroup_id)) v.cgroup = *p;
  }
  return v;
}

const std::string* PipelineState::hostname(const std::string& address) const {
  auto it = hostnames.find(address);
  return it != hostnames.end() ? &it->second : nullptr;
}

std::optional<std::string> PipelineState::ask(
    std::string_view key, const std::function<std::optional<std::string>()>& live) {
  return journal ? journal->lookup(key, live) : live();
}

std::optional<std::string> PipelineState::cgroup_path(uint64_t id) {
  auto live = [&]() -> std::optional<std::string> {
    return cgroups ? cgroups->path_for_id(id) : std::nullopt;
  };
  // Asked for every event's process: the journal's key is only built when there is one.
  if (!journal) return live();
  return journal->lookup(fmt::format("cgroup.path/{}", id), live);
}

uint32_t PipelineState::self_pid() {
  auto v = ask("self.pid", [] { return std::optional<std::string>(std::to_string(getpid())); });
  return v ? uint32_t(std::strtoul(v->c_str(), nullptr, 10)) : 0;
}

// Serialized as the path, then each rule-directory view, NUL-separated.
std::optional<FileViews> PipelineState::resolve_view(uint32_t tgid, uint32_t ppid, uint32_t agent,
                                                     const std::string& path, bool follow) {
  if (!journal) return file_views.resolve({tgid, ppid, agent}, path, follow);
  auto v = journal->lookup(
      fmt::format("file.view/{}/{}/{}/{}/{}", tgid, ppid, agent, follow ? 1 : 0, path),
      [&]() -> std::optional<std::string> {
        auto r = file_views.resolve({tgid, ppid, agent}, path, follow);
        if (!r) return std::nullopt;
        std::string out = r->path;
        for (const auto& u : r->under_rules) (out += '\0') += u;
        return out;
      });
  if (!v) return std::nullopt;
  FileViews out;
  size_t nul = v->find('\0');
  out.path = v->substr(0, nul);
  while (nul != std::string::npos) {
    size_t next = v->find('\0', nul + 1);
    out.under_rules.push_back(
        v->substr(nul + 1, next == std::string::npos ? next : next - nul - 1));
    nul = next;
  }
  return out;
}

void PipelineState::remember_open(uint64_t file_id, const std::string& path, uint32_t opener) {
  if (open_files.size() >= kMaxOpenFiles && !open_files.count(file_id)) {
    stats.fd_table_full++;
    return;
  }
  open_files[file_id] = OpenFile{path, opener};
}

std::optional<std::string> PipelineState::take_open(uint64_t file_id) {
  auto it = open_files.find(file_id);
  if (it == open_files.end()) return std::nullopt;
  std::string path = std::move(it->second.path);
  open_files.erase(it);
  return path;
}

void PipelineState::forget_opener(uint32_t tgid) {
  for (auto it = open_files.begin(); it != open_files.end();) {
    if (it->second.opener == tgid) it = open_files.erase(it); else ++it;
  }
}

std::vector<std::string> PipelineState::learn_hostnames(const std::string& name,
                                                       const proto::DnsMessage& msg,
                                                       bool trusted) {
  if (hostnames.size() > kMaxHostnames) hostnames.clear();
  std::vector<std::string> addrs;
  for (const auto& a : msg.answers)
    if (trusted && (a.type == 1 || a.type == 28) && !a.data.empty()) {
      hostnames[a.data] = name;
      addrs.push_back(a.data);
    }
  return addrs;
}

void PipelineState::learn_hostname(const std::string& address, const std::string& name) {
  if (hostnames.size() > kMaxHostnames) hostnames.clear();
  hostnames[address] = name;
}

std::optional<PendingDns> PipelineState::pair_dns(const decode::DnsRec& r,
                                                  const proto::DnsMessage& msg) {
  auto key = std::make_pair(r.cookie, msg.id);
  if (!r.ingress && !msg.response) {
    if (dns_pending.size() >= kMaxPendingDns) {
      dns_pending.erase(dns_pending.begin());
      stats.dns_pending_dropped++;
    }
    dns_pending[key] = PendingDns{r.h.ts_ns, r.h.tgid, msg.questions[0].name,
                                  msg.questions[0].type, r.address, r.port};
    return std::nullopt;
  }
  if (!r.ingress || !msg.response) return std::nullopt;
  if (r.untrusted) stats.dns_untrusted++;
  PendingDns q;
  if (auto it = dns_pending.find(key); it != dns_pending.end()) {
    q = it->second;
    dns_pending.erase(it);
  } else {
    q = PendingDns{r.h.ts_ns, r.h.tgid, msg.questions[0].name, msg.questions[0].type,
                   r.address, r.port};
  }
  return q;
}

std::vector<PendingDns> PipelineState::expire_dns(uint64_t now) {
  std::vector<PendingDns> out;
  for (auto it = dns_pending.begin(); it != dns_pending.end();) {
    if (now < it->second.ts_ns || now - it->second.ts_ns < kDnsTimeoutNs) {
      ++it;
      continue;
    }
    out.push_back(std::move(it->second));
    it = dns_pending.erase(it);
  }
  return out;
}

}  // namespace rein::pipeline
