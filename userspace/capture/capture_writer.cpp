#include "capture/capture_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/thread_cpu.h"

namespace rein::capture {

namespace {

int64_t wall_now_ns() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Creates the directory 0700, or checks an existing one is a directory; tightens its mode
// either way (an operator's umask or an earlier mkdir -p may have widened it).
Result<void> make_private_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error("capture directory " + dir + ": " + std::strerror(errno));
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return make_error("capture directory " + dir + ": " + std::strerror(errno));
  if (::fchmod(fd.get(), 0700) != 0)
    return make_error("capture directory " + dir + ": chmod: " + std::strerror(errno));
  return {};
}

bool write_all(int fd, std::string_view data) {
  size_t put = 0;
  while (put < data.size()) {
    ssize_t n = ::write(fd, data.data() + put, data.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    put += size_t(n);
  }
  return true;
}

size_t put_varint(char* out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<char>(v);
  return n;
}

size_t varint_size(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) n++;
  return n;
}

// An empty buffer whose capacity is already faulted in.
std::string touched_buffer(size_t bytes) {
  std::string b(bytes, '\0');
  b.clear();  // keeps the capacity, and its pages
  return b;
}

}  // namespace

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::open(const std::string& dir,
                                                           const HostKey& key,
                                                           CaptureWriterOptions opts) {
  if (opts.max_segment_bytes < kHeaderSize + kTrailerSize + 1)
    return make_error("capture segment size too small");
  if (opts.max_segments < 1) return make_error("capture must keep at least one segment");
  if (!opts.clock) opts.clock = wall_now_ns;
  if (opts.block_bytes == 0 || opts.block_bytes > kMaxBlockRawBytes / 2)
    opts.block_bytes = CaptureWriterOptions{}.block_bytes;
  if (auto ok = make_private_dir(dir); !ok) return ok.error();
  auto existing = list_segments(dir);
  if (!existing) return existing.error();
  std::unique_ptr<CaptureWriter> w(new CaptureWriter(dir, key, std::move(opts)));
  for (const auto& f : *existing) w->closed_segments_.push_back({f.index, f.path, f.size});
  if (!existing->empty()) {
    // A new run continues the chain: its first segment carries the hash of the newest one
    // as it is on disk now (closed, or cut short by a crash).
    auto sha = sha256_file(existing->back().path);
    if (!sha) return sha.error();
    w->prev_sha_ = *sha;
    w->next_index_ = existing->back().index + 1;
  }
  // The first segment is created here so a directory we cannot write is reported at start.
  if (!w->open_segment()) return make_error(w->stats().last_error);
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

CaptureWriter::CaptureWriter(std::string dir, const HostKey& key, CaptureWriterOptions opts)
    : dir_(std::move(dir)), key_(key), opts_(std::move(opts)) {
  // Sized once: growing it (copy, fresh pages) while the sensor runs cost more than the
  // copies into it. The steady state's buffers (filling, sealed, being written) are touched
  // here: a first touch is a page fault, and on a VM that shadows the guest's page tables
  // each costs ~20 us, so faulting them in as the first records came cost the capture more
  // than a thousand calls' worth of its work (bench_llm_overhead prints the faults).
  filling_.raw = touched_buffer(opts_.block_bytes);
  for (int i = 0; i < 2; i++) spare_.push_back(touched_buffer(opts_.block_bytes));
}

void CaptureWriter::warm_codec() {
  // The compressor's tables and buffers are sized and touched by its first block: one block
  // of records-like bytes (repeats, so it makes sequences, and varying bytes, so it makes
  // literals) compressed and thrown away here, where the faults are part of the start.
  constexpr std::string_view kRepeated = "data: {\"choices\":[{\"delta\":{}}]}\n";
  std::string sample(opts_.block_bytes, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < sample.size(); i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sample[i] = (i / 64) % 2 ? char(x) : kRepeated[i % kRepeated.size()];
  }
  Digest mac{};
  (void)encode_block_into(block_buf_, sample, 0, key_, chain_, &mac);
  block_buf_.clear();
}

CaptureWriter::~CaptureWriter() {
  close();
}

bool CaptureWriter::append(const Entry& e) {
  std::string body;
  try {
    body = e.SerializeAsString();
  } catch (const std::exception&) {  // bad_alloc: counted like any entry we cannot keep
    drop_large_.fetch_add(1, std::memory_order_relaxed);
    next_seq_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return append_serialized(body);
}

bool CaptureWriter::append_serialized(std::string_view entry_bytes) {
  return enqueue({}, entry_bytes);
}

bool CaptureWriter::append_record(std::string_view data) {
  // Entry.record is field 3, RingRecord.data field 1, both length-delimited.
  char head[2 + 2 * 10];
  size_t n = 0;
  head[n++] = 0x1a;
  n += put_varint(head + n, 1 + varint_size(data.size()) + data.size());
  head[n++] = 0x0a;
  n += put_varint(head + n, data.size());
  return enqueue({head, n}, data);
}

bool CaptureWriter::enqueue(std::string_view head, std::string_view body) {
  const uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  if (head.size() + body.size() + 11 > kMaxEntryBytes) {
    drop_large_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Entry.seq is field 1 (varint): a field placed first is overridden by a later one of the
  // same number, so prefixing our number never changes what the caller serialized.
  char seq_field[11];
  seq_field[0] = 0x08;
  const size_t seq_len = 1 + put_varint(seq_field + 1, seq);
  const size_t len = seq_len + head.size() + body.size();
  const size_t frame = 4 + len;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) {
      drop_write_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (queued_bytes_ + frame > opts_.max_queue_bytes) {
      drop_full_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    const size_t sealed = full_.size();
    if (filling_.count && filling_.raw.size() + frame > opts_.block_bytes) seal_filling_locked();
    std::string& q = filling_.raw;
    append_entry_frame_header(q, uint32_t(len));
    q.append(seq_field, seq_len);
    q.append(head);
    q.append(body);
    filling_.count++;
    queued_bytes_ += frame;
    filling_.last_gen = ++enqueued_gen_;
    appended_.fetch_add(1, std::memory_order_relaxed);
    if (q.size() >= opts_.block_bytes) seal_filling_locked();
    if (full_.size() == sealed) return true;
  }
  wake_.notify_one();
  return true;
}

void CaptureWriter::seal_filling_locked() {
  full_.push_back(std::move(filling_));
  filling_ = Block{};
  if (!spare_.empty()) {
    filling_.raw = std::move(spare_.back());
    spare_.pop_back();
  } else {
    filling_.raw.reserve(opts_.block_bytes);
  }
}

void CaptureWriter::flush() {
  std::unique_lock<std::mutex> lk(mu_);
  // The thread sets written_gen_ to enqueued_gen_ when it ends (and nothing is enqueued
  // after close), so this returns at once after close().
  uint64_t target = enqueued_gen_;
  flush_requested_ = true;
  wake_.notify_one();
  done_.wait(lk, [&] { return written_gen_ >= target; });
}

void CaptureWriter::close() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    closed_ = true;
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

CaptureStats CaptureWriter::stats() const {
  CaptureStats s;
  s.entries_appended = appended_.load();
  s.entries_written = written_.load();
  s.blocks_written = blocks_.load();
  s.bytes_written = bytes_.load();
  s.segments_created = created_.load();
  s.segments_deleted = deleted_.load();
  s.dropped_queue_full = drop_full_.load();
  s.dropped_write_error = drop_write_.load();
  s.dropped_too_large = drop_large_.load();
  s.current_segment = current_index_.load();
  s.writer_cpu_ns = writer_cpu_ns_.load();
  std::lock_guard<std::mutex> lk(mu_);
  s.queued_bytes = queued_bytes_;
  s.last_error = last_error_;
  return s;
}

void CaptureWriter::set_error(const std::string& msg) {
  std::lock_guard<std::mutex> lk(mu_);
  last_error_ = msg;
}

int64_t CaptureWriter::now() const {
  return opts_.clock();
}

void CaptureWriter::run() {
  // Emptied buffers kept for reuse: the filling one, one sealed and one being written is
  // the steady state; more would only be a burst's memory kept.
  constexpr size_t kMaxSpare = 3;
  std::vector<Block> work;
  warm_codec();
  writer_cpu_ns_.store(thread_cpu_ns(), std::memory_order_relaxed);  // the start's share
  int64_t next_flush = now() + opts_.flush_interval_ns;
  for (;;) {
    uint64_t taken_gen = 0;  // with the filling block taken, every entry up to here is in `work`
    bool stopping, flush_now;
    {
      std::unique_lock<std::mutex> lk(mu_);
      // The steady clock bounds the wait; the injectable clock decides what is due.
      wake_.wait_for(lk, std::chrono::nanoseconds(opts_.flush_interval_ns),
                     [&] { return stop_ || flush_requested_ || !full_.empty(); });
      work.swap(full_);
      stopping = stop_;
      flush_now = flush_requested_;
      flush_requested_ = false;
    }
    // the clock is read without the lock: appends never wait on it (a test's clock stalls)
    const bool took_all = flush_now || stopping || now() >= next_flush;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (took_all) {
        // a partly filled block is written at each flush interval (what a crash may lose)
        if (filling_.count) seal_filling_locked();
        work.insert(work.end(), std::make_move_iterator(full_.begin()),
                    std::make_move_iterator(full_.end()));
        full_.clear();
        taken_gen = enqueued_gen_;
      }
      for (const Block& b : work) queued_bytes_ -= std::min(queued_bytes_, b.raw.size());
    }
    for (const Block& b : work) write_block(b.raw, b.count);
    const int64_t t = now();
    if (took_all) next_flush = t + opts_.flush_interval_ns;
    // An idle segment past its age is closed too, so age bounds what one file spans.
    if (fd_ && seg_blocks_ > 0 && t - seg_created_ >= opts_.max_segment_age_ns) {
      close_segment();
      open_segment();
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (Block& b : work) {
        written_gen_ = std::max(written_gen_, b.last_gen);
        // a burst's one huge entry may have grown a buffer: that one is not kept
        if (spare_.size() < kMaxSpare && b.raw.capacity() <= 2 * opts_.block_bytes) {
          b.raw.clear();
          spare_.push_back(std::move(b.raw));
        }
      }
      written_gen_ = std::max(written_gen_, taken_gen);
    }
    work.clear();
    writer_cpu_ns_.store(thread_cpu_ns(), std::memory_order_relaxed);  // one read per round
    done_.notify_all();
    if (stopping) break;
  }
  close_segment();
  {
    std::lock_guard<std::mutex> lk(mu_);
    written_gen_ = enqueued_gen_;
  }
  done_.notify_all();
}

void CaptureWriter::write_block(std::string_view raw, uint32_t count) {
  auto drop = [&](const std::string& why) {
    drop_write_.fetch_add(count, std::memory_order_relaxed);
    set_error(why);
  };
  Digest mac{};
  std::string& block = block_buf_;
  auto encoded = encode_block_into(block, raw, count, key_, chain_, &mac);
  if (encoded && fd_ && seg_blocks_ > 0 &&
      (seg_bytes_ + block.size() + kTrailerSize > opts_.max_segment_bytes ||
       now() - seg_created_ >= opts_.max_segment_age_ns)) {
    close_segment();
  }
  if (encoded && !fd_) {
    if (!open_segment()) return drop(stats().last_error);
    // the MAC chain starts over in the new segment (rare: once per rotation)
    encoded = encode_block_into(block, raw, count, key_, chain_, &mac);
  }
  if (!encoded) return drop(encoded.error().message);
  if (!write_all(fd_.get(), block)) {
    int err = errno;
    drop(seg_path_ + ": write: " + std::strerror(err));
    // Cut the partial block off so the segment stays verifiable up to its last whole block.
    if (::ftruncate(fd_.get(), off_t(seg_bytes_)) != 0 ||
        ::lseek(fd_.get(), off_t(seg_bytes_), SEEK_SET) < 0) {
      seg_dirty_ = true;
      close_segment();
    }
    return;
  }
  chain_ = mac;
  seg_sha_->update(block);
  seg_bytes_ += block.size();
  seg_blocks_++;
  seg_entries_ += count;
  blocks_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(block.size(), std::memory_order_relaxed);
  written_.fetch_add(count, std::memory_order_relaxed);
}

bool CaptureWriter::open_segment() {
  apply_retention();
  const uint64_t index = next_index_;
  std::string path = dir_ + "/" + segment_file_name(index);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) {
    set_error(path + ": " + std::strerror(errno));
    return false;
  }
  // O_CREAT's mode is filtered by the umask, which can only narrow it; fchmod makes 0600
  // exact whatever the umask (and the directory is 0700 anyway).
  if (::fchmod(fd.get(), 0600) != 0) {
    set_error(path + ": chmod: " + std::strerror(errno));
    ::unlink(path.c_str());
    return false;
  }
  SegmentHeader h;
  h.index = index;
  h.created_unix_ns = now();
  h.retained_from = closed_segments_.empty() ? index : closed_segments_.front().index;
  h.key_id = key_id_of(key_);
  h.prev_sha256 = prev_sha_;
  Digest mac{};
  std::string bytes = encode_header(h, key_, &mac);
  if (!write_all(fd.get(), bytes)) {
    set_error(path + ": write: " + std::strerror(errno));
    ::unlink(path.c_str());
    return false;
  }
  fd_ = std::move(fd);
  seg_path_ = std::move(path);
  seg_index_ = index;
  next_index_ = index + 1;
  seg_bytes_ = bytes.size();
  seg_created_ = h.created_unix_ns;
  seg_blocks_ = 0;
  seg_entries_ = 0;
  seg_dirty_ = false;
  chain_ = mac;
  seg_sha_ = std::make_unique<Sha256>();
  seg_sha_->update(bytes);
  created_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(bytes.size(), std::memory_order_relaxed);
  current_index_.store(index, std::memory_order_relaxed);
  return true;
}

void CaptureWriter::close_segment() {
  if (!fd_) return;
  if (!seg_dirty_) {
    std::string t = encode_trailer(seg_blocks_, seg_entries_, key_, chain_);
    if (write_all(fd_.get(), t)) {
      seg_sha_->update(t);
      seg_bytes_ += t.size();
      bytes_.fetch_add(t.size(), std::memory_order_relaxed);
    } else {
      set_error(seg_path_ + ": write trailer: " + std::strerror(errno));
      seg_dirty_ = true;
    }
  }
  if (::fdatasync(fd_.get()) != 0) set_error(seg_path_ + ": fdatasync: " + std::strerror(errno));
  fd_.reset();
  if (seg_dirty_) {
    // What is on disk is not what we hashed: the next header must chain to the real bytes.
    auto sha = sha256_file(seg_path_);
    prev_sha_ = sha ? *sha : Digest{};
  } else {
    prev_sha_ = seg_sha_->finish();
  }
  struct stat st {};
  uint64_t size = ::stat(seg_path_.c_str(), &st) == 0 ? uint64_t(st.st_size) : seg_bytes_;
  closed_segments_.push_back({seg_index_, seg_path_, size});
}

// Run before a segment is created, so the budget holds with the new one at full size and
// its header can record where the kept chain starts.
void CaptureWriter::apply_retention() {
  uint64_t total = 0;
  for (const auto& c : closed_segments_) total += c.size;
  while (!closed_segments_.empty() && (closed_segments_.size() + 1 > opts_.max_segments ||
                                       total + opts_.max_segment_bytes > opts_.max_total_bytes)) {
    const Closed& c = closed_segments_.front();
    if (::unlink(c.path.c_str()) != 0 && errno != ENOENT) {
      set_error(c.path + ": retention: " + std::strerror(errno));
      break;  // keeping it is safe: verify accepts segments older than retained_from
    }
    total -= c.size;
    deleted_.fetch_add(1, std::memory_order_relaxed);
    closed_segments_.erase(closed_segments_.begin());
  }
}

}  // namespace rein::capture
