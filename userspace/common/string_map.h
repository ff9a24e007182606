// Maps keyed by std::string that are looked up by string_view: the detectors key their
// state by agent id, which arrives as a view, and building a key string for every lookup
// cost a heap allocation per detector per LLM call.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace rein {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// The entry for `key`, default-made when absent; the key string is built only then.
template <typename V>
std::pair<typename StringMap<V>::iterator, bool> find_or_emplace(StringMap<V>& m,
                                                                 std::string_view key) {
  if (auto it = m.find(key); it != m.end()) return {it, false};
  return m.try_emplace(std::string(key));
}

}  // namespace rein
