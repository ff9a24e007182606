#include "pipeline/file_views.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include "process/path_resolver.h"

namespace rein::pipeline {

bool FileViewResolver::name_based(uint32_t nr) {
  switch (nr) {
    case 77:   // ftruncate
    case 91:   // fchmod
    case 93:   // fchown
    case 190:  // fsetxattr
    case 199:  // fremovexattr
    case 9:    // mmap
    case 40:   // sendfile
    case 275:  // splice
    case 285:  // fallocate
    case 326:  // copy_file_range
      return false;
  }
  return true;
}

bool FileViewResolver::follows_last(uint32_t nr) {
  switch (nr) {
    case 76:   // truncate
    case 90:   // chmod
    case 92:   // chown
    case 188:  // setxattr
    case 197:  // removexattr
    case 260:  // fchownat (AT_SYMLINK_NOFOLLOW is not in the record: taken as following)
    case 268:  // fchmodat
    case 452:  // fchmodat2
    case 463:  // setxattrat
    case 466:  // removexattrat
      return true;
  }
  return false;
}

std::optional<FileViews> FileViewResolver::resolve(std::initializer_list<uint32_t> pids,
                                                   const std::string& written, bool follow_last) {
  if (written.empty() || written[0] != '/') return std::nullopt;
  std::optional<process::ResolvedPath> r;
  for (uint32_t pid : pids) {
    if (!pid) continue;
    std::string root = fmt::format("/proc/{}/root", pid);
    struct stat st {};
    if (stat(root.c_str(), &st) != 0) continue;  // exited
    auto got = process::resolve_in_root(root, pid, written, 64, follow_last);
    if (got) {
      r = std::move(*got);
      break;
    }
  }
  if (!r) {
    if (auto got = process::resolve_in_root("/", pids.size() ? *pids.begin() : 0, written, 64,
                                            follow_last))
      r = std::move(*got);
  }
  if (!r) {
    failures_++;
    return std::nullopt;
  }
  FileViews v;
  v.path = r->path;
  const size_t below_last = r->last.empty() ? 0 : 1;
  for (size_t k = 0; k < r->ancestors.size(); k++) {
    for (const auto& d : dirs_) {
      if (d.dev != r->ancestors[k].dev || d.ino != r->ancestors[k].ino) continue;
      std::string rest = process::last_components(r->path, k + below_last);
      v.under_rules.push_back(rest.empty() ? d.dir : d.dir + "/" + rest);
    }
  }
  // The object itself: a file an exact-path rule names, reached by another name (a hard
  // link, a bind mount's view), is judged by that rule under the rule's own name.
  if (!r->last.empty()) {
    struct stat st {};
    if ((follow_last ? stat(r->path.c_str(), &st) : lstat(r->path.c_str(), &st)) == 0 &&
        S_ISREG(st.st_mode))
      for (const auto& d : dirs_)
        if (d.dev == st.st_dev && d.ino == st.st_ino) v.under_rules.push_back(d.dir);
  }
  return v;
}

}  // namespace rein::pipeline
