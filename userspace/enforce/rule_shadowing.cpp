#include "enforce/rule_shadowing.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "enforce/policy_compiler.h"

namespace rein::enforce {
namespace {

int severity(policy::Action a) {
  return a == policy::Action::kDeny ? 3 : a == policy::Action::kPause ? 2 : 1;
}

// S wins over R wherever both match (rule_eval.h: most severe, then lowest index).
bool beats(const policy::Policy& p, size_t s, size_t r) {
  int a = severity(p.rules[s].action), b = severity(p.rules[r].action);
  return a > b || (a == b && s < r);
}

bool scope_covers(const policy::Policy& p, const policy::Rule& s, const policy::Rule& r) {
  return (scope_mask(p, r.scope) & ~scope_mask(p, s.scope)) == 0;
}

// Every port of [lo, hi] is in one of `ranges` (empty = every port).
bool ports_cover(const std::vector<policy::PortRange>& ranges, uint32_t lo, uint32_t hi) {
  if (ranges.empty()) return true;
  uint32_t next = lo;
  bool moved = true;
  while (next <= hi && moved) {
    moved = false;
    for (const auto& pr : ranges)
      if (pr.first <= next && pr.last >= next) {
        next = uint32_t(pr.last) + 1;
        moved = true;
      }
  }
  return next > hi;
}

struct Block {  // a network block as the kernel sees it: v4-mapped, prefix over 128 bits
  std::array<uint8_t, 16> addr{};
  uint32_t len = 0;
  bool v4 = false;
};

std::vector<Block> blocks(const policy::NetworkMatch& m) {
  std::vector<Block> out;
  for (const auto& c : m.cidrs)
    out.push_back({mapped_address(c.network()), c.is_v6() ? c.prefix_len() : 96u + c.prefix_len(),
                   !c.is_v6()});
  if (m.cidrs.empty() && m.hosts.empty()) {  // every address of both families
    Block v4;
    v4.addr[10] = v4.addr[11] = 0xff;
    v4.len = 96;
    v4.v4 = true;
    out.push_back(v4);
    out.push_back(Block{});
  }
  return out;
}

bool block_covers(const Block& outer, const Block& inner) {
  if (outer.v4 != inner.v4 || outer.len > inner.len) return false;
  for (uint32_t bit = 0; bit < outer.len; bit++) {
    uint8_t mask = uint8_t(0x80 >> (bit % 8));
    if ((outer.addr[bit / 8] & mask) != (inner.addr[bit / 8] & mask)) return false;
  }
  return true;
}

// A file pattern the kernel decides: "P/**" (dir P, prefix "P/"), an exact path, "**/NAME".
struct FilePat {
  enum Kind { kPrefix, kExact, kName } kind;
  std::string text;  // prefix (with its '/'), exact path, or name
};

std::optional<FilePat> kernel_pattern(const policy::Glob& g) {
  if (auto name = g.basename_only()) return FilePat{FilePat::kName, *name};
  if (g.is_literal() && g.pattern().size() <= REIN_PATH_KEY)
    return FilePat{FilePat::kExact, g.pattern()};
  if (g.is_prefix_only() && g.literal_prefix() && g.literal_prefix()->size() <= REIN_PATH_KEY)
    return FilePat{FilePat::kPrefix, *g.literal_prefix()};
  return std::nullopt;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Every path `inner` matches, `outer` matches too.
bool pattern_covers(const FilePat& outer, const FilePat& inner) {
  switch (outer.kind) {
    case FilePat::kPrefix: {  // the directory itself and everything below it
      std::string dir = outer.text.substr(0, outer.text.size() - 1);
      if (inner.kind == FilePat::kName) return outer.text == "/";
      std::string path =
          inner.kind == FilePat::kPrefix ? inner.text.substr(0, inner.text.size() - 1) : inner.text;
      return path == dir || starts_with(path, outer.text);
    }
    case FilePat::kExact:
      return inner.kind == FilePat::kExact && inner.text == outer.text;
    case FilePat::kName:
      if (inner.kind == FilePat::kName) return inner.text == outer.text;
      if (inner.kind == FilePat::kExact)
        return inner.text.substr(inner.text.rfind('/') + 1) == outer.text;
      return false;
  }
  return false;
}

std::string where(const policy::Policy& p, size_t i) {
  return fmt::format("{}:{}:{}: rules[{}]", p.file, p.rules[i].loc.line, p.rules[i].loc.column, i);
}

std::string who(const policy::Policy& p, size_t i) {
  return fmt::format("rules[{}] '{}' ({})", i, p.rules[i].name,
                     policy::action_name(p.rules[i].action));
}

// The rules that decide everything rule r matches, or empty when some of it is left.
std::vector<size_t> network_shadow(const policy::Policy& p, size_t r,
                                   const policy::NetworkMatch& m) {
  if (!m.hosts.empty()) return {};  // names are learned at run time and matched in user space
  std::vector<size_t> by;
  std::vector<policy::PortRange> ports = m.ports;
  if (ports.empty()) ports.push_back({1, 65535});
  for (const Block& b : blocks(m))
    for (const auto& pr : ports) {
      std::optional<size_t> found;
      for (size_t s = 0; s < p.rules.size() && !found; s++) {
        const auto* sm = std::get_if<policy::NetworkMatch>(&p.rules[s].match);
        if (s == r || !sm || !beats(p, s, r) || !scope_covers(p, p.rules[s], p.rules[r])) continue;
        if (!ports_cover(sm->ports, pr.first, pr.last)) continue;
        for (const Block& sb : blocks(*sm))
          if (block_covers(sb, b)) found = s;
      }
      if (!found) return {};
      by.push_back(*found);
    }
  return by;
}

std::vector<size_t> file_shadow(const policy::Policy& p, size_t r, const policy::FileMatch& m) {
  std::vector<size_t> by;
  for (const auto& g : m.paths) {
    auto mine = kernel_pattern(g);
    if (!mine) return {};  // a glob matched in user space: not analysed
    std::optional<size_t> found;
    for (size_t s = 0; s < p.rules.size() && !found; s++) {
      const auto* sm = std::get_if<policy::FileMatch>(&p.rules[s].match);
      // Paths the kernel leaves undecided are matched in user space (Enforcer::on_file),
      // which reports rules in order and stops at the first deny or pause: S must come
      // first there too.
      if (s > r || p.rules[s].action == policy::Action::kAudit) continue;
      if (!sm || !beats(p, s, r) || !scope_covers(p, p.rules[s], p.rules[r])) continue;
      if ((m.ops & ~sm->ops) != 0) continue;
      for (const auto& sg : sm->paths)
        if (auto theirs = kernel_pattern(sg); theirs && pattern_covers(*theirs, *mine)) found = s;
    }
    if (!found) return {};
    by.push_back(*found);
  }
  return by;
}

}  // namespace

std::vector<std::string> unreachable_rules(const policy::Policy& p) {
  std::vector<std::string> out;
  for (size_t r = 0; r < p.rules.size(); r++) {
    std::vector<size_t> by;
    const char* what = "";
    if (const auto* n = std::get_if<policy::NetworkMatch>(&p.rules[r].match)) {
      by = network_shadow(p, r, *n);
      what = "connection";
    } else if (const auto* f = std::get_if<policy::FileMatch>(&p.rules[r].match)) {
      by = file_shadow(p, r, *f);
      what = "file operation";
    }
    if (by.empty()) continue;
    std::sort(by.begin(), by.end());
    by.erase(std::unique(by.begin(), by.end()), by.end());
    std::string names;
    for (size_t s : by) names += (names.empty() ? "" : ", ") + who(p, s);
    out.push_back(fmt::format(
        "{}: warning: never fires: every {} it matches is decided by {}, which wins over "
        "'{}' ({}); remove it, or narrow the other rule",
        where(p, r), what, names, p.rules[r].name, policy::action_name(p.rules[r].action)));
  }
  return out;
}

}  // namespace rein::enforce
