// FNV-1a 64: the hash the BPF programs use for exe selectors, exec/file basenames and
// hosts, so every userspace layer that fills a kernel map must compute exactly this. It
// lives in common/ (not pipeline/) because enforce, below the pipeline, needs it too.
#pragma once
#include <cstdint>
#include <string_view>

namespace rein {

inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace rein
