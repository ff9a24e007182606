// The host key that authenticates capture segments (HMAC-SHA256): 32 random bytes in
// <state-dir>/capture.key, 0600. Only `rein run --capture` creates it; `rein verify` and
// `rein replay` only read it, so a wrong --state-dir is an error, not a fresh key.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace rein::capture {

using HostKey = std::array<uint8_t, 32>;

inline std::string capture_key_path(const std::string& state_dir) {
  return state_dir + "/capture.key";
}

// Reads the key; creates it first (0600, atomically: readers never see a short file) when
// it does not exist yet.
Result<HostKey> load_or_create_capture_key(const std::string& state_dir);
// Reads an existing key; a missing file is an error.
Result<HostKey> load_capture_key(const std::string& state_dir);

}  // namespace rein::capture
