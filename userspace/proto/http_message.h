// HTTP exchange as the HTTP decoder hands it to the LLM analyzer. Bodies are already
// de-chunked and content-decoded (bounded); header names are lower-cased. These objects
// may hold credentials: they live only in memory and never reach a sink as-is.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rein::proto {

struct HttpHeader {
  std::string name;  // lower-case
  std::string value;
};

const std::string* find_header(const std::vector<HttpHeader>& headers, std::string_view name);

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::string host;    // Host header (or :authority), lower-case, port stripped
  std::vector<HttpHeader> headers;
  std::string body;           // decoded; at most the decoder's body bound
  bool body_truncated = false;
  uint64_t ts_start_ns = 0;   // first byte of the request seen
  uint64_t ts_end_ns = 0;     // last byte of the request seen
};

struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;
  std::string body;           // de-chunked and content-decoded; bounded
  bool body_truncated = false;
  bool complete = false;      // false: connection ended or a gap cut the body short
  std::string decode_error;   // non-empty when content decoding failed or hit a bound
  uint64_t ts_first_byte_ns = 0;
  uint64_t ts_first_body_ns = 0;  // first body byte (streaming: first chunk)
  uint64_t ts_end_ns = 0;
};

struct HttpExchange {
  HttpRequest request;
  std::optional<HttpResponse> response;  // nullopt: no response seen before the connection ended
};

}  // namespace rein::proto
