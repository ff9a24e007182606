#include "process/agent_registry.h"

#include <algorithm>
#include <cstdio>

namespace rein::process {
namespace {

// splitmix64 finaliser: cheap, well mixed, and fixed (std::hash may differ between builds).
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Cuts at a UTF-8 character boundary so a truncated name is still valid text.
std::string bounded_name(std::string_view name, size_t max) {
  if (name.size() <= max) return std::string(name);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80) --n;
  return std::string(name.substr(0, n));
}

}  // namespace

size_t AgentRegistry::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(mix64(k.start_ns ^ (static_cast<uint64_t>(k.pid) << 32)));
}

AgentRegistry::AgentRegistry(size_t max_agents) : max_agents_(std::max<size_t>(max_agents, 1)) {}

std::string AgentRegistry::make_id(std::string_view name, uint32_t root_pid, uint64_t start_ns,
                                   uint32_t salt) {
  std::string id;
  id.reserve(kMaxIdNameChars + 20);
  for (char c : name.substr(0, kMaxIdNameChars)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    id.push_back(ok ? c : '_');
  }
  if (id.empty()) id = "agent";
  char tail[32];
  const uint64_t h = mix64(start_ns ^ mix64(salt));
  std::snprintf(tail, sizeof tail, "-%u-%06x", root_pid, static_cast<unsigned>(h & 0xffffff));
  id += tail;
  return id;
}

const Agent& AgentRegistry::get_or_create(uint32_t root_pid, uint64_t start_ns,
                                          std::string_view name) {
  const Key key{root_pid, start_ns};
  if (auto it = index_.find(key); it != index_.end()) return *it->second;
  if (index_.size() >= max_agents_) {
    erase(index_.find(Key{agents_.front().root_pid, agents_.front().start_ns}));
    ++evictions_;
  }
  Agent a;
  a.name = bounded_name(name, kMaxNameBytes);
  a.root_pid = root_pid;
  a.start_ns = start_ns;
  // 24 bits of hash collide now and then across many sessions of one pid; step the salt.
  for (uint32_t salt = 0;; ++salt) {
    a.id = make_id(name, root_pid, start_ns, salt);
    if (ids_.insert(a.id).second) break;
  }
  agents_.push_back(std::move(a));
  index_.emplace(key, std::prev(agents_.end()));
  return agents_.back();
}

const Agent* AgentRegistry::find(uint32_t root_pid, uint64_t start_ns) const {
  auto it = index_.find(Key{root_pid, start_ns});
  return it == index_.end() ? nullptr : &*it->second;
}

bool AgentRegistry::set_name(uint32_t root_pid, uint64_t start_ns, std::string_view name) {
  auto it = index_.find(Key{root_pid, start_ns});
  if (it == index_.end()) return false;
  it->second->name = bounded_name(name, kMaxNameBytes);
  return true;
}

void AgentRegistry::erase(
    std::unordered_map<Key, std::list<Agent>::iterator, KeyHash>::iterator it) {
  if (it == index_.end()) return;
  ids_.erase(it->second->id);
  agents_.erase(it->second);
  index_.erase(it);
}

void AgentRegistry::forget(uint32_t root_pid, uint64_t start_ns) {
  erase(index_.find(Key{root_pid, start_ns}));
}

}  // namespace rein::process
