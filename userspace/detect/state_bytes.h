// The detectors' memory estimate (sensor.health pipeline.detection_state_bytes): bytes of
// their containers computed from sizes and capacities, the same way for every detector. An
// estimate, bounded because every container it walks is: node containers are charged their
// element plus kNodeBytes of links and allocator header, strings their heap buffer beyond
// the small-string buffer, vectors their capacity. Allocator rounding and fragmentation are
// not counted, so RSS can be above it.
#pragma once
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace rein::detect::mem {

inline constexpr size_t kNodeBytes = 32;  // per node of map/set/unordered_map

// Heap bytes of a string (0 while it fits the small-string buffer).
inline size_t str(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}
template <typename T>
size_t vec(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}
// Elements plus one 512-byte block, the least a deque holds.
template <typename T>
size_t deque(const std::deque<T>& d) {
  return d.size() * sizeof(T) + 512;
}
// Nodes and bucket array of an unordered map/set, or the nodes of an ordered one; the
// elements' own heap (strings, nested containers) is added by the caller.
template <typename M>
size_t nodes(const M& m) {
  size_t n = m.size() * (sizeof(typename M::value_type) + kNodeBytes);
  if constexpr (requires { m.bucket_count(); }) n += m.bucket_count() * sizeof(void*);
  return n;
}

}  // namespace rein::detect::mem
