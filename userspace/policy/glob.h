// Globs for policy paths and model names, matched by a bounded state-set simulation so a
// hostile pattern or path costs at most O(path length x pattern tokens), never backtracking.
//
// Path mode ('/' separates components):
//   *      any run of characters except '/'
//   ?      one character except '/'
//   [a-z]  one character from the class ([!...] or [^...] negates); never matches '/'
//   **     any run of characters including '/'; only as a whole component:
//            "**/NAME"  NAME at any depth (also "NAME" itself, relative)
//            "/a/**/b"  zero or more components between /a and b
//            "/a/**"    the directory /a itself and everything beneath it
//            "**"       everything
//   \c     the character c literally
// Name mode (model names): '/' is an ordinary character, '*' matches any run, "**" is an
// error (it would mean the same as '*'); matching can ignore ASCII case.
#pragma once
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rein::policy {

enum class GlobMode : uint8_t { kPath, kName };

class Glob {
 public:
  static constexpr size_t kMaxPatternBytes = 4096;
  // Longer subjects never match: paths are bounded by PATH_MAX, names by far less.
  static constexpr size_t kMaxSubjectBytes = 8192;

  // The error message says what is wrong and at which byte of the pattern.
  static Result<Glob> compile(std::string_view pattern, GlobMode mode = GlobMode::kPath,
                              bool ignore_case = false);

  bool match(std::string_view subject) const;

  const std::string& pattern() const { return pattern_; }
  GlobMode mode() const { return mode_; }
  bool ignore_case() const { return ignore_case_; }

  // No wildcard at all: match() is string equality (modulo case in name mode).
  bool is_literal() const;
  // Path mode: the longest wildcard-free prefix ending in '/' (e.g. "/root/.ssh/" for
  // "/root/.ssh/**", "/etc/" for "/etc/*.conf"); the whole pattern when it is literal;
  // nullopt when the pattern starts with a wildcard. Name mode: everything before the first
  // wildcard. Every matching subject starts with it, except that "P/**" also matches "P".
  std::optional<std::string> literal_prefix() const;
  // The pattern is PREFIX + "**" with PREFIX literal and ending in '/': it matches exactly
  // the paths starting with PREFIX, plus PREFIX without its trailing '/'.
  bool is_prefix_only() const;
  // The pattern is "**/NAME" with NAME literal: it matches exactly the paths whose last
  // component is NAME.
  std::optional<std::string> basename_only() const;

 private:
  enum class Op : uint8_t {
    kChar,         // one literal byte
    kAny,          // '?'
    kClass,        // [..]
    kStar,         // '*': loop on non-separator bytes
    kAnyRun,       // "**" at the end or alone: loop on every byte
    kDirs,         // "**/" entry: nothing, or any run that ends with '/'...
    kDirsInner,    // ...inside that run (no empty exit, so the run must end with '/')
    kOptSubtree,   // the '/' of a trailing "/**": skip to the end, or consume '/'
  };
  struct Token {
    Op op;
    unsigned char ch = 0;
    uint16_t cls = 0;  // index into classes_ for kClass
  };

  Glob() = default;
  bool byte_in_class(const Token& t, unsigned char c) const;

  std::string pattern_;
  GlobMode mode_ = GlobMode::kPath;
  bool ignore_case_ = false;
  std::vector<Token> tokens_;
  std::vector<std::bitset<256>> classes_;
  // The literal bytes every match starts and ends with (case-folded like the tokens): a
  // path that lacks them is refused before the state-set simulation, which is most paths
  // for most globs (the file classes run every glob on every file event).
  std::string head_, tail_;
  // The longest literal run anywhere in the pattern ("**/.claude/**" -> ".claude"): every
  // match contains it, so one memmem refuses most paths (not used when ignoring case).
  std::string needle_;
};

}  // namespace rein::policy
