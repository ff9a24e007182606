// The real path behind a name-based file operation, resolved after the syscall.
//
// The kernel reports a name-based op (rename, unlink, chmod, ...) as the walked directory
// plus the caller's string, so "work/link/f" (link -> /srv/prot), "a/../..", "//x" or
// "/proc/self/root/..." name a file under a protected directory without looking like it.
// This resolves the parent directory the way the process's own lookup did, inside its root
// (/proc/PID/root with RESOLVE_IN_ROOT), then reads back the host path of what was opened
// and the (dev, ino) of every directory above it. The last component is kept as written:
// after unlink or rename it no longer exists, and it was never followed as a symlink.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rein::process {

struct DirId {
  uint64_t dev = 0;  // st_dev as stat(2) reports it
  uint64_t ino = 0;
  bool operator==(const DirId&) const = default;
};

struct ResolvedPath {
  std::string path;              // absolute, in the sensor's (host) view
  std::string last;              // the last component as written; empty: path is a directory
  std::vector<DirId> ancestors;  // the parent directory first, then upwards to the root
};

// Resolves `path` (absolute, as the process with root directory `root_dir` sees it, e.g.
// "/proc/1234/root"). "/proc/self" and "/proc/thread-self" at its start are taken as
// "/proc/<pid>": the process meant itself, not the resolver. At most max_ancestors
// directories are listed. follow_last: the op followed a symlink in the last component
// (chmod, chown, truncate, setxattr): resolve what it points to, as the kernel did.
Result<ResolvedPath> resolve_in_root(const std::string& root_dir, uint32_t pid,
                                     std::string_view path, size_t max_ancestors = 64,
                                     bool follow_last = false);

// Does a path as written need resolving to know what it names? ("/" after the first
// character, "." or ".." components, "//", /proc/)
bool path_is_indirect(std::string_view written);

// The last `n` components of an absolute path, joined with '/' (no leading slash).
std::string last_components(std::string_view path, size_t n);

}  // namespace rein::process
