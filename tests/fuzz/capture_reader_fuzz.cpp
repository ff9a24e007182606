// Any bytes as a capture segment file: the scanner, the block decompressors (zlib, zstd)
// and the entry splitter must return errors, never crash or allocate beyond their bounds.
// The seeds are real segments written under the key below (zstd blocks as CaptureWriter
// writes them now, and a version 1 segment of zlib blocks), so mutations reach past the
// header into blocks; the second half feeds the post-HMAC parsers directly, which a
// mutated file could only reach with the key. Every entry is also read by the ring-record
// fast path (capture/record_entry.h), which must agree with protobuf whenever it answers.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "capture/capture_reader.h"
#include "capture/record_entry.h"
#include "capture/segment_format.h"
#include "pipeline/capture_detections.h"

namespace {
void parse_both_ways(std::string_view e) {
  rein::capture::Entry parsed;
  const bool ok = parsed.ParseFromArray(e.data(), int(e.size()));
  if (auto fast = rein::capture::read_record_entry(e)) {
    if (!ok || !parsed.has_record() || parsed.record().data() != fast->data ||
        parsed.seq() != fast->seq)
      __builtin_trap();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rein::capture;
  HostKey key;
  key.fill(0x42);
  (void)scan_segment_bytes({data, size}, key);

  if (size < 4) return 0;
  // first byte: entry count for the splitter; next two: claimed raw size (bounded small)
  const uint32_t count = data[0];
  const size_t raw_size = (size_t(data[1]) << 8 | data[2]) * 16;
  std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  // zstd's frame magic picks the zstd decoder, anything else zlib's
  const BlockCodec codec = rest.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)
                               ? BlockCodec::kZstd
                               : BlockCodec::kZlib;
  if (auto raw = decompress_block(codec, rest, raw_size); raw) {
    if (auto entries = split_entries(*raw, count); entries)
      for (auto e : *entries) parse_both_ways(e);
  }
  if (auto entries = split_entries(rest, count); entries)
    for (auto e : *entries) parse_both_ways(e);
  parse_both_ways(rest);
  // a Lookup "detect.scan" value as replay decodes it (pipeline/capture_detections.h)
  (void)rein::pipeline::decode_scan(rest);
  return 0;
}
