// Writes the capture journal (`rein run --capture DIR`) without ever blocking the sensor:
// append() only queues (bounded); one thread compresses, writes, rotates segments and
// applies retention. What cannot be queued or written is dropped and counted by reason.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture.pb.h"
#include "capture/capture_key.h"
#include "capture/segment_format.h"
#include "capture/unique_fd.h"
#include "common/result.h"

namespace rein::capture {

struct CaptureWriterOptions {
  uint64_t max_segment_bytes = 64ull << 20;             // rotate before a segment grows past this
  int64_t max_segment_age_ns = 3600ll * 1'000'000'000;  // rotate a segment this old
  uint64_t max_total_bytes = 1024ull << 20;             // retention: all segments together
  uint32_t max_segments = 64;                           // retention: segment files kept
  size_t max_queue_bytes = 32u << 20;                   // appended but not yet written
  // Raw entry bytes per compressed block. 256 KiB rather than 1 MiB: zstd's ratio drops
  // about 7% (21 instead of 23 on the LLM loop), and the writer's buffers (queue, block,
  // compressor) stay a few hundred KiB: in cache, and without the ~1,000 page faults more
  // per run that cost the sensor more than the copies into them.
  size_t block_bytes = 256u << 10;
  int64_t flush_interval_ns = 1'000'000'000;  // a crash loses at most about this much
  // Wall clock (unix ns) for segment creation times and age rotation; tests inject one.
  std::function<int64_t()> clock;
};

struct CaptureStats {
  uint64_t entries_appended = 0;  // accepted into the queue
  uint64_t entries_written = 0;
  uint64_t blocks_written = 0;
  uint64_t bytes_written = 0;  // file bytes, all segments of this run
  uint64_t segments_created = 0;
  uint64_t segments_deleted = 0;  // by retention
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_write_error = 0;
  uint64_t dropped_too_large = 0;
  uint64_t queued_bytes = 0;
  uint64_t current_segment = 0;  // index of the segment being written
  uint64_t writer_cpu_ns = 0;    // the writer thread's CPU time (compressing, MACs, writes)
  std::string last_error;        // of the last failed write or file operation
};

class CaptureWriter {
 public:
  // Creates `dir` (0700) if needed and continues the chain after the newest segment in it.
  static Result<std::unique_ptr<CaptureWriter>> open(const std::string& dir, const HostKey& key,
                                                     CaptureWriterOptions opts = {});
  ~CaptureWriter();  // writes everything queued, closes the last segment with its trailer
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;

  // Never blocks on I/O. The writer numbers entries (Entry.seq, leave it 0): a gap in seq
  // on reading means entries were dropped there. Returns false when the entry was dropped.
  bool append(const Entry& e);
  bool append_serialized(std::string_view entry_bytes);
  // A RingRecord entry holding `data`, encoded as protobuf would without building an Entry:
  // the hot path (every ring record of a capture).
  bool append_record(std::string_view data);

  // Waits until everything appended before the call is written (tests, shutdown).
  void flush();
  // Drains, closes the last segment and stops the thread; later appends are dropped.
  void close();

  CaptureStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  struct Closed {
    uint64_t index;
    std::string path;
    uint64_t size;
  };
  CaptureWriter(std::string dir, const HostKey& key, CaptureWriterOptions opts);
  // Frames `head | body` (one entry, split so a record needs no copy of its own) with the
  // next seq into the queue.
  bool enqueue(std::string_view head, std::string_view body);
  void run();
  // Entries are framed straight into block-sized buffers: the writer compresses the
  // buffer it is handed, with no copy of its own, and emptied buffers come back for reuse.
  struct Block {
    std::string raw;        // frames (u32 length | entry bytes) back to back
    uint32_t count = 0;     // entries in raw
    uint64_t last_gen = 0;  // enqueued_gen_ after its last entry
  };
  // Under mu_: hands the filling block to the writer and starts another.
  void seal_filling_locked();
  // Writer thread only.
  void warm_codec();
  void write_block(std::string_view raw, uint32_t count);
  bool open_segment();
  void close_segment();
  void apply_retention();
  void set_error(const std::string& msg);
  int64_t now() const;

  const std::string dir_;
  const HostKey key_;
  const CaptureWriterOptions opts_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Block filling_;
  std::vector<Block> full_;         // sealed, not yet taken by the writer
  std::vector<std::string> spare_;  // emptied by the writer, for the next blocks
  size_t queued_bytes_ = 0;         // in filling_ and full_
  uint64_t enqueued_gen_ = 0;
  uint64_t written_gen_ = 0;
  bool flush_requested_ = false;
  bool stop_ = false;
  bool closed_ = false;
  std::string last_error_;
  std::atomic<uint64_t> next_seq_{1};

  std::atomic<uint64_t> appended_{0}, written_{0}, blocks_{0}, bytes_{0}, created_{0}, deleted_{0},
      drop_full_{0}, drop_write_{0}, drop_large_{0}, current_index_{0}, writer_cpu_ns_{0};

  // Writer thread state.
  std::string block_buf_;  // the compressed block being written, reused
  UniqueFd fd_;
  std::string seg_path_;
  uint64_t seg_index_ = 0;
  uint64_t next_index_ = 0;
  uint64_t seg_bytes_ = 0;
  int64_t seg_created_ = 0;
  uint32_t seg_blocks_ = 0;
  uint64_t seg_entries_ = 0;
  bool seg_dirty_ = false;  // a failed write left bytes we could not cut off
  Digest chain_{};
  Digest prev_sha_{};
  std::unique_ptr<Sha256> seg_sha_;
  std::vector<Closed> closed_segments_;

  std::thread thread_;
};

}  // namespace rein::capture
