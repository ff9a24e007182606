#include "process/path_resolver.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rein::process {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Error errno_error(std::string_view what, std::string_view path) {
  return make_error(fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// "/proc/self/..." of the process, not of the resolver.
std::string own_proc(std::string_view path, uint32_t pid) {
  for (std::string_view self : {"/proc/self", "/proc/thread-self"}) {
    if (path.substr(0, self.size()) == self &&
        (path.size() == self.size() || path[self.size()] == '/'))
      return fmt::format("/proc/{}{}", pid, path.substr(self.size()));
  }
  return std::string(path);
}

}  // namespace

bool path_is_indirect(std::string_view w) {
  if (w.substr(0, 6) == "/proc/" || w == "/proc") return true;
  if (w.find("//") != std::string_view::npos) return true;
  std::string_view t = w;
  while (t.size() > 1 && t.back() == '/') t.remove_suffix(1);
  // a '/' after the first character: a directory component, which may be a symlink
  if (t.find('/', 1) != std::string_view::npos) return true;
  size_t start = 0;
  while (start <= w.size()) {
    size_t end = w.find('/', start);
    if (end == std::string_view::npos) end = w.size();
    auto c = w.substr(start, end - start);
    if (c == "." || c == "..") return true;
    start = end + 1;
  }
  return false;
}

std::string last_components(std::string_view path, size_t n) {
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') end--;
  size_t pos = end;
  for (size_t i = 0; i < n && pos > 0; i++) {
    size_t slash = path.rfind('/', pos - 1);
    if (slash == std::string_view::npos) {
      pos = 0;
      break;
    }
    pos = slash;
  }
  auto out = path.substr(pos, end - pos);
  while (!out.empty() && out.front() == '/') out.remove_prefix(1);
  return std::string(out);
}

namespace {
Result<ResolvedPath> resolve(const std::string& root_dir, uint32_t pid, std::string_view written,
                             size_t max_ancestors, bool follow_last, int links);
}

Result<ResolvedPath> resolve_in_root(const std::string& root_dir, uint32_t pid,
                                     std::string_view written, size_t max_ancestors,
                                     bool follow_last) {
  return resolve(root_dir, pid, written, max_ancestors, follow_last, 0);
}

namespace {
Result<ResolvedPath> resolve(const std::string& root_dir, uint32_t pid, std::string_view written,
                             size_t max_ancestors, bool follow_last, int links) {
  if (written.empty() || written[0] != '/') return make_error("resolve: path is not absolute");
  std::string path = own_proc(written, pid);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string parent, last;
  size_t slash = path.rfind('/');
  parent = slash == 0 ? "/" : path.substr(0, slash);
  last = path.substr(slash + 1);
  if (last == "." || last == ".." || last.empty()) {  // the path names a directory itself
    parent = path;
    last.clear();
  }

  Fd root(open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return errno_error("resolve: open", root_dir);
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT;
  Fd dir(static_cast<int>(syscall(SYS_openat2, root.get(), parent.c_str(), &how, sizeof(how))));
  if (dir.get() < 0 && errno == EXDEV) {
    // A /proc magic link (/proc/PID/root, /cwd, /fd/N): RESOLVE_IN_ROOT refuses to jump.
    // Follow it from the process's root like its own lookup did; "..", which the kernel
    // keeps inside that root, is then not confined (documented in docs/policy.md).
    how.resolve = 0;
    size_t first = parent.find_first_not_of('/');
    std::string rel = first == std::string::npos ? "." : parent.substr(first);
    dir = Fd(static_cast<int>(syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof(how))));
  }
  if (dir.get() < 0) return errno_error("resolve: openat2", parent);
  if (follow_last && !last.empty()) {
    char target[4096];
    ssize_t t = readlinkat(dir.get(), last.c_str(), target, sizeof(target) - 1);
    if (t > 0) {  // the op went on to what the link names: resolve that instead
      if (links >= 40) return make_error(fmt::format("resolve: {}: too many links", written));
      std::string next(target, static_cast<size_t>(t));
      if (next[0] != '/') next = (parent == "/" ? "/" : parent + "/") + next;
      return resolve(root_dir, pid, next, max_ancestors, true, links + 1);
    }
  }

  char buf[4096];
  std::string link = fmt::format("/proc/self/fd/{}", dir.get());
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return errno_error("resolve: readlink", link);
  ResolvedPath out;
  out.last = last;
  out.path.assign(buf, static_cast<size_t>(n));
  if (!last.empty()) {
    if (out.path != "/") out.path += '/';
    out.path += last;
  }

  struct stat st {};
  if (fstat(dir.get(), &st) != 0) return errno_error("resolve: fstat", parent);
  out.ancestors.push_back({st.st_dev, st.st_ino});
  Fd cur = std::move(dir);
  while (out.ancestors.size() < max_ancestors) {
    Fd up(openat(cur.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (up.get() < 0 || fstat(up.get(), &st) != 0) break;
    DirId id{st.st_dev, st.st_ino};
    if (id == out.ancestors.back()) break;  // ".." of the root is the root
    out.ancestors.push_back(id);
    cur = std::move(up);
  }
  return out;
}
}  // namespace

}  // namespace rein::process
