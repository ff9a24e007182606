// Pattern and subject from the input (first byte: mode and case flags, then
// "PATTERN\nSUBJECT"): compiling and matching always terminate quickly, and the shortcut
// accessors agree with match().
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "policy/glob.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rein::policy::Glob;
  using rein::policy::GlobMode;
  if (size < 1) return 0;
  const GlobMode mode = (data[0] & 1) ? GlobMode::kName : GlobMode::kPath;
  const bool ignore_case = (data[0] & 2) != 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  auto nl = rest.find('\n');
  std::string_view pattern = rest.substr(0, nl);
  std::string_view subject = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);

  auto g = Glob::compile(pattern, mode, ignore_case);
  if (!g.ok()) {
    check(!g.error().message.empty());
    return 0;
  }
  const bool hit = g->match(subject);
  auto prefix = g->literal_prefix();
  if (g->is_literal()) {
    check(prefix.has_value());
    check(g->match(*prefix));
  }
  if (hit && prefix && !ignore_case) {
    bool starts = subject.substr(0, prefix->size()) == *prefix;
    bool dir_itself = g->is_prefix_only() && std::string(subject) + "/" == *prefix;
    // "P/**/x" and similar also match "P/x", which starts with the prefix "P/".
    check(starts || dir_itself || (prefix->size() == subject.size() + 1 && prefix->back() == '/'));
  }
  if (g->is_prefix_only() && !ignore_case) {
    check(prefix.has_value());
    check(g->match(*prefix + "x"));
    check(g->match(*prefix + "x/y"));
  }
  if (auto name = g->basename_only(); name && !ignore_case) {
    check(g->match("/" + *name));
    check(g->match("/a/b/" + *name));
  }
  return 0;
}
