// On-disk layout of a capture segment file, shared by the writer, the reader and `rein
// verify`. Everything is little-endian. docs/capture.md explains the choices.
//
//   header   (112 bytes)
//     magic "REINCAP1" | u32 version (1: zlib blocks only; 2: zlib or zstd blocks)
//     | u32 header size | u64 segment index
//     | i64 created (unix ns) | u64 retained_from (oldest index kept when this segment was
//     created) | u8[8] key id | u8[32] SHA-256 of the previous segment file's bytes
//     | u8[32] header MAC = HMAC(key, "rein-capture-header" | the 80 bytes before it)
//   block    (any number)
//     u32 tag (the codec: "RBLZ" zstd, what the writer writes; "RBLK" zlib, read only)
//     | u32 compressed size | u32 raw size | u32 entry count
//     | codec(entries: u32 length | serialized rein.capture.Entry, repeated)
//     | u8[32] MAC = HMAC(key, previous MAC | the block's bytes before its MAC)
//   trailer  (written when the segment is closed)
//     u32 tag "REND" | u32 block count | u64 entry count
//     | u8[32] MAC = HMAC(key, previous MAC | the 16 bytes before it)
//
// The MACs form one chain per segment starting at the header MAC, so every byte up to a
// block's end is authenticated by that block's MAC: a segment cut short by a crash still
// verifies up to its last whole block, and the trailer proves nothing was cut off a closed
// one. The next segment's header carries this file's SHA-256, chaining segments.
#pragma once
#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "capture/capture_key.h"
#include "common/result.h"

namespace rein::capture {

using Digest = std::array<uint8_t, 32>;
using KeyId = std::array<uint8_t, 8>;

inline constexpr char kSegmentMagic[8] = {'R', 'E', 'I', 'N', 'C', 'A', 'P', '1'};
// Version 2 added zstd blocks; version 1 segments (zlib blocks only) are still read.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kFormatVersionZlibOnly = 1;
inline constexpr size_t kHeaderSize = 112;
inline constexpr size_t kBlockHeaderSize = 16;
inline constexpr size_t kTrailerSize = 48;
inline constexpr size_t kMacSize = 32;
inline constexpr uint32_t kBlockTag = 0x4B4C4252;      // "RBLK": zlib block
inline constexpr uint32_t kBlockTagZstd = 0x5A4C4252;  // "RBLZ": zstd block
inline constexpr uint32_t kTrailerTag = 0x444E4552;    // "REND"

// Bounds every reader applies before allocating: a hostile file costs at most one block.
inline constexpr size_t kMaxEntryBytes = 4u << 20;
inline constexpr size_t kMaxBlockRawBytes = 8u << 20;
inline constexpr size_t kMaxBlockCompressedBytes = 8u << 20;
inline constexpr size_t kMaxEntriesPerBlock = 1u << 20;
// zlib cannot expand more than ~1032:1; anything claiming more is not our writer's.
inline constexpr size_t kMaxInflateRatio = 1100;
// zstd: an RLE block of 4 bytes can stand for 128 KiB.
inline constexpr size_t kMaxZstdRatio = 32768;

// How a block's entries are compressed (its tag says which).
enum class BlockCodec { kZlib, kZstd };

struct SegmentHeader {
  uint32_t version = kFormatVersion;
  uint64_t index = 0;
  int64_t created_unix_ns = 0;
  uint64_t retained_from = 0;
  KeyId key_id{};
  Digest prev_sha256{};  // zeros for the first segment ever written
};

// Names: segment-<20 digits>.rcap, so a directory listing sorts in chain order.
std::string segment_file_name(uint64_t index);
std::optional<uint64_t> parse_segment_file_name(std::string_view name);

struct SegmentFile {
  uint64_t index = 0;
  std::string name;  // file name only
  std::string path;
  uint64_t size = 0;
};
// Segment files of `dir` in index order (other files are ignored).
Result<std::vector<SegmentFile>> list_segments(const std::string& dir);

// Which key wrote a segment, without revealing the key: lets verify tell "wrong key"
// from "modified".
KeyId key_id_of(const HostKey& key);
std::string hex(std::span<const uint8_t> bytes);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const uint8_t> data);
  void update(std::string_view data) {
    update({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  }
  Digest finish();  // the context starts over afterwards

 private:
  EVP_MD_CTX* ctx_;
};
Result<Digest> sha256_file(const std::string& path);

// ---- writing ----
// zstd's level for blocks. Its fast levels were measured and not taken (bench_capture prints
// them): level -3 took 0.73-0.76 of level 1's CPU on the LLM loop's records for a ratio of
// 13.0 instead of 14.7, and 0.87-0.90 of it on the coding shape for 4.0 instead of 4.8. With
// zstd at ~8% of the sensor's samples under the LLM loop with --capture, that would save ~2%
// of its CPU for files 12-19% larger. Readers take any level.
inline constexpr int kZstdLevel = 1;
// `mac_out` receives the header MAC, the start of the segment's MAC chain.
std::string encode_header(const SegmentHeader& h, const HostKey& key, Digest* mac_out);
// `entries` holds (u32 length | entry bytes)*; `chain` is the previous MAC on entry and
// is not changed: the block's MAC is returned in `mac_out` so a failed write can be undone.
// zstd at kZstdLevel is what the writer uses; zlib is there for tests and fuzz seeds of old
// segments.
Result<std::string> encode_block(std::string_view entries, uint32_t entry_count, const HostKey& key,
                                 const Digest& chain, Digest* mac_out,
                                 BlockCodec codec = BlockCodec::kZstd);
// The same into `out` (replaced), so a writer can keep one buffer rather than map and fault
// in a fresh megabyte per block.
Result<void> encode_block_into(std::string& out, std::string_view entries, uint32_t entry_count,
                               const HostKey& key, const Digest& chain, Digest* mac_out,
                               BlockCodec codec = BlockCodec::kZstd);
std::string encode_trailer(uint32_t block_count, uint64_t entry_count, const HostKey& key,
                           const Digest& chain);
// Appends one length-prefixed entry to a block's raw buffer.
void append_entry_frame(std::string& raw, std::string_view entry);
// Only the length prefix, for an entry appended in pieces.
void append_entry_frame_header(std::string& raw, uint32_t entry_size);

// ---- reading ----
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `len` bytes; 0 at end of input.
  virtual Result<size_t> read(uint8_t* buf, size_t len) = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::span<const uint8_t> data) : data_(data) {}
  Result<size_t> read(uint8_t* buf, size_t len) override;

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  Result<size_t> read(uint8_t* buf, size_t len) override;

 private:
  int fd_;
};

