// Contents of config-class files as the sensor last saw them, so a config.mutation can
// say what a file was before the change. The sensor learns of a change after it happened
// (at close, rename or unlink; O_TRUNC already emptied the file), so the "before" must be
// read earlier: when an agent is first seen (known-class files in its cwd and home) and
// after every mutation (the after becomes the next before). Bounded in files and bytes;
// credential-class files keep only hashes, sizes and line counts, never content.
#pragma once
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rein::pipeline {

struct SnapshotLimits {
  size_t max_files = 256;
  size_t max_content_bytes = 256 * 1024;  // per file; larger files are hashed only
  size_t max_hash_bytes = 16 << 20;       // larger files are not hashed
  size_t max_total_bytes = 32 << 20;      // content held by the cache
  size_t max_dir_entries = 64;            // per directory listed at agent start
};

struct FileState {
  bool exists = false;
  std::string missing_reason;  // !exists: "deleted", "not a regular file", "unreadable: ..."
  uint64_t size = 0;
  std::string sha256;        // lower-case hex; empty when the file was too large to hash
  uint64_t lines = 0;        // newline count
  bool binary = false;       // a NUL byte in the content
  bool has_content = false;  // `content` holds the whole file
  std::string content;
  int64_t ctime_real_ns = 0;  // last status change (CLOCK_REALTIME) when read
};

// Reads `path` (absolute, as a process with root directory `root_dir` sees it, e.g.
// "/proc/1234/root") without following it out of that root, without blocking on FIFOs
// or devices, and bounded by `limits`.
FileState read_file_state(const std::string& root_dir, const std::string& path, bool keep_content,
                          const SnapshotLimits& limits);

struct Snapshot {
  FileState state;
  uint64_t taken_boot_ns = 0;
  std::string source;  // "agent_start" or "previous_mutation"
};

class ConfigSnapshots {
 public:
  explicit ConfigSnapshots(SnapshotLimits limits = {}) : limits_(limits) {}
  const SnapshotLimits& limits() const { return limits_; }
  // `key` names the file across processes: root identity + path (see snapshot_key).
  void put(const std::string& key, Snapshot s);
  const Snapshot* get(const std::string& key);
  void erase(const std::string& key);
  size_t size() const { return map_.size(); }
  size_t content_bytes() const { return bytes_; }
  uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    Snapshot snap;
    std::list<std::string>::iterator lru;
  };
  void evict_to_fit(size_t incoming);
  SnapshotLimits limits_;
  std::unordered_map<std::string, Entry> map_;
  std::list<std::string> lru_;  // most recent first
  size_t bytes_ = 0;
  uint64_t evicted_ = 0;
};

// FileState as bytes and back, for the capture journal (replay reads no files). decode
// returns nullopt on anything malformed, with every length checked against the input.
void encode_file_state(std::string& out, const FileState& s);
std::optional<FileState> decode_file_state(std::string_view& in);
// Length-prefixed strings, the framing of the encodings above.
void put_field(std::string& out, std::string_view v);
std::optional<std::string_view> take_field(std::string_view& in);

// "DEV:INO:PATH" with the (dev, ino) of the root directory: processes that share a root
// (the usual case, also across exits) share entries; another mount namespace's file of the
// same name does not.
std::optional<std::string> snapshot_key(const std::string& root_dir, const std::string& path);

}  // namespace rein::pipeline
