// Feeds hostile bytes to a ContentDecoder under a stack of codings picked by the input.
// Layout: byte 0: number of codings (low 2 bits) and the first two coding choices;
//         byte 1: third coding choice (low 3 bits) and slice size (high 5 bits);
//         rest:   the encoded body.
// Checks the output bound, the ratio bound and that the counters agree with the output.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/content_decoder.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

constexpr const char* kCodings[8] = {"gzip", "deflate", "br", "zstd", "identity", "x-gzip", "compress", "GZIP"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::vector<std::string> codings;
  const unsigned count = data[0] & 3;
  const unsigned choice[3] = {(data[0] >> 2) & 7u, (data[0] >> 5) & 7u, data[1] & 7u};
  for (unsigned i = 0; i < count; ++i) codings.emplace_back(kCodings[choice[i]]);
  std::string header;
  for (const auto& c : codings) header += (header.empty() ? "" : ", ") + c;
  const size_t slice = 1 + (data[1] >> 3) * 37;

  rein::proto::ContentDecoderLimits lim;
  lim.max_output = 1 << 20;
  lim.ratio_slack = 64 << 10;
  rein::proto::ContentDecoder dec(rein::proto::parse_coding_list(header), lim);
  std::string out;
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  for (size_t i = 0; i < body.size(); i += slice) {
    const std::string_view piece = body.substr(i, slice);
    dec.feed({reinterpret_cast<const uint8_t*>(piece.data()), piece.size()}, out);
    check(out.size() <= lim.max_output);
    check(dec.identity() || dec.passthrough() ||
          out.size() <= dec.input_bytes() * lim.max_ratio + lim.ratio_slack);
  }
  dec.finish();
  check(out.size() == dec.output_bytes());
  check(dec.input_bytes() == body.size());
  if (dec.identity()) check(out == body.substr(0, out.size()));
  if (dec.truncated() && !dec.identity() && !dec.passthrough()) check(dec.error() == "decompression bound");
  return 0;
}
