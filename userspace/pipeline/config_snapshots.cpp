#include "pipeline/config_snapshots.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

namespace rein::pipeline {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct MdFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}

int open_in_root(const std::string& root_dir, const std::string& path) {
  Fd root(open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return -1;
  open_how how{};
  // O_NONBLOCK: a FIFO or device named like a config file must not stall the pipeline.
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  size_t first = path.find_first_not_of('/');
  std::string rel = first == std::string::npos ? "." : path.substr(first);
  return static_cast<int>(syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof(how)));
}

}  // namespace

FileState read_file_state(const std::string& root_dir, const std::string& path, bool keep_content,
                          const SnapshotLimits& limits) {
  FileState st;
  Fd fd(open_in_root(root_dir, path));
  if (fd.get() < 0) {
    st.missing_reason =
        errno == ENOENT ? "deleted" : fmt::format("unreadable: {}", strerror(errno));
    return st;
  }
  struct stat sb {};
  if (fstat(fd.get(), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st.missing_reason = "not a regular file";
    return st;
  }
  st.exists = true;
  st.size = static_cast<uint64_t>(sb.st_size);
  st.ctime_real_ns = int64_t(sb.st_ctim.tv_sec) * 1'000'000'000 + sb.st_ctim.tv_nsec;
  if (st.size > limits.max_hash_bytes) return st;  // too large to hash: size only
  std::unique_ptr<EVP_MD_CTX, MdFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) return st;
  bool want = keep_content && st.size <= limits.max_content_bytes;
  std::string content;
  char buf[65536];
  uint64_t total = 0;
  bool ok = true;
  while (total <= limits.max_hash_bytes) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(md.get(), buf, size_t(n));
    st.lines += size_t(std::count(buf, buf + n, '\n'));
    if (!st.binary && std::memchr(buf, 0, size_t(n))) st.binary = true;
    if (want && content.size() + size_t(n) <= limits.max_content_bytes) {
      content.append(buf, size_t(n));
    } else if (want) {  // it grew past the bound since fstat: hash only
      want = false;
      content.clear();
    }
    total += uint64_t(n);
  }
  if (!ok || total > limits.max_hash_bytes) return st;  // grew past the bound while read
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(md.get(), out, &len) != 1) return st;
  st.sha256 = hex(out, len);
  st.size = total;  // what was hashed (the file may have changed size since fstat)
  if (want && content.size() == total) {
    st.content = std::move(content);
    st.has_content = true;
  }
  return st;
}

void put_field(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out.push_back(':');
  out.append(v);
}

std::optional<std::string_view> take_field(std::string_view& in) {
  size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 10) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = 0; i < colon; i++) {
    if (in[i] < '0' || in[i] > '9') return std::nullopt;
    n = n * 10 + uint64_t(in[i] - '0');
  }
  if (n > in.size() - colon - 1) return std::nullopt;
  std::string_view v = in.substr(colon + 1, n);
  in.remove_prefix(colon + 1 + n);
  return v;
}

namespace {
std::optional<int64_t> to_i64(std::optional<std::string_view> f) {
  if (!f || f->empty() || f->size() > 20) return std::nullopt;
  bool neg = f->front() == '-';
  int64_t v = 0;
  for (size_t i = neg ? 1 : 0; i < f->size(); i++) {
    char c = (*f)[i];
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}
}  // namespace

void encode_file_state(std::string& out, const FileState& s) {
  put_field(out, s.exists ? "1" : "0");
  put_field(out, s.missing_reason);
  put_field(out, std::to_string(s.size));
  put_field(out, s.sha256);
  put_field(out, std::to_string(s.lines));
  put_field(out, s.binary ? "1" : "0");
  put_field(out, s.has_content ? "1" : "0");
  put_field(out, s.content);
  put_field(out, std::to_string(s.ctime_real_ns));
}

std::optional<FileState> decode_file_state(std::string_view& in) {
  FileState s;
  auto exists = take_field(in);
  auto reason = take_field(in);
  auto size = to_i64(take_field(in));
  auto sha = take_field(in);
  auto lines = to_i64(take_field(in));
  auto binary = take_field(in);
  auto has = take_field(in);
  auto content = take_field(in);
  auto ctime = to_i64(take_field(in));
  if (!exists || !reason || !size || *size < 0 || !sha || !lines || *lines < 0 || !binary || !has ||
      !content || !ctime)
    return std::nullopt;
  s.exists = *exists == "1";
  s.missing_reason = std::string(*reason);
  s.size = uint64_t(*size);
  s.sha256 = std::string(*sha);
  s.lines = uint64_t(*lines);
  s.binary = *binary == "1";
  s.has_content = *has == "1";
  s.content = std::string(*content);
  s.ctime_real_ns = *ctime;
  return s;
}

std::optional<std::string> snapshot_key(const std::string& root_dir, const std::string& path) {
  struct stat sb {};
  if (stat(root_dir.c_str(), &sb) != 0) return std::nullopt;
  return fmt::format("{}:{}:{}", uint64_t(sb.st_dev), uint64_t(sb.st_ino), path);
}

void ConfigSnapshots::evict_to_fit(size_t incoming) {
  while (!lru_.empty() &&
         (map_.size() >= limits_.max_files || bytes_ + incoming > limits_.max_total_bytes)) {
    auto it = map_.find(lru_.back());
    if (it != map_.end()) {
      bytes_ -= it->second.snap.state.content.size();
      map_.erase(it);
    }
    lru_.pop_back();
    evicted_++;
  }
}

void ConfigSnapshots::put(const std::string& key, Snapshot s) {
  if (limits_.max_files == 0) return;
  erase(key);
  if (s.state.content.size() > limits_.max_total_bytes) {
    s.state.content.clear();
    s.state.has_content = false;
  }
  evict_to_fit(s.state.content.size());
  lru_.push_front(key);
  bytes_ += s.state.content.size();
  map_.emplace(key, Entry{std::move(s), lru_.begin()});
}

const Snapshot* ConfigSnapshots::get(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return &it->second.snap;
}

void ConfigSnapshots::erase(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  bytes_ -= it->second.snap.state.content.size();
  lru_.erase(it->second.lru);
  map_.erase(it);
}

}  // namespace rein::pipeline
