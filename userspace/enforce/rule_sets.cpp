#include "enforce/rule_sets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "policy/cidr.h"

namespace rein::enforce {
namespace {

// Appends r unless an identical entry is there (the same CIDR listed twice, "/a/**" and
// "/a/" from two patterns of one rule). false: the set is full.
bool add_unique(rein_rule_set& s, const rein_rule& r) {
  for (uint32_t i = 0; i < s.n; i++)
    if (rein_rule_same(&s.r[i], &r)) return true;
  if (s.n >= REIN_RULESET_MAX) return false;
  s.r[s.n++] = r;
  return true;
}

std::string full_error(const RuleLocator& where, uint32_t rule, const std::string& what) {
  return fmt::format(
      "{}: more than {} rules cover {} (the kernel keeps at most {} per address, "
      "path or name: split the rule or narrow its scope)",
      where(rule), REIN_RULESET_MAX, what, REIN_RULESET_MAX);
}

struct NetKeyLess {
  bool operator()(const rein_net_key& a, const rein_net_key& b) const {
    if (a.prefixlen != b.prefixlen) return a.prefixlen < b.prefixlen;
    return std::memcmp(a.addr, b.addr, 16) < 0;
  }
};

Result<void> build_network(KernelPolicy& k, const RuleLocator& where) {
  if (k.networks.empty()) return {};
  // entries by their (masked) key, in policy order
  std::map<rein_net_key, std::vector<const rein_rule*>, NetKeyLess> by_key;
  for (const auto& [key, r] : k.networks) by_key[net_key_prefix(key, key.prefixlen)].push_back(&r);
  // IPv4 peers must never land on an IPv6 leaf such as ::/0: a leaf for the whole mapped
  // range stops the lookup there (its set has only IPv4 entries, maybe none).
  rein_net_key v4root = net_key_prefix(rein_net_key{}, 0);
  v4root.prefixlen = 96;
  v4root.addr[10] = v4root.addr[11] = 0xff;
  by_key.try_emplace(v4root);
  for (const auto& [leaf, own] : by_key) {
    rein_rule_set set{};
    const uint32_t lo = net_key_is_v4(leaf) ? 96 : 0;  // the families never cover each other
    for (uint32_t len = lo; len <= leaf.prefixlen; len++) {
      auto it = by_key.find(net_key_prefix(leaf, len));
      if (it == by_key.end()) continue;
      for (const rein_rule* r : it->second)
        if (!add_unique(set, *r)) return make_error(full_error(where, r->rule, net_key_text(leaf)));
    }
    k.network_sets.emplace_back(leaf, set);
  }
  return {};
}

Result<void> build_files(KernelPolicy& k, const RuleLocator& where) {
  std::map<std::string, std::vector<const rein_rule*>> by_prefix;
  for (const auto& [prefix, r] : k.file_prefixes)
    by_prefix[prefix.substr(0, REIN_PATH_KEY)].push_back(&r);
  for (const auto& [leaf, own] : by_prefix) {
    rein_rule_set set{};
    for (size_t len = 1; len <= leaf.size(); len++) {
      auto it = by_prefix.find(leaf.substr(0, len));
      if (it == by_prefix.end()) continue;
      for (const rein_rule* r : it->second) {
        // An exact path only ever matches a path that looks up its own leaf.
        if (r->exact && len != leaf.size()) continue;
        if (!add_unique(set, *r))
          return make_error(full_error(where, r->rule, fmt::format("path '{}'", leaf)));
      }
    }
    k.file_prefix_sets.emplace_back(leaf, set);
  }
  return {};
}

Result<void> build_hashed(const std::vector<std::pair<uint64_t, rein_rule>>& in,
                          std::vector<std::pair<uint64_t, rein_rule_set>>& out, const char* what,
                          const RuleLocator& where) {
  std::map<uint64_t, rein_rule_set> sets;
  for (const auto& [hash, r] : in)
    if (!add_unique(sets[hash], r))
      return make_error(full_error(where, r.rule, fmt::format("one {}", what)));
  out.assign(sets.begin(), sets.end());
  return {};
}

}  // namespace

bool net_key_is_v4(const rein_net_key& key) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return key.prefixlen >= 96 && std::memcmp(key.addr, kMapped, 12) == 0;
}

std::string net_key_text(const rein_net_key& key) {
  if (net_key_is_v4(key))
    return fmt::format("{}.{}.{}.{}/{}", key.addr[12], key.addr[13], key.addr[14], key.addr[15],
                       key.prefixlen - 96);
  policy::IpAddress a;
  a.v6 = true;
  std::memcpy(a.bytes.data(), key.addr, 16);
  return fmt::format("{}/{}", a.to_string(), key.prefixlen);
}

rein_net_key net_key_prefix(const rein_net_key& key, uint32_t len) {
  rein_net_key out{};
  len = std::min<uint32_t>(len, 128);
  out.prefixlen = len;
  for (uint32_t i = 0; i < 16; i++) {
    uint32_t bits = len > i * 8 ? std::min<uint32_t>(len - i * 8, 8) : 0;
    out.addr[i] = bits ? uint8_t(key.addr[i] & uint8_t(0xff00 >> bits)) : 0;
  }
  return out;
}

Result<void> build_rule_sets(KernelPolicy& k, const RuleLocator& where) {
  k.network_sets.clear();
  k.file_prefix_sets.clear();
  k.file_basename_sets.clear();
  k.exec_sets.clear();
  k.host_sets.clear();
  if (auto ok = build_network(k, where); !ok) return ok;
  if (auto ok = build_files(k, where); !ok) return ok;
  if (auto ok = build_hashed(k.file_basenames, k.file_basename_sets, "file name", where); !ok)
    return ok;
  // two exec rules on one executable (different scopes or actions) both stay in force
  if (auto ok = build_hashed(k.execs, k.exec_sets, "executable", where); !ok) return ok;
  return build_hashed(k.hosts, k.host_sets, "host name", where);
}

}  // namespace rein::enforce
