// Compiled Hyperscan databases kept in --state-dir between runs. Compiling the secret
// patterns costs tens of milliseconds of CPU at every start of `rein run` and `rein replay`
// (more than half of replaying a small capture); loading the serialized database costs well
// under one. A file is used only when its name matches the key (a hash of the patterns, their
// flags and the Hyperscan version) and its content matches the SHA-256 in its header;
// anything else (missing, foreign, truncated, edited) means compiling again and rewriting it.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace rein::detect {

// The serialized database stored under `key` in `dir`, or nullopt. A file that is not a
// regular file owned by this user, is writable by others, is larger than `max_bytes` or fails
// its checksum is not used.
std::optional<std::string> read_pattern_db(const std::string& dir, std::string_view key,
                                           size_t max_bytes = 64u << 20);

// Stores `bytes` under `key` (mode 0600, replaced atomically) and removes the files of other
// keys. Best effort: a read-only or missing directory only means compiling next time.
bool write_pattern_db(const std::string& dir, std::string_view key, std::string_view bytes);

// Hex SHA-256 of `text` (the cache key of a pattern set).
std::string pattern_db_key(std::string_view text);

}  // namespace rein::detect
