// Validated ECMAScript regexes for argv/cmdline selectors, matched in time linear in the
// subject (no back-references). Compiled once at load; copies share the compiled form.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rein::policy {

class Regex {
 public:
  // Longer patterns are rejected: libstdc++ compiles and matches recursively.
  static constexpr size_t kMaxPatternBytes = 1024;
  // Estimated NFA states (counted repetitions multiply); bounds compile and match cost.
  static constexpr uint64_t kMaxStates = 1024;
  // search() looks at most this many leading bytes of its subject, bounding match time
  // (subject bytes x states); see docs/policy.md for what that means for deny rules.
  static constexpr size_t kMaxSubjectBytes = 4096;

  static Result<Regex> compile(std::string_view pattern);

  // Whether the pattern matches anywhere in the subject (regex_search semantics); nullopt when
  // the matcher gave up, so the caller decides which way to fail (closed for deny rules,
  // closed for allow-lists too: "not allowed").
  std::optional<bool> search(std::string_view subject) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const std::regex> re_;
};

}  // namespace rein::policy
