#include "process/k8s_identity.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <utility>

#include "process/container_id.h"

namespace rein::process {
namespace {

constexpr size_t kContainerIdLen = 64;
constexpr size_t kMaxLabel = 63;       // DNS-1123 label: namespace, container
constexpr size_t kMaxSubdomain = 253;  // DNS-1123 subdomain: pod name

uint64_t monotonic_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, and '.' too for subdomains (not leading, trailing or doubled).
bool is_dns_name(std::string_view s, size_t max, bool dots) {
  if (s.empty() || s.size() > max) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_lower_alnum(c) || c == '-') continue;
    if (dots && c == '.' && s[i - 1] != '.' && s[i - 1] != '-' && i + 1 < s.size() &&
        s[i + 1] != '-') {
      continue;
    }
    return false;
  }
  return true;
}

// 8-4-4-4-12 lower-case hex, or 32 hex (static pods use a config hash), as container_id.cpp.
bool is_pod_uid(std::string_view s) {
  if (s.size() == 32) {
    for (char c : s) {
      if (!is_lower_hex(c)) return false;
    }
    return true;
  }
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_pos ? s[i] != '-' : !is_lower_hex(s[i])) return false;
  }
  return true;
}

// Exactly three '_'-separated non-empty parts.
bool split3(std::string_view s, std::array<std::string_view, 3>& out) {
  const size_t a = s.find('_');
  if (a == std::string_view::npos) return false;
  const size_t b = s.find('_', a + 1);
  if (b == std::string_view::npos || s.find('_', b + 1) != std::string_view::npos) return false;
  out = {s.substr(0, a), s.substr(a + 1, b - a - 1), s.substr(b + 1)};
  return true;
}

class Dir {
 public:
  explicit Dir(const std::string& path) : d_(::opendir(path.c_str())) {}
  ~Dir() {
    if (d_ != nullptr) ::closedir(d_);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  explicit operator bool() const { return d_ != nullptr; }
  const dirent* next() { return ::readdir(d_); }

 private:
  DIR* d_;
};

bool is_real_dir(const std::string& path) {
  struct stat sb {};
  // lstat: a link here is not kubelet's doing and could point anywhere
  return ::lstat(path.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
}

std::optional<std::string> read_link(const std::string& path) {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n <= 0 || static_cast<size_t>(n) >= buf.size()) return std::nullopt;
  return std::string(buf.data(), static_cast<size_t>(n));
}

}  // namespace

bool is_k8s_container_name(std::string_view s) {
  return is_dns_name(s, kMaxLabel, false);
}

std::optional<PodLogDir> parse_pod_log_dir(std::string_view name) {
  std::array<std::string_view, 3> p;
  if (!split3(name, p)) return std::nullopt;
  if (!is_dns_name(p[0], kMaxLabel, false) || !is_dns_name(p[1], kMaxSubdomain, true) ||
      !is_pod_uid(p[2])) {
    return std::nullopt;
  }
  return PodLogDir{std::string(p[0]), std::string(p[1]), std::string(p[2])};
}

std::optional<ContainerLogLink> parse_container_log_link(std::string_view name) {
  constexpr std::string_view kSuffix = ".log";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  name.remove_suffix(kSuffix.size());
  std::array<std::string_view, 3> p;
  if (!split3(name, p)) return std::nullopt;
  // "<container>-<id>": the id has a fixed length, so the container name may hold '-'.
  const std::string_view tail = p[2];
  if (tail.size() < kContainerIdLen + 2 || tail[tail.size() - kContainerIdLen - 1] != '-') {
    return std::nullopt;
  }
  const std::string_view id = tail.substr(tail.size() - kContainerIdLen);
  const std::string_view container = tail.substr(0, tail.size() - kContainerIdLen - 1);
  for (char c : id) {
    if (!is_lower_hex(c)) return std::nullopt;
  }
  if (!is_dns_name(p[0], kMaxSubdomain, true) || !is_dns_name(p[1], kMaxLabel, false) ||
      !is_k8s_container_name(container)) {
    return std::nullopt;
  }
  return ContainerLogLink{std::string(p[0]), std::string(p[1]), std::string(container),
                          std::string(id)};
}

std::optional<K8sIdentity> k8s_identity_from_cgroup(std::string_view cgroup_path) {
  // Nearly every event comes from outside a pod: skip the component split for those.
  if (cgroup_path.find("kubepods") == std::string_view::npos) return std::nullopt;
  auto uid = pod_uid_from_cgroup(cgroup_path);
  if (!uid) return std::nullopt;
  K8sIdentity id;
  id.pod_uid = std::move(*uid);
  return id;
}

K8sIdentityResolver::K8sIdentityResolver(Options opts) : opts_(std::move(opts)) {
  if (!opts_.now_ns) opts_.now_ns = monotonic_now_ns;
  if (opts_.cache_max == 0) opts_.cache_max = 1;
  while (opts_.log_root.size() > 1 && opts_.log_root.back() == '/') opts_.log_root.pop_back();
}

