// HTTP/1.1 message heads (RFC 9112 §2-5): start line and header fields of one message, and
// the header-list rules that decide body framing. Pure functions over complete text; the
// incremental state machine lives in http1_parser. Error messages never quote the input
// (it may carry credentials).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "proto/http_message.h"

namespace rein::proto {

enum class Http1Mode { kRequest, kResponse };

struct Http1Head {
  std::string method;  // request only
  std::string target;  // request only, as sent
  int status = 0;      // response only
  int version_minor = 1;
  std::vector<HttpHeader> headers;  // names lower-cased, values without surrounding OWS
};

// `block` is the start line plus header lines, each ended by LF (a CR before it is
// stripped), without the empty line that ends the head. obs-fold, NUL and bare CR are
// rejected; more than `max_headers` fields is an error.
Result<Http1Head> parse_http1_head(std::string_view block, Http1Mode mode, size_t max_headers);

// Header (or trailer) field lines only, same rules; appends to `out`.
Result<void> parse_http1_fields(std::string_view block, size_t max_fields,
                                std::vector<HttpHeader>& out);

// A single start line without its line ending. Fills method/target/version or
// status/version; false when the line is not a valid HTTP/1.x start line.
bool parse_request_line(std::string_view line, Http1Head& out);
bool parse_status_line(std::string_view line, Http1Head& out);

// Comma-separated list elements of every field named `name` (lower-case), in order:
// trimmed, lower-cased, parameters after ';' removed, empty elements skipped.
std::vector<std::string> header_tokens(const std::vector<HttpHeader>& headers,
                                       std::string_view name);

// Content-Length: nullopt when absent; an error when malformed or when several values
// disagree ("5, 5" is accepted as 5).
Result<std::optional<uint64_t>> parse_content_length(const std::vector<HttpHeader>& headers);

// Host header value lower-cased with the port (and IPv6 brackets' port) stripped.
std::string normalize_host(std::string_view host);

namespace detail {
// RFC 9110 token characters, as a table: header names are checked a byte at a time.
inline constexpr auto kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; c++) t[size_t(c)] = true;
  for (int c = 'a'; c <= 'z'; c++) t[size_t(c)] = true;
  for (int c = 'A'; c <= 'Z'; c++) t[size_t(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();
}  // namespace detail

inline bool is_tchar(unsigned char c) {
  return detail::kTchar[c];
}

}  // namespace rein::proto
