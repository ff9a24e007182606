// FNV-1a 64: the hash the BPF programs use for exe selectors, exec/file basenames and
// hosts, so every userspace layer that fills a kernel map must compute exactly this. It
// lives in common/ (not pipeline/) because enforce, below the pipeline, needs it too.
#pragma once
#include <cstdint>
#include <string_view>

namespace rein {

inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ULL;

// `h` continues a hash over text given in pieces: fnv1a64(b, fnv1a64(a)) == fnv1a64(a + b).
constexpr uint64_t fnv1a64(std::string_view s, uint64_t h = kFnv1a64Offset) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace rein
