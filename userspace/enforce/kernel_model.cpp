#include "enforce/kernel_model.h"

#include <cstring>

#include "common/fnv1a.h"

namespace rein::enforce {
namespace {

bool key_contains(const rein_net_key& k, const std::array<uint8_t, 16>& addr) {
  for (uint32_t bit = 0; bit < k.prefixlen && bit < 128; bit++) {
    uint8_t mask = uint8_t(0x80 >> (bit % 8));
    if ((k.addr[bit / 8] & mask) != (addr[bit / 8] & mask)) return false;
  }
  return true;
}

KernelVerdict decide(const rein_rule_set* const* sets, size_t n, const rein_eval_query& q) {
  rein_eval_state st;
  rein_eval_init(&st);
  for (size_t i = 0; i < n; i++)
    if (sets[i]) rein_eval_rules(sets[i], &q, &st);
  for (size_t i = 0; i < n; i++)
    if (sets[i]) rein_eval_otherwise(sets[i], &q, &st);
  return {st.action, st.rule};
}

}  // namespace

KernelModel::KernelModel(const KernelPolicy& k)
    : net_(k.network_sets), fpath_(k.file_prefix_sets), fbase_(k.file_basename_sets) {}

const rein_rule_set* KernelModel::net_lookup(const std::array<uint8_t, 16>& addr) const {
  const rein_rule_set* best = nullptr;
  uint32_t best_len = 0;
  for (const auto& [key, set] : net_)
    if (key_contains(key, addr) && (!best || key.prefixlen > best_len)) {
      best = &set;
      best_len = key.prefixlen;
    }
  return best;
}

KernelVerdict KernelModel::connect(const std::array<uint8_t, 16>& addr, uint16_t port,
                                   uint64_t scope) const {
  rein_eval_query q{};
  q.scope = scope;
  q.port = port;
  const rein_rule_set* set = net_lookup(addr);
  return decide(&set, 1, q);
}

KernelVerdict KernelModel::file(std::string_view path, uint32_t op, uint64_t scope) const {
  // as match_file: the trie key is the first REIN_PATH_KEY bytes, the name hash covers the
  // last component of the final REIN_PATH_KEY bytes
  std::string_view head = path.substr(0, REIN_PATH_KEY);
  const rein_rule_set* sets[2] = {nullptr, nullptr};
  size_t best_len = 0;
  for (const auto& [prefix, set] : fpath_)
    if (head.substr(0, prefix.size()) == prefix && (!sets[0] || prefix.size() > best_len)) {
      sets[0] = &set;
      best_len = prefix.size();
    }
  std::string_view tail =
      path.size() > REIN_PATH_KEY ? path.substr(path.size() - REIN_PATH_KEY) : path;
  size_t slash = tail.rfind('/');
  uint64_t base =
      fnv1a64(slash == std::string_view::npos ? tail : tail.substr(slash + 1));
  for (const auto& [hash, set] : fbase_)
    if (hash == base) sets[1] = &set;
  rein_eval_query q{};
  q.scope = scope;
  q.op = op;
  q.path_len = uint32_t(path.size());
  return decide(sets, 2, q);
}

int KernelModel::learn(const std::array<uint8_t, 16>& addr, const rein_rule& rule) {
  rein_net_key key{};
  key.prefixlen = 128;
  std::memcpy(key.addr, addr.data(), 16);
  rein_rule_set set{};
  if (const rein_rule_set* cur = net_lookup(addr)) set = *cur;
  int rc = rein_set_add(&set, &rule);
  for (auto& [k, s] : net_)
    if (k.prefixlen == 128 && std::memcmp(k.addr, key.addr, 16) == 0) {
      s = set;
      return rc;
    }
  net_.emplace_back(key, set);
  return rc;
}

}  // namespace rein::enforce
