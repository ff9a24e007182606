// argv joined with spaces and bounded, for regex matching and display. Shared by agent
// selection (pipeline) and policy argv rules (enforce), so it lives below both.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace rein {

inline std::string join_args(const std::vector<std::string>& args, size_t max_bytes = 8192) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    if (out.size() + a.size() > max_bytes) {
      out.append(a, 0, max_bytes - std::min(max_bytes, out.size()));
      break;
    }
    out += a;
  }
  return out;
}

}  // namespace rein
