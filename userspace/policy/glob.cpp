#include "policy/glob.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>

namespace rein::policy {

namespace {

unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

Error glob_error(std::string_view pattern, size_t at, std::string_view what) {
  (void)pattern;
  return make_error(fmt::format("bad glob at byte {}: {}", at + 1, what));
}

// Paths reaching the policy are absolute and normalised, so components that could never
// appear in one are mistakes worth reporting rather than rules that silently never fire.
std::optional<std::string> check_components(std::string_view p) {
  if (p == "/") return std::nullopt;
  size_t start = 0;
  bool first = true;
  while (true) {
    size_t slash = p.find('/', start);
    std::string_view comp = p.substr(start, slash == std::string_view::npos ? p.npos : slash - start);
    if (comp.empty() && !first) {
      return std::string(slash == std::string_view::npos
                             ? "trailing '/' (paths never end in '/'; use DIR/** for a subtree)"
                             : "empty path component ('//')");
    }
    if (comp == "." || comp == "..")
      return fmt::format("path component '{}' never appears in a normalised path", comp);
    if (slash == std::string_view::npos) return std::nullopt;
    first = false;
    start = slash + 1;
  }
}

}  // namespace

Result<Glob> Glob::compile(std::string_view p, GlobMode mode, bool ignore_case) {
  if (p.empty()) return make_error("empty glob");
  if (p.size() > kMaxPatternBytes)
    return make_error(fmt::format("glob longer than {} bytes", kMaxPatternBytes));
  if (p.find('\0') != std::string_view::npos) return make_error("glob contains a NUL byte");
  const bool path = mode == GlobMode::kPath;
  if (path) {
    if (auto bad = check_components(p)) return make_error(*bad);
  }

  Glob g;
  g.pattern_ = std::string(p);
  g.mode_ = mode;
  g.ignore_case_ = ignore_case;
  auto& toks = g.tokens_;
  auto fold = [&](unsigned char c) { return ignore_case ? lower(c) : c; };
  auto at_component_start = [&] {
    return toks.empty() || toks.back().op == Op::kDirsInner ||
           (toks.back().op == Op::kChar && toks.back().ch == '/');
  };

  size_t i = 0;
  while (i < p.size()) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '\\') {
      if (i + 1 == p.size()) return glob_error(p, i, "trailing '\\'");
      toks.push_back({Op::kChar, fold(static_cast<unsigned char>(p[i + 1]))});
      i += 2;
      continue;
    }
    if (c == '?') {
      toks.push_back({Op::kAny});
      i++;
      continue;
    }
    if (c == '*') {
      size_t run = 1;
      while (i + run < p.size() && p[i + run] == '*') run++;
      if (!path) {
        if (run > 1) return glob_error(p, i, "'**' in a name glob (use a single '*')");
        toks.push_back({Op::kStar});
        i++;
        continue;
      }
      if (run > 2) return glob_error(p, i, "more than two '*' in a row");
      if (run == 1) {
        toks.push_back({Op::kStar});
        i++;
        continue;
      }
      const size_t end = i + 2;
      if (!at_component_start() || (end != p.size() && p[end] != '/'))
        return glob_error(p, i, "'**' must be a whole path component (\"**/x\", \"/a/**/b\", \"/a/**\")");
      if (end == p.size()) {
        if (!toks.empty() && toks.back().op == Op::kChar) toks.back() = Token{Op::kOptSubtree};
        toks.push_back({Op::kAnyRun});
        i = end;
      } else {
        toks.push_back({Op::kDirs});
        toks.push_back({Op::kDirsInner});
        i = end + 1;  // the '/' belongs to "**/"
      }
      continue;
    }
    if (c == '[') {
      std::bitset<256> set;
      size_t j = i + 1;
      bool negate = false;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
        negate = true;
        j++;
      }
      bool closed = false;
      bool empty = true;
      while (j < p.size()) {
        unsigned char lo = static_cast<unsigned char>(p[j]);
        if (lo == ']') {
          closed = true;
          break;
        }
        if (lo == '\\') {
          if (j + 1 == p.size()) return glob_error(p, j, "trailing '\\'");
          lo = static_cast<unsigned char>(p[++j]);
        }
        unsigned char hi = lo;
        if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
          j += 2;
          hi = static_cast<unsigned char>(p[j]);
          if (hi == '\\') {
            if (j + 1 == p.size()) return glob_error(p, j, "trailing '\\'");
            hi = static_cast<unsigned char>(p[++j]);
          }
          if (hi < lo) return glob_error(p, j, "character range is reversed");
        }
        for (unsigned v = lo; v <= hi; v++) {
          set.set(v);
          if (ignore_case) {
            if (v >= 'A' && v <= 'Z') set.set(v + 32);
            if (v >= 'a' && v <= 'z') set.set(v - 32);
          }
        }
        empty = false;
        j++;
      }
      if (!closed) return glob_error(p, i, "unterminated '['");
      if (empty) return glob_error(p, i, "empty character class");
      if (negate) set.flip();
      if (path) {
        if (set.test('/') && !negate) return glob_error(p, i, "a character class never matches '/'");
        set.reset('/');
      }
      if (set.none()) return glob_error(p, i, "character class matches nothing");
      g.classes_.push_back(set);
      Token t{Op::kClass};
      t.cls = static_cast<uint16_t>(g.classes_.size() - 1);
      toks.push_back(t);
      i = j + 1;
      continue;
    }
    toks.push_back({Op::kChar, fold(c)});
    i++;
  }
  size_t h = 0;
  while (h < toks.size() && toks[h].op == Op::kChar) g.head_ += static_cast<char>(toks[h++].ch);
  if (h < toks.size()) {
    size_t t = toks.size();
    while (t > h && toks[t - 1].op == Op::kChar) t--;
    for (size_t k = t; k < toks.size(); k++) g.tail_ += static_cast<char>(toks[k].ch);
  }
  if (!ignore_case) {
    std::string run;
    for (size_t k = 0; k <= toks.size(); k++) {
      if (k < toks.size() && toks[k].op == Op::kChar) {
        run += static_cast<char>(toks[k].ch);
        continue;
      }
      if (run.size() > g.needle_.size()) g.needle_ = run;
      run.clear();
    }
  }
  return g;
}