void K8sIdentityResolver::scan_pods() {
  ++scans_;
  last_scan_.clear();
  Dir dir(opts_.log_root + "/pods");
  if (!dir) return;
  size_t seen = 0;
  while (const dirent* de = dir.next()) {
    if (++seen > opts_.scan_max_entries) break;
    if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) continue;
    auto parsed = parse_pod_log_dir(de->d_name);
    if (parsed) last_scan_.emplace(std::move(parsed->uid), de->d_name);
  }
}

std::optional<std::string> K8sIdentityResolver::find_pod_dir(const std::string& uid) {
  auto it = last_scan_.find(uid);
  if (it == last_scan_.end()) {
    const uint64_t now = opts_.now_ns();
    if (scanned_ && now - last_scan_ns_ < opts_.scan_interval_ns) return std::nullopt;
    scanned_ = true;
    last_scan_ns_ = now;
    scan_pods();
    it = last_scan_.find(uid);
    if (it == last_scan_.end()) return std::nullopt;
  }
  if (!is_real_dir(opts_.log_root + "/pods/" + it->second)) return std::nullopt;
  return it->second;
}

void K8sIdentityResolver::read_containers(Pod& pod) {
  {
    Dir dir(opts_.log_root + "/pods/" + pod.dir);
    size_t seen = 0;
    while (const dirent* de = dir ? dir.next() : nullptr) {
      if (++seen > opts_.scan_max_entries) break;
      const std::string_view name(de->d_name);
      if (!is_k8s_container_name(name)) continue;
      if (is_real_dir(opts_.log_root + "/pods/" + pod.dir + "/" + std::string(name))) {
        pod.container_dirs.emplace_back(name);
      }
    }
  }
  // Links of this pod: "<pod>_<ns>_<container>-<id>.log" -> ".../pods/<dir>/<container>/N.log".
  // The target must name this pod's directory: a deleted and re-created pod of the same name
  // (a new UID) can leave links of the old one behind for a while.
  const std::string prefix = pod.name + "_" + pod.ns + "_";
  const std::string links = opts_.log_root + "/containers";
  Dir dir(links);
  size_t seen = 0;
  while (const dirent* de = dir ? dir.next() : nullptr) {
    if (++seen > opts_.scan_max_entries) break;
    const std::string_view name(de->d_name);
    if (name.substr(0, prefix.size()) != prefix) continue;
    auto link = parse_container_log_link(name);
    if (!link || link->pod != pod.name || link->ns != pod.ns) continue;
    auto target = read_link(links + "/" + std::string(name));
    if (!target) continue;
    const std::string want = "/" + pod.dir + "/" + link->container + "/";
    if (target->find(want) == std::string::npos) continue;
    pod.containers[link->container_id] = link->container;
  }
}

K8sIdentityResolver::Pod K8sIdentityResolver::load(const std::string& uid) {
  ++pod_loads_;
  Pod pod;
  pod.loaded_ns = opts_.now_ns();
  auto dir = find_pod_dir(uid);
  if (!dir) return pod;
  auto parsed = parse_pod_log_dir(*dir);
  if (!parsed || parsed->uid != uid) return pod;
  pod.found = true;
  pod.ns = std::move(parsed->ns);
  pod.name = std::move(parsed->pod);
  pod.dir = std::move(*dir);
  read_containers(pod);
  return pod;
}

K8sIdentityResolver::Pod& K8sIdentityResolver::cache_put(const std::string& uid, Pod pod) {
  auto it = cache_.find(uid);
  if (it != cache_.end()) {
    it->second = std::move(pod);
    return it->second;
  }
  while (cache_.size() >= opts_.cache_max && !cache_order_.empty()) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
  cache_order_.push_back(uid);
  return cache_.emplace(uid, std::move(pod)).first->second;
}

std::optional<K8sIdentity> K8sIdentityResolver::resolve(std::string_view cgroup_path) {
  auto id = k8s_identity_from_cgroup(cgroup_path);
  if (!id) return std::nullopt;
  const auto container_id = container_id_from_cgroup(cgroup_path);
  const uint64_t now = opts_.now_ns();

  Pod* pod = nullptr;
  if (auto it = cache_.find(id->pod_uid); it != cache_.end()) {
    const Pod& p = it->second;
    const uint64_t age = now - p.loaded_ns;
    const bool expired = age >= (p.found ? opts_.ttl_ns : opts_.negative_ttl_ns);
    // A container started after the load (a restart has a new id): re-read, not too often.
    const bool unknown_container = p.found && container_id && !p.containers.count(*container_id) &&
                                   age >= opts_.negative_ttl_ns;
    if (!expired && !unknown_container) pod = &it->second;
  }
  if (pod == nullptr) pod = &cache_put(id->pod_uid, load(id->pod_uid));
  if (!pod->found) return id;

  id->ns = pod->ns;
  id->pod = pod->name;
  if (labels_) id->labels = labels_->labels(pod->ns, pod->name, id->pod_uid);
  if (container_id) {
    if (auto c = pod->containers.find(*container_id); c != pod->containers.end()) {
      id->container = c->second;
    } else if (pod->containers.empty() && pod->container_dirs.size() == 1) {
      // No links to go by, one container directory: every container of the pod with logs is
      // that one. With links, an id they do not name is the sandbox (pause) or a container
      // newer than the last read, and is left unnamed.
      id->container = pod->container_dirs.front();
    }
  }
  return id;
}

}  // namespace rein::process
