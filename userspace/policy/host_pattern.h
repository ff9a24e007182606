// Hostname patterns for network and LLM rules: "api.example.com" (exactly that host) or
// "*.example.com" (any name strictly below example.com, at any depth, but not
// example.com itself: list both to cover both). Case-insensitive; a trailing dot on either
// side is ignored, so "example.com." is "example.com".
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rein::policy {

class HostPattern {
 public:
  static constexpr size_t kMaxHostBytes = 253;

  // Labels of 1-63 bytes from [A-Za-z0-9_-], at most 253 bytes in all; '*' only as the
  // whole leftmost label ("*" alone is rejected: use a CIDR of 0.0.0.0/0 and ::/0).
  static Result<HostPattern> parse(std::string_view text);

  // host as seen on the wire (SNI, Host header, DNS name); a ":port" suffix is not
  // stripped here, so callers pass the bare name.
  bool matches(std::string_view host) const;

  bool is_wildcard() const { return wildcard_; }
  // Lower-case, without "*." and without a trailing dot.
  const std::string& name() const { return name_; }
  std::string to_string() const { return wildcard_ ? "*." + name_ : name_; }

 private:
  std::string name_;
  bool wildcard_ = false;
};

}  // namespace rein::policy
