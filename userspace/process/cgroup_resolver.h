// Maps cgroup v2 ids (what bpf_get_current_cgroup_id() reports) to paths under the cgroup2
// mount and back. A cgroup v2 directory's id is its inode number, so the mapping is a
// directory walk; it is cached, bounded and rate-limited because an unknown id can come
// from every event of a busy container.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

namespace rein::process {

// Mount point of the first "cgroup2" line of a mounts file's text (octal escapes such as
// \040 decoded). Hybrid hosts mount it at /sys/fs/cgroup/unified, others at /sys/fs/cgroup.
std::optional<std::string> find_cgroup2_mount(std::string_view mounts_text);

class CgroupResolver {
 public:
  struct Options {
    size_t cache_max = 4096;
    size_t walk_max_dirs = 20000;
    uint64_t walk_interval_ns = 200'000'000;   // at most one full walk per interval
    uint64_t negative_ttl_ns = 2'000'000'000;  // how long "not found after a walk" sticks
    std::function<uint64_t()> now_ns;          // monotonic clock; tests inject their own
  };

  static Result<CgroupResolver> create(const std::string& mounts_file = "/proc/mounts");
  static Result<CgroupResolver> create(const std::string& mounts_file, Options opts);

  // Path relative to the mount ("/" for the root, "/a/b" below it); nullopt if unknown.
  std::optional<std::string> path_for_id(uint64_t id);
  // Accepts a path absolute under the mount ("<mount>/a/b") or relative to it ("/a/b",
  // "a/b"). ".." is refused so a selector cannot name something outside the hierarchy.
  std::optional<uint64_t> id_for_path(std::string_view path);
  std::string mount_point() const { return mount_; }

  uint64_t walks() const { return walks_; }
  uint64_t truncated_walks() const { return truncated_walks_; }
  size_t cache_size() const { return cache_.size(); }

 private:
  struct CacheEntry {
    std::optional<std::string> path;
    uint64_t expires_ns = 0;  // only for negative entries
  };

  CgroupResolver(std::string mount, dev_t dev, Options opts);
  void cache_put(uint64_t id, std::optional<std::string> path, uint64_t expires_ns);
  void walk();

  std::string mount_;
  dev_t dev_;
  Options opts_;
  std::unordered_map<uint64_t, CacheEntry> cache_;
  std::deque<uint64_t> cache_order_;  // insertion order, for FIFO eviction
  // Everything the last walk saw, so several new ids arriving together need one walk.
  std::unordered_map<uint64_t, std::string> last_walk_;
  bool walked_ = false;
  uint64_t last_walk_ns_ = 0;
  uint64_t walks_ = 0;
  uint64_t truncated_walks_ = 0;
};

}  // namespace rein::process
