// Things an LLM response names that an agent may then try to reach: URLs, host names
// (with a port when written host:port) and packages in install commands. Also parses
// install commands from an exec's argv, so both sides match by the same rules.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rein::detect {

inline constexpr size_t kMaxMentions = 64;

struct Mention {
  enum class Kind : uint8_t { kUrl, kHost, kPackage };
  Kind kind = Kind::kHost;
  std::string host;     // lower-case; kUrl and kHost
  uint16_t port = 0;    // 0: not written
  std::string path;     // kUrl: path without query or fragment (credentials never kept)
  std::string manager;  // kPackage: pip, npm, go, cargo
  std::string package;  // kPackage: the name without a version
  uint32_t offset = 0;  // where in the response text (bytes)
  uint32_t length = 0;
};

// At most `max` mentions, in text order, without duplicates.
std::vector<Mention> extract_mentions(std::string_view text, size_t max = kMaxMentions);

struct InstallCommand {
  std::string manager;  // pip, npm, go, cargo; empty: not an install
  std::vector<std::string> packages;
};

namespace detail {
// Whether `text` holds "install ", "npm ", "go get " or "cargo add ": the test that decides
// whether extract_mentions looks for install commands at all.
bool holds_command_word(std::string_view text);
}  // namespace detail

// argv of pip/pip3/python -m pip install, npm install|i|add, go get, cargo add.
InstallCommand parse_install(const std::vector<std::string_view>& argv);

}  // namespace rein::detect
