// `rein verify DIR`: checks a capture directory's HMACs and SHA-256 chain.
#pragma once
#include <string>

namespace rein::cli {

struct VerifyOptions {
  std::string dir;
  std::string state_dir = "/var/lib/rein";  // where `rein run` keeps capture.key
};

// One line per segment, a summary; 0 intact, 1 anything wrong, 2 cannot verify (no such
// directory, no key).
int verify(const VerifyOptions& opts);

}  // namespace rein::cli
