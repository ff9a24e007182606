#include "proto/http1_detect.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "proto/http1_head.h"

namespace rein::proto {

namespace {

constexpr std::array<std::string_view, 9> kMethods = {
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"};

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

bool looks_like_http_request(std::span<const uint8_t> first_bytes) {
  const std::string_view s(reinterpret_cast<const char*>(first_bytes.data()), first_bytes.size());
  for (std::string_view method : kMethods) {
    if (s.size() < method.size() + 2 || s.substr(0, method.size()) != method ||
        s[method.size()] != ' ')
      continue;
    const char t = s[method.size() + 1];
    const bool target_ok = t == '/' || t == '*' || (method == "CONNECT" && is_alnum(t)) ||
                           (t == 'h' || t == 'H');  // absolute-form http(s)://
    if (!target_ok) return false;
    const size_t lf = s.find('\n');
    if (lf == std::string_view::npos) return true;
    std::string_view line = s.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Http1Head probe;
    return parse_request_line(line, probe);
  }
  return false;
}

bool looks_like_http_response(std::span<const uint8_t> first_bytes) {
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (first_bytes.empty()) return false;
  const size_t n = std::min(first_bytes.size(), kPrefix.size());
  return std::string_view(reinterpret_cast<const char*>(first_bytes.data()), n) ==
         kPrefix.substr(0, n);
}

}  // namespace rein::proto
