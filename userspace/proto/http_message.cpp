#include "proto/http_message.h"

namespace rein::proto {

namespace {
char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

// Stored names are already lower-case; the query is folded too so callers may write
// "Content-Type" without surprises.
const std::string* find_header(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) same = h.name[i] == lower_ascii(name[i]);
    if (same) return &h.value;
  }
  return nullptr;
}

}  // namespace rein::proto
