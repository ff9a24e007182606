// Helpers shared by the LLM unit tests: fixture loading, exchange building, and an AWS
// eventstream encoder (tests only). Header-only so each test file stays standalone.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "proto/http_message.h"

namespace rein::test {

inline std::string source_dir() {
  if (const char* env = std::getenv("REIN_SOURCE_DIR"); env != nullptr && *env != '\0') return env;
#ifdef REIN_SOURCE_DIR
  return REIN_SOURCE_DIR;
#else
  return ".";
#endif
}

inline std::string read_fixture(const std::string& name) {
  std::ifstream in(source_dir() + "/tests/fixtures/llm/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ExchangeSpec {
  std::string host = "api.openai.com";
  std::string method = "POST";
  std::string target = "/v1/chat/completions";
  std::vector<proto::HttpHeader> req_headers;
  std::string req_body;
  int status = 200;
  std::vector<proto::HttpHeader> resp_headers;
  std::string resp_body;
  bool complete = true;
  bool no_response = false;
};

inline proto::HttpExchange make_exchange(const ExchangeSpec& s) {
  proto::HttpExchange ex;
  ex.request.method = s.method;
  ex.request.target = s.target;
  ex.request.host = s.host;
  ex.request.headers = s.req_headers;
  ex.request.body = s.req_body;
  ex.request.ts_start_ns = 1'000'000'000;
  ex.request.ts_end_ns = 1'002'000'000;
  if (!s.no_response) {
    proto::HttpResponse r;
    r.status = s.status;
    r.headers = s.resp_headers;
    r.body = s.resp_body;
    r.complete = s.complete;
    r.ts_first_byte_ns = 1'300'000'000;
    r.ts_first_body_ns = 1'352'000'000;
    r.ts_end_ns = 3'500'000'000;
    ex.response = std::move(r);
  }
  return ex;
}

inline void put_be32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

inline uint32_t crc(const std::string& s) {
  return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(s.data()),
                                     static_cast<uInt>(s.size())));
}

// One AWS eventstream message with string-typed headers.
inline std::string encode_eventstream(const std::vector<std::pair<std::string, std::string>>& headers,
                                      const std::string& payload) {
  std::string h;
  for (const auto& [name, value] : headers) {
    h.push_back(static_cast<char>(name.size()));
    h += name;
    h.push_back(7);
    h.push_back(static_cast<char>(value.size() >> 8));
    h.push_back(static_cast<char>(value.size() & 0xFF));
    h += value;
  }
  const uint32_t total = static_cast<uint32_t>(16 + h.size() + payload.size());
  std::string msg;
  put_be32(msg, total);
  put_be32(msg, static_cast<uint32_t>(h.size()));
  put_be32(msg, crc(msg));
  msg += h;
  msg += payload;
  put_be32(msg, crc(msg));
  return msg;
}

}  // namespace rein::test
