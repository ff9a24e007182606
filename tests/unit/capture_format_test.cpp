// Segment format pieces: names, bounds on every length read from a file.
#include <gtest/gtest.h>

#include "capture/capture_reader.h"
#include "capture/segment_format.h"
#include "capture_test_util.h"

namespace rein::capture {
namespace {

using namespace ::rein::capture::testutil;

TEST(CaptureFormat, SegmentNamesSortInChainOrder) {
  EXPECT_EQ(segment_file_name(7), "segment-00000000000000000007.rcap");
  EXPECT_EQ(parse_segment_file_name(segment_file_name(123456789)), 123456789u);
  EXPECT_EQ(parse_segment_file_name(segment_file_name(UINT64_MAX)), UINT64_MAX);
  EXPECT_FALSE(parse_segment_file_name("segment-0000000000000000000a.rcap"));
  EXPECT_FALSE(parse_segment_file_name("segment-7.rcap"));
  EXPECT_FALSE(parse_segment_file_name("segment-99999999999999999999.rcap"));  // > 2^64
  EXPECT_LT(segment_file_name(9), segment_file_name(10));
}

TEST(CaptureFormat, KeyIdDependsOnTheKeyOnly) {
  EXPECT_EQ(key_id_of(test_key(1)), key_id_of(test_key(1)));
  EXPECT_NE(key_id_of(test_key(1)), key_id_of(test_key(2)));
}

std::string one_segment(const std::vector<std::string>& entries) {
  SegmentHeader h;
  h.key_id = key_id_of(test_key());
  Digest chain{};
  std::string out = encode_header(h, test_key(), &chain);
  std::string raw;
  for (const auto& e : entries) append_entry_frame(raw, e);
  Digest mac{};
  auto b = encode_block(raw, uint32_t(entries.size()), test_key(), chain, &mac);
  EXPECT_TRUE(b);
  out += *b;
  out += encode_trailer(1, entries.size(), test_key(), mac);
  return out;
}

TEST(CaptureFormat, ScanRoundTrip) {
  Entry e = record_entry("hello");
  std::string s = one_segment({e.SerializeAsString(), e.SerializeAsString()});
  auto n = scan_segment_bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, test_key());
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2u);
}

TEST(CaptureFormat, InflateNeverProducesMoreThanClaimed) {
  std::string big(1 << 20, 'a');
  std::string raw;
  append_entry_frame(raw, big);
  Digest mac{};
  auto b = encode_block(raw, 1, test_key(), Digest{}, &mac);
  ASSERT_TRUE(b);
  std::string_view payload(b->data() + kBlockHeaderSize, b->size() - kBlockHeaderSize - kMacSize);
  EXPECT_TRUE(inflate_block(payload, raw.size()));
  EXPECT_FALSE(inflate_block(payload, raw.size() - 1));  // more data than claimed
  EXPECT_FALSE(inflate_block(payload, raw.size() + 1));  // less than claimed
  EXPECT_FALSE(inflate_block(payload, kMaxBlockRawBytes + 1));
  EXPECT_FALSE(inflate_block("not zlib", 10));
}

TEST(CaptureFormat, SplitEntriesChecksEveryLength) {
  std::string raw;
  append_entry_frame(raw, "abc");
  append_entry_frame(raw, "de");
  auto ok = split_entries(raw, 2);
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)[1], "de");
  EXPECT_FALSE(split_entries(raw, 3));                            // claims more entries
  EXPECT_FALSE(split_entries(raw, 1));                            // bytes left over
  EXPECT_FALSE(split_entries(raw.substr(0, raw.size() - 1), 2));  // length past the end
  std::string huge("\xff\xff\xff\x7f", 4);
  EXPECT_FALSE(split_entries(huge, 1));
}

TEST(CaptureFormat, HostileBlockSizesAreRejectedBeforeAllocating) {
  Entry e = record_entry("x");
  std::string s = one_segment({e.SerializeAsString()});
  // compressed size field of the first block: claim 2 GiB
  std::string bad = s;
  bad[kHeaderSize + 4] = '\0';
  bad[kHeaderSize + 7] = '\x7f';
  auto n =
      scan_segment_bytes({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()}, test_key());
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("out of bounds"), std::string::npos) << n.error().message;
  // raw size claiming a ratio zlib cannot reach
  bad = s;
  bad[kHeaderSize + 8] = '\0';
  bad[kHeaderSize + 10] = '\x7f';
  n = scan_segment_bytes({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()}, test_key());
  EXPECT_FALSE(n);
}

}  // namespace
}  // namespace rein::capture
