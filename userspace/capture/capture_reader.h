// Reads a capture directory back: every entry of every segment in order (for `rein
// replay`), and the full integrity walk behind `rein verify`.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "capture/capture.pb.h"
#include "capture/capture_key.h"
#include "capture/segment_format.h"
#include "capture/unique_fd.h"
#include "common/result.h"

namespace rein::capture {

class CaptureReader {
 public:
  // Fails when the directory has no segment files.
  static Result<std::unique_ptr<CaptureReader>> open(const std::string& dir, const HostKey& key);

  // The next entry, std::nullopt after the last. Every block's HMAC is checked before its
  // entries are returned, and each segment must chain to the one before it; a break is an
  // error naming the segment. A last segment cut short (crash, or still being written) ends
  // the stream at its last whole block: truncated_tail() tells.
  Result<std::optional<Entry>> next();
  // The same, parsed into `out` (its buffers are reused: one entry per ring record made a
  // message, a string and their frees per record). False after the last.
  Result<bool> next_into(Entry& out);
  // The same, except that a ring record (most of a capture) is not parsed: `record` is set to
  // its bytes, valid until the next call, and `out` is left as it was. Any other entry is
  // parsed into `out` and `record` is reset.
  Result<bool> next_fast(Entry& out, std::optional<std::string_view>& record);

  bool truncated_tail() const { return truncated_tail_; }
  const std::vector<SegmentFile>& segments() const { return files_; }

 private:
  CaptureReader(const HostKey& key, std::vector<SegmentFile> files)
      : key_(key), files_(std::move(files)) {}
  // The next entry's serialized bytes (valid until the next call), nullopt after the last.
  Result<std::optional<std::string_view>> next_bytes();
  Result<bool> open_next_segment();
  Result<void> finish_segment();

  HostKey key_;
  std::vector<SegmentFile> files_;
  size_t file_pos_ = 0;  // next file to open
  UniqueFd fd_;
  std::unique_ptr<FdSource> src_;
  std::unique_ptr<ByteSource> hashing_;  // hashes the file for the chain check
  std::unique_ptr<SegmentScanner> scanner_;
  Digest prev_sha_{};
  std::optional<uint64_t> prev_index_;
  std::vector<std::string_view> entries_;
  size_t entry_pos_ = 0;
  bool truncated_tail_ = false;
  bool done_ = false;
};

// ---- verification ----
struct SegmentFinding {
  std::string name;  // segment file name, or "" for a finding about the whole directory
  bool ok = true;
  std::string message;  // "ok (3 blocks, 120 entries)" or the problem
};

struct VerifyReport {
  std::vector<SegmentFinding> findings;  // one per segment file, in order, plus gaps
  std::vector<std::string> notes;        // fine but worth saying (retention, crashed runs)
  uint64_t segments = 0;
  uint64_t blocks = 0;
  uint64_t entries = 0;
  bool ok = false;
};

// Checks every header, block and trailer HMAC, the SHA-256 chain between segments, the
// index sequence (gaps, reordering) and that nothing older than retention allows is missing.
VerifyReport verify_capture(const std::string& dir, const HostKey& key);

// Checks one segment held in memory (the fuzz target's entry point; no chain checks).
// Returns the number of entries that parsed.
Result<uint64_t> scan_segment_bytes(std::span<const uint8_t> bytes, const HostKey& key);

}  // namespace rein::capture
