#include "process/cgroup_resolver.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include <utility>
#include <vector>

#include "process/proc_reader.h"

namespace rein::process {
namespace {

// Hosts running many containers have thousands of mounts; beyond this the file is not sane.
constexpr size_t kMaxMountsBytes = 4 * 1024 * 1024;

uint64_t monotonic_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The kernel escapes space, tab, newline and backslash in mount paths as \ooo.
std::string decode_mount_field(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const char a = s[i + 1], b = s[i + 2], c = s[i + 3];
      if (a >= '0' && a <= '3' && b >= '0' && b <= '7' && c >= '0' && c <= '7') {
        out.push_back(static_cast<char>((a - '0') * 64 + (b - '0') * 8 + (c - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "/a//b/./c/" -> "/a/b/c"; nullopt on "..". Empty input is the root.
std::optional<std::string> normalize_relative(std::string_view rel) {
  std::string out;
  size_t i = 0;
  while (i < rel.size()) {
    while (i < rel.size() && rel[i] == '/') ++i;
    size_t start = i;
    while (i < rel.size() && rel[i] != '/') ++i;
    std::string_view comp = rel.substr(start, i - start);
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return std::nullopt;
    out.push_back('/');
    out.append(comp);
  }
  if (out.empty()) out = "/";
  return out;
}

}  // namespace

std::optional<std::string> find_cgroup2_mount(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    // device mountpoint fstype options ...
    std::string_view fields[3];
    size_t n = 0, i = 0;
    while (n < 3 && i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) fields[n++] = line.substr(start, i - start);
    }
    if (n == 3 && fields[2] == "cgroup2") {
      std::string mount = decode_mount_field(fields[1]);
      if (!mount.empty() && mount[0] == '/') return mount;
    }
  }
  return std::nullopt;
}

CgroupResolver::CgroupResolver(std::string mount, dev_t dev, Options opts)
    : mount_(std::move(mount)), dev_(dev), opts_(std::move(opts)) {
  if (!opts_.now_ns) opts_.now_ns = monotonic_now_ns;
  if (opts_.cache_max == 0) opts_.cache_max = 1;
}

Result<CgroupResolver> CgroupResolver::create(const std::string& mounts_file) {
  return create(mounts_file, Options{});
}

Result<CgroupResolver> CgroupResolver::create(const std::string& mounts_file, Options opts) {
  bool truncated = false;
  auto text = read_file_bounded(mounts_file, kMaxMountsBytes, &truncated);
  if (!text) return make_error("cgroup: cannot read " + mounts_file);
  auto mount = find_cgroup2_mount(*text);
  if (!mount) {
    return make_error("cgroup: no cgroup2 mount in " + mounts_file +
                      (truncated ? " (file truncated at 4 MiB)" : ""));
  }
  // "/" would make every path look absolute-under-mount; keep it, but without a trailing '/'
  // elsewhere so prefix checks are exact.
  while (mount->size() > 1 && mount->back() == '/') mount->pop_back();
  struct stat sb {};
  if (::stat(mount->c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    return make_error("cgroup: cgroup2 mount " + *mount + " is not a directory");
  }
  return CgroupResolver(std::move(*mount), sb.st_dev, std::move(opts));
}

void CgroupResolver::cache_put(uint64_t id, std::optional<std::string> path, uint64_t expires_ns) {
  auto it = cache_.find(id);
  if (it != cache_.end()) {
    it->second = CacheEntry{std::move(path), expires_ns};
    return;
  }
  while (cache_.size() >= opts_.cache_max && !cache_order_.empty()) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
  cache_.emplace(id, CacheEntry{std::move(path), expires_ns});
  cache_order_.push_back(id);
}

void CgroupResolver::walk() {
  ++walks_;
  last_walk_.clear();
  struct stat root {};
  if (::stat(mount_.c_str(), &root) != 0) return;
  last_walk_.emplace(static_cast<uint64_t>(root.st_ino), "/");
  size_t visited = 1;
  std::deque<std::string> queue{""};  // relative paths; "" is the root
  while (!queue.empty()) {
    std::string rel = std::move(queue.front());
    queue.pop_front();
    DIR* dir = ::opendir((mount_ + rel).c_str());
    if (dir == nullptr) continue;  // removed while walking
    while (const dirent* de = ::readdir(dir)) {
      std::string_view name(de->d_name);
      if (name == "." || name == "..") continue;
      if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) continue;
      if (visited >= opts_.walk_max_dirs) {
        ++truncated_walks_;
        ::closedir(dir);
        return;
      }
      std::string child = rel + "/" + std::string(name);
      struct stat sb {};
      // lstat: never follow a link out of the hierarchy; st_dev: never cross into a
      // filesystem mounted below it.
      if (::lstat((mount_ + child).c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode) ||
          sb.st_dev != dev_) {
        continue;
      }
      ++visited;
      last_walk_.emplace(static_cast<uint64_t>(sb.st_ino), child);
      queue.push_back(std::move(child));
    }
    ::closedir(dir);
  }
}

std::optional<std::string> CgroupResolver::path_for_id(uint64_t id) {
  // A known path is the answer for nearly every event: no clock read for it.
  auto cached = cache_.find(id);
  if (cached != cache_.end() && cached->second.path) return cached->second.path;
  const uint64_t now = opts_.now_ns();
  if (cached != cache_.end() && now < cached->second.expires_ns) return std::nullopt;
  if (auto it = last_walk_.find(id); it != last_walk_.end()) {
    cache_put(id, it->second, 0);
    return it->second;
  }
  if (walked_ && now - last_walk_ns_ < opts_.walk_interval_ns) {
    return std::nullopt;  // rate-limited; not cached so the next interval retries
  }
  walked_ = true;
  last_walk_ns_ = now;
  walk();
  if (auto it = last_walk_.find(id); it != last_walk_.end()) {
    cache_put(id, it->second, 0);
    return it->second;
  }
  cache_put(id, std::nullopt, now + opts_.negative_ttl_ns);
  return std::nullopt;
}

std::optional<uint64_t> CgroupResolver::id_for_path(std::string_view path) {
  std::string_view rel = path;
  if (mount_ != "/" && rel.substr(0, mount_.size()) == mount_ &&
      (rel.size() == mount_.size() || rel[mount_.size()] == '/')) {
    rel.remove_prefix(mount_.size());
  }
  auto norm = normalize_relative(rel);
  if (!norm) return std::nullopt;
  const std::string full = *norm == "/" ? mount_ : (mount_ == "/" ? *norm : mount_ + *norm);
  struct stat sb {};
  // cgroupfs has no symlinks: one here points somewhere that is not a cgroup.
  if (::lstat(full.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_dev != dev_) {
    return std::nullopt;
  }
  const uint64_t id = static_cast<uint64_t>(sb.st_ino);
  cache_put(id, *norm, 0);
  return id;
}

}  // namespace rein::process
