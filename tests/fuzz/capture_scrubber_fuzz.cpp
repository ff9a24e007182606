// Any bytes as a ring record handed to the capture's secret scrubber (HTTP/1 headers, query
// strings, HTTP/2 frames and HPACK blocks, key-shaped tokens): it must never crash, never
// change the record's length, and must find nothing new when run again on its own output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pipeline/capture_scrubber.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64u << 10)) return 0;  // a ring record is bounded far below this
  static const rein::llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  rein::pipeline::SecretScrubber s(fp);
  std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)s.scrub(bytes, true);
  if (bytes.size() != size) abort();
  return 0;
}
