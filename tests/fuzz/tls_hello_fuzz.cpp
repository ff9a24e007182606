// Any bytes as the first write on a TLS socket: the parser must stay in bounds and never
// return a name with control characters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/tls_hello.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto h = rein::proto::parse_tls_client_hello({data, size});
  if (h) {
    for (unsigned char c : h->sni)
      if (c <= 0x20 || c >= 0x7f) abort();
    if (h->sni.size() > 253 || h->alpn.size() > 16) abort();
  }
  return 0;
}
