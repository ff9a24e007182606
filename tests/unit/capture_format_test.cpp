// Segment format pieces: names, bounds on every length read from a file.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

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

// The keyed HMAC context is kept per thread: a MAC under another key, and back, must give
// what a one-shot HMAC-SHA256 of the same bytes under that key gives.
TEST(CaptureFormat, BlockMacsFollowTheKeyWhenItChanges) {
  std::string raw;
  append_entry_frame(raw, record_entry("hello").SerializeAsString());
  for (int key : {1, 2, 1, 1, 3}) {
    Digest chain{};
    chain[0] = uint8_t(key);
    Digest mac{};
    auto b = encode_block(raw, 1, test_key(key), chain, &mac);
    ASSERT_TRUE(b);
    std::string mac_input(reinterpret_cast<const char*>(chain.data()), chain.size());
    mac_input += b->substr(0, b->size() - mac.size());  // the block without its MAC
    const HostKey k = test_key(key);
    unsigned char want[32];
    unsigned int len = 0;
    ASSERT_NE(HMAC(EVP_sha256(), k.data(), int(k.size()),
                   reinterpret_cast<const unsigned char*>(mac_input.data()), mac_input.size(),
                   want, &len),
              nullptr);
    ASSERT_EQ(len, 32u);
    EXPECT_EQ(0, std::memcmp(mac.data(), want, 32)) << "key " << key;
    EXPECT_EQ(0, std::memcmp(b->data() + b->size() - 32, want, 32));
  }
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
  for (BlockCodec codec : {BlockCodec::kZlib, BlockCodec::kZstd}) {
    Digest mac{};
    auto b = encode_block(raw, 1, test_key(), Digest{}, &mac, codec);
    ASSERT_TRUE(b);
    std::string_view payload(b->data() + kBlockHeaderSize, b->size() - kBlockHeaderSize - kMacSize);
    EXPECT_TRUE(decompress_block(codec, payload, raw.size()));
    EXPECT_FALSE(decompress_block(codec, payload, raw.size() - 1));  // more data than claimed
    EXPECT_FALSE(decompress_block(codec, payload, raw.size() + 1));  // less than claimed
    EXPECT_FALSE(decompress_block(codec, payload, kMaxBlockRawBytes + 1));
    EXPECT_FALSE(decompress_block(codec, "not compressed", 10));
    // the other codec does not take it
    EXPECT_FALSE(decompress_block(
        codec == BlockCodec::kZlib ? BlockCodec::kZstd : BlockCodec::kZlib, payload, raw.size()));
  }
}

// The writer writes zstd blocks ("RBLZ") in version 2 segments; segments written before
// (version 1, zlib "RBLK" blocks) still read and verify, and a version 1 segment cannot
// hold a zstd block.
std::string segment_with(uint32_t version, BlockCodec codec,
                         const std::vector<std::string>& entries) {
  SegmentHeader h;
  h.version = version;
  h.key_id = key_id_of(test_key());
  Digest chain{};
  std::string out = encode_header(h, test_key(), &chain);
  std::string raw;
  for (const auto& e : entries) append_entry_frame(raw, e);
  Digest mac{};
  auto b = encode_block(raw, uint32_t(entries.size()), test_key(), chain, &mac, codec);
  EXPECT_TRUE(b);
  out += *b;
  out += encode_trailer(1, entries.size(), test_key(), mac);
  return out;
}

TEST(CaptureFormat, ReadsZlibAndZstdBlocks) {
  Entry e = record_entry("hello");
  auto scan = [](const std::string& s) {
    return scan_segment_bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, test_key());
  };
  std::string v2 = one_segment({e.SerializeAsString()});
  EXPECT_EQ(v2.substr(kHeaderSize, 4), "RBLZ");
  EXPECT_EQ(uint8_t(v2[8]), kFormatVersion);
  auto n = scan(v2);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1u);
  for (uint32_t version : {kFormatVersionZlibOnly, kFormatVersion}) {
    std::string s = segment_with(version, BlockCodec::kZlib, {e.SerializeAsString()});
    EXPECT_EQ(s.substr(kHeaderSize, 4), "RBLK");
    n = scan(s);
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(*n, 1u);
  }
  n = scan(segment_with(kFormatVersionZlibOnly, BlockCodec::kZstd, {e.SerializeAsString()}));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("bad record tag"), std::string::npos) << n.error().message;
  n = scan(segment_with(3, BlockCodec::kZstd, {e.SerializeAsString()}));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("unsupported format version"), std::string::npos);
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
  // raw size claiming a ratio zstd cannot reach (also over the raw bound)
  bad = s;
  bad[kHeaderSize + 8] = '\0';
  bad[kHeaderSize + 10] = '\x7f';
  n = scan_segment_bytes({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()}, test_key());
  EXPECT_FALSE(n);
}

}  // namespace
}  // namespace rein::capture