// Walks one segment, checking every MAC before anything is decompressed.
class SegmentScanner {
 public:
  enum class Item {
    kBlock,      // raw() holds entry_count() length-prefixed entries
    kTrailer,    // closed properly, nothing after it
    kEndOfData,  // input ended at a block boundary without a trailer
  };
  SegmentScanner(ByteSource& src, const HostKey& key) : src_(src), key_(key) {}

  // Checks magic, version, key id and the header MAC.
  Result<SegmentHeader> read_header();
  // Errors name the block number and byte offset. A partial block at the end of input is
  // an error with truncated() set.
  Result<Item> next();

  const std::string& raw() const { return raw_; }
  uint32_t entry_count() const { return entry_count_; }
  uint32_t blocks() const { return blocks_; }
  uint64_t entries() const { return entries_; }
  uint64_t offset() const { return offset_; }
  bool truncated() const { return truncated_; }

 private:
  // Reads exactly len bytes; returns how many were available (short only at end of input).
  Result<size_t> read_exact(uint8_t* buf, size_t len);

  ByteSource& src_;
  const HostKey& key_;
  Digest chain_{};
  std::string raw_;
  std::string compressed_;
  uint32_t version_ = kFormatVersion;
  uint32_t entry_count_ = 0;
  uint32_t blocks_ = 0;
  uint64_t entries_ = 0;
  uint64_t offset_ = 0;
  bool truncated_ = false;
  bool done_ = false;
};

// Inflates a zlib block payload that claims `raw_size` bytes, never producing more, into
// `out` (resized to raw_size; its capacity is reused, so a reader pays no fresh pages and no
// zero fill per block).
Result<void> inflate_block(std::string_view compressed, size_t raw_size, std::string& out);
// The same for either codec.
Result<void> decompress_block(BlockCodec codec, std::string_view compressed, size_t raw_size,
                              std::string& out);
inline Result<std::string> decompress_block(BlockCodec codec, std::string_view compressed,
                                            size_t raw_size) {
  std::string out;
  if (auto ok = decompress_block(codec, compressed, raw_size, out); !ok) return ok.error();
  return out;
}
// Splits a block's raw buffer into its entries; every length is checked against the buffer.
Result<std::vector<std::string_view>> split_entries(std::string_view raw, uint32_t entry_count);

}  // namespace rein::capture
