#include "process/path_normalize.h"

namespace rein::process {
namespace {

// Appends the components of `path` to `out`, which holds an already folded path without a
// trailing '/' ("" stands for the root). ".." trims `out` back to its previous '/': each byte
// is appended once and trimmed at most once, so the whole fold stays linear even for
// hostile inputs like "a/b/../../a/b/../..".
void fold_into(std::string& out, std::string_view path) {
  const size_t n = path.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = n;
    const std::string_view comp = path.substr(i, end - i);
    i = end;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      const size_t slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);  // ".." at the root stays at the root
      continue;
    }
    out += '/';
    out += comp;
  }
}

std::string finish(std::string out) {
  if (out.empty()) out = "/";
  return out;
}

}  // namespace

std::string normalize_path(std::string_view abs) {
  std::string out;
  out.reserve(abs.size() + 1);
  fold_into(out, abs);
  return finish(std::move(out));
}

std::string join_path(std::string_view dir, std::string_view rel) {
  std::string out;
  if (!rel.empty() && rel.front() == '/') {
    out.reserve(rel.size() + 1);
  } else {
    out.reserve(dir.size() + rel.size() + 2);
    fold_into(out, dir);
  }
  fold_into(out, rel);
  return finish(std::move(out));
}

}  // namespace rein::process