bool Glob::byte_in_class(const Token& t, unsigned char c) const { return classes_[t.cls].test(c); }

bool Glob::match(std::string_view s) const {
  if (s.size() > kMaxSubjectBytes || s.size() < head_.size() + tail_.size()) return false;
  auto same = [&](std::string_view lit, size_t at) {
    for (size_t k = 0; k < lit.size(); k++) {
      const unsigned char raw = static_cast<unsigned char>(s[at + k]);
      if ((ignore_case_ ? lower(raw) : raw) != static_cast<unsigned char>(lit[k])) return false;
    }
    return true;
  };
  if (!same(head_, 0) || !same(tail_, s.size() - tail_.size())) return false;
  const size_t m = tokens_.size();
  if (head_.size() == m) return s.size() == m;  // a literal pattern
  if (needle_.size() > head_.size() && needle_.size() > tail_.size() &&
      s.find(needle_) == std::string_view::npos)
    return false;
  const bool path = mode_ == GlobMode::kPath;
  // Two state sets; on the stack for every pattern a policy realistically holds.
  constexpr size_t kInline = 256;
  uint8_t inline_sets[2][kInline];
  std::vector<uint8_t> heap;
  uint8_t* a = inline_sets[0];
  uint8_t* b = inline_sets[1];
  if (m + 1 > kInline) {
    heap.resize(2 * (m + 1));
    a = heap.data();
    b = heap.data() + m + 1;
  }
  std::span<uint8_t> cur(a, m + 1), nxt(b, m + 1);
  std::fill(cur.begin(), cur.end(), 0);

  // Empty-string moves only go forward, so one ascending sweep closes the set.
  auto close = [&](std::span<uint8_t> v) {
    for (size_t i = 0; i < m; i++) {
      if (!v[i]) continue;
      switch (tokens_[i].op) {
        case Op::kStar:
        case Op::kAnyRun: v[i + 1] = 1; break;
        case Op::kDirs: v[i + 2] = 1; break;
        case Op::kOptSubtree: v[m] = 1; break;
        default: break;
      }
    }
  };

  cur[0] = 1;
  close(cur);
  for (char ch : s) {
    const unsigned char raw = static_cast<unsigned char>(ch);
    const unsigned char c = ignore_case_ ? lower(raw) : raw;
    const bool sep = path && raw == '/';
    std::fill(nxt.begin(), nxt.end(), 0);
    bool alive = false;
    for (size_t i = 0; i < m; i++) {
      if (!cur[i]) continue;
      const Token& t = tokens_[i];
      switch (t.op) {
        case Op::kChar:
          if (c == t.ch) nxt[i + 1] = 1, alive = true;
          break;
        case Op::kAny:
          if (!sep) nxt[i + 1] = 1, alive = true;
          break;
        case Op::kClass:
          if (byte_in_class(t, raw)) nxt[i + 1] = 1, alive = true;
          break;
        case Op::kStar:
          if (!sep) nxt[i] = 1, alive = true;
          break;
        case Op::kAnyRun: nxt[i] = 1, alive = true; break;
        case Op::kDirs:
        case Op::kDirsInner: {
          const size_t inner = t.op == Op::kDirs ? i + 1 : i;
          nxt[inner] = 1, alive = true;
          if (raw == '/') nxt[inner + 1] = 1;
          break;
        }
        case Op::kOptSubtree:
          if (raw == '/') nxt[i + 1] = 1, alive = true;
          break;
      }
    }
    if (!alive) return false;
    close(nxt);
    std::swap(cur, nxt);
  }
  return cur[m] != 0;
}

bool Glob::is_literal() const {
  for (const auto& t : tokens_)
    if (t.op != Op::kChar) return false;
  return true;
}

std::optional<std::string> Glob::literal_prefix() const {
  std::string lit;
  size_t i = 0;
  while (i < tokens_.size() && tokens_[i].op == Op::kChar) lit += static_cast<char>(tokens_[i++].ch);
  if (i == tokens_.size()) return lit;
  if (mode_ == GlobMode::kName) return lit.empty() ? std::nullopt : std::optional<std::string>(lit);
  if (tokens_[i].op == Op::kOptSubtree) lit += '/';
  auto slash = lit.rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  lit.resize(slash + 1);
  return lit;
}

bool Glob::is_prefix_only() const {
  if (mode_ != GlobMode::kPath || tokens_.size() < 2) return false;
  const size_t m = tokens_.size();
  if (tokens_[m - 1].op != Op::kAnyRun || tokens_[m - 2].op != Op::kOptSubtree) return false;
  for (size_t i = 0; i + 2 < m; i++)
    if (tokens_[i].op != Op::kChar) return false;
  return true;
}

std::optional<std::string> Glob::basename_only() const {
  if (mode_ != GlobMode::kPath || tokens_.size() < 3 || tokens_[0].op != Op::kDirs) return std::nullopt;
  std::string name;
  for (size_t i = 2; i < tokens_.size(); i++) {
    if (tokens_[i].op != Op::kChar || tokens_[i].ch == '/') return std::nullopt;
    name += static_cast<char>(tokens_[i].ch);
  }
  return name;
}

}  // namespace rein::policy
