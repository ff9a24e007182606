#include "policy/host_pattern.h"

#include <fmt/format.h>

namespace rein::policy {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

}  // namespace

Result<HostPattern> HostPattern::parse(std::string_view text) {
  HostPattern hp;
  std::string_view s = text;
  if (s.size() > 2 && s.substr(0, 2) == "*.") {
    hp.wildcard_ = true;
    s.remove_prefix(2);
  }
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return make_error("empty host name");
  if (s.size() > kMaxHostBytes) return make_error(fmt::format("host name longer than {} bytes", kMaxHostBytes));
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return make_error("empty label in host name");
      label = 0;
      continue;
    }
    if (c == '*') return make_error("'*' is only allowed as a leading \"*.\"");
    if (!label_char(c))
      return make_error("host names use letters, digits, '-', '_' and '.' only");
    if (++label > 63) return make_error("host name label longer than 63 bytes");
  }
  if (label == 0) return make_error("empty label in host name");
  hp.name_.reserve(s.size());
  for (char c : s) hp.name_ += lower(c);
  return hp;
}

bool HostPattern::matches(std::string_view host) const {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > kMaxHostBytes) return false;
  if (!wildcard_) return iequals(host, name_);
  if (host.size() < name_.size() + 2) return false;
  const size_t cut = host.size() - name_.size();
  if (host[cut - 1] != '.' || !iequals(host.substr(cut), name_)) return false;
  // Something real sits below the suffix: "x.example.com", not ".example.com".
  return host[cut - 2] != '.';
}

}  // namespace rein::policy
