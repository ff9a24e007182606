// Cheap checks on the first bytes of a stream: is this plaintext HTTP/1.x? Used to decide
// whether a connection gets an HTTP/1 decoder at all.
#pragma once
#include <cstdint>
#include <span>

namespace rein::proto {

// True when `first_bytes` begin like a request: a known method, one space, and the start of
// a target ('/', '*', an absolute URI, or CONNECT's authority). When the whole request line
// is present its version must be HTTP/1.x. Needs at least method + SP + one target byte.
bool looks_like_http_request(std::span<const uint8_t> first_bytes);

// True when `first_bytes` begin with "HTTP/1." (or a prefix of it, if fewer bytes).
bool looks_like_http_response(std::span<const uint8_t> first_bytes);

}  // namespace rein::proto
