// Any bytes as a ring record handed to the capture's secret scrubber (HTTP/1 headers, query
// strings, HTTP/2 frames and HPACK blocks, key-shaped tokens): it must never crash, never
// change the record's length, and its Hyperscan prefilter must leave exactly the bytes the
// full byte-by-byte scans leave. The scrubbers live across inputs (building the prefilter's
// database per input would be most of the time); both see the same inputs in the same order,
// so their remembered credentials stay the same. The same bytes as an argv block (an exec
// record's): the argv mask keeps its length and leaves no byte process.args hides but 'X',
// a key class prefix or a key placeholder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/secret_redaction.h"
#include "pipeline/arg_redaction.h"
#include "pipeline/capture_scrubber.h"

namespace {
using rein::pipeline::ArgState;
void check_argv_mask(std::string raw) {
  std::string masked = raw;
  rein::pipeline::mask_argv_secrets(masked.data(), masked.size());
  if (masked.size() != raw.size()) abort();
  ArgState state = ArgState::kPlain;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    const std::string_view arg(raw.data() + start, end - start);
    ArgState next = ArgState::kPlain;
    for (const rein::TextRange& r : rein::pipeline::redacted_ranges(arg, state, &next)) {
      const std::string_view hidden = arg.substr(r.begin, r.end - r.begin);
      std::string_view kept(masked.data() + start + r.begin, r.end - r.begin);
      if (hidden.find("REDACTED") != std::string_view::npos) continue;  // kept as a placeholder
      if (!rein::secret_token_class(hidden).empty()) kept.remove_prefix(rein::secret_prefix_length(hidden));
      for (char c : kept)
        if (c != 'X') abort();
    }
    state = next;
    start = end + 1;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (64u << 10)) return 0;  // a ring record is bounded far below this
  static const rein::llm::Fingerprinter fp(std::array<uint8_t, 32>{});
  static rein::pipeline::SecretScrubber fast(fp);
  static rein::pipeline::SecretScrubber full(fp);
  static const bool full_scans = (full.use_prefilter(false), true);
  (void)full_scans;
  // a record's first byte is its kind's low byte (data: 9): a set top bit makes it a
  // non-payload record (only known credentials and key-shaped tokens are looked for)
  const bool payload = size == 0 || (data[0] & 0x80) == 0;
  std::string a(reinterpret_cast<const char*>(data), size), b = a;
  auto ma = fast.scrub(a, payload);
  auto mb = full.scrub(b, payload);
  if (a.size() != size) abort();
  if (a != b || ma.size() != mb.size()) abort();
  for (size_t i = 0; i < ma.size(); i++)
    if (ma[i].placeholder != mb[i].placeholder || ma[i].fingerprint != mb[i].fingerprint) abort();
  check_argv_mask(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
