#include "capture/capture_reader.h"

#include "capture/record_entry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rein::capture {

namespace {

// Hashes everything read through it: the chain needs each file's SHA-256 and the scan
// already reads every byte once.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource& in) : in_(in) {}
  Result<size_t> read(uint8_t* buf, size_t len) override {
    auto n = in_.read(buf, len);
    if (n && *n) sha_.update({buf, *n});
    return n;
  }
  // Reads what the scanner left (after a bad block, say) so the hash covers the file.
  Result<Digest> drain_and_finish() {
    std::vector<uint8_t> buf(1 << 16);
    for (;;) {
      auto n = read(buf.data(), buf.size());
      if (!n) return n.error();
      if (*n == 0) break;
    }
    return sha_.finish();
  }

 private:
  ByteSource& in_;
  Sha256 sha_;
};

std::string plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string counts(const SegmentScanner& s) {
  return plural(s.blocks(), "block", "blocks") + ", " + plural(s.entries(), "entry", "entries");
}

Result<void> parse_entry_into(std::string_view bytes, Entry& e) {
  bool ok = false;
  try {
    ok = e.ParseFromArray(bytes.data(), int(bytes.size()));
  } catch (const std::exception& ex) {
    return make_error(std::string("entry does not parse: ") + ex.what());
  }
  if (!ok) return make_error("entry does not parse");
  return {};
}

Result<Entry> parse_entry(std::string_view bytes) {
  Entry e;
  if (auto ok = parse_entry_into(bytes, e); !ok) return ok.error();
  return e;
}

}  // namespace

// ---------------------------------------------------------------- reader

Result<std::unique_ptr<CaptureReader>> CaptureReader::open(const std::string& dir,
                                                           const HostKey& key) {
  auto files = list_segments(dir);
  if (!files) return files.error();
  if (files->empty()) return make_error(dir + ": no capture segments");
  return std::unique_ptr<CaptureReader>(new CaptureReader(key, std::move(*files)));
}

Result<bool> CaptureReader::open_next_segment() {
  if (file_pos_ >= files_.size()) return false;
  const SegmentFile& f = files_[file_pos_];
  fd_.reset(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd_) return make_error(f.name + ": " + std::strerror(errno));
  src_ = std::make_unique<FdSource>(fd_.get());
  hashing_ = std::make_unique<HashingSource>(*src_);
  scanner_ = std::make_unique<SegmentScanner>(*hashing_, key_);
  auto h = scanner_->read_header();
  if (!h) return make_error(f.name + ": " + h.error().message);
  if (h->index != f.index)
    return make_error(f.name + ": header says segment " + std::to_string(h->index) +
                      " (renamed or reordered)");
  if (prev_index_) {
    if (f.index != *prev_index_ + 1)
      return make_error(f.name + ": segments " + std::to_string(*prev_index_ + 1) + ".." +
                        std::to_string(f.index - 1) + " before it are missing");
    if (h->prev_sha256 != prev_sha_)
      return make_error(f.name + ": does not chain to " + files_[file_pos_ - 1].name +
                        " (SHA-256 mismatch)");
  }
  prev_index_ = f.index;
  file_pos_++;
  return true;
}

Result<void> CaptureReader::finish_segment() {
  auto sha = static_cast<HashingSource&>(*hashing_).drain_and_finish();
  if (!sha) return make_error(files_[file_pos_ - 1].name + ": " + sha.error().message);
  prev_sha_ = *sha;
  scanner_.reset();
  hashing_.reset();
  src_.reset();
  fd_.reset();
  return {};
}

Result<std::optional<Entry>> CaptureReader::next() {
  Entry e;
  auto got = next_into(e);
  if (!got) return got.error();
  if (!*got) return std::optional<Entry>();
  return std::optional<Entry>(std::move(e));
}

Result<std::optional<std::string_view>> CaptureReader::next_bytes() {
  for (;;) {
    if (entry_pos_ < entries_.size())
      return std::optional<std::string_view>(entries_[entry_pos_++]);
    entries_.clear();
    entry_pos_ = 0;
    if (done_) return std::optional<std::string_view>();
    if (!scanner_) {
      auto opened = open_next_segment();
      if (!opened) {
        done_ = true;
        return opened.error();
      }
      if (!*opened) {
        done_ = true;
        return std::optional<std::string_view>();
      }
    }
    const bool last = file_pos_ == files_.size();
    const std::string& name = files_[file_pos_ - 1].name;
    auto item = scanner_->next();
    if (!item) {
      // A segment cut short by a crash: the next segment's header hash vouches for it (and
      // for the last one there is nothing more to read).
      if (!scanner_->truncated()) {
        done_ = true;
        return make_error(name + ": " + item.error().message);
      }
      if (last) truncated_tail_ = true;
      if (auto ok = finish_segment(); !ok) return ok.error();
      continue;
    }
    if (*item == SegmentScanner::Item::kBlock) {
      auto split = split_entries(scanner_->raw(), scanner_->entry_count());
      if (!split) {
        done_ = true;
        return make_error(name + ": block " + std::to_string(scanner_->blocks() - 1) + ": " +
                          split.error().message);
      }
      entries_ = std::move(*split);
      continue;
    }
    if (*item == SegmentScanner::Item::kEndOfData && last) truncated_tail_ = true;
    if (auto ok = finish_segment(); !ok) return ok.error();
  }
}

Result<bool> CaptureReader::next_into(Entry& out) {
  auto bytes = next_bytes();
  if (!bytes) return bytes.error();
  if (!*bytes) return false;
  auto ok = parse_entry_into(**bytes, out);
  if (!ok) return make_error(files_[file_pos_ - 1].name + ": " + ok.error().message);
  return true;
}

Result<bool> CaptureReader::next_fast(Entry& out, std::optional<std::string_view>& record) {
  auto bytes = next_bytes();
  if (!bytes) return bytes.error();
  if (!*bytes) return false;
  if (auto r = read_record_entry(**bytes)) {
    record = r->data;
    return true;
  }
  record.reset();
  auto ok = parse_entry_into(**bytes, out);
  if (!ok) return make_error(files_[file_pos_ - 1].name + ": " + ok.error().message);
  return true;
}

// ---------------------------------------------------------------- verify

VerifyReport verify_capture(const std::string& dir, const HostKey& key) {
  VerifyReport rep;
  auto files = list_segments(dir);
  if (!files) {
    rep.findings.push_back({"", false, files.error().message});
    return rep;
  }
  if (files->empty()) {
    rep.findings.push_back({"", false, "no capture segments in " + dir});
    return rep;
  }
  bool all_ok = true;
  std::optional<SegmentHeader> newest;
  std::optional<uint64_t> prev_index;
  Digest prev_sha{};
  std::string prev_name;
  for (size_t i = 0; i < files->size(); i++) {
    const SegmentFile& f = (*files)[i];
    const bool last = i + 1 == files->size();
    std::vector<std::string> problems;
    std::string note;
    UniqueFd fd(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      rep.findings.push_back({f.name, false, std::strerror(errno)});
      all_ok = false;
      prev_index = f.index;
      prev_sha = Digest{};
      continue;
    }
    FdSource src(fd.get());
    HashingSource hs(src);
    SegmentScanner sc(hs, key);
    auto h = sc.read_header();
    if (!h) {
      problems.push_back(h.error().message);
    } else {
      newest = *h;
      if (h->index != f.index)
        problems.push_back("header says segment " + std::to_string(h->index) +
                           " (file renamed or segments reordered)");
      if (prev_index && f.index == *prev_index + 1 && h->prev_sha256 != prev_sha)
        problems.push_back("does not chain to " + prev_name +
                           ": its SHA-256 differs from the one recorded here (previous "
                           "segment modified, replaced or reordered)");
      for (;;) {
        auto item = sc.next();
        if (!item) {
          if (sc.truncated() && !last) {
            note = "cut short by a crashed run after " + counts(sc) +
                   "; the next segment's chain covers what remains";
          } else if (sc.truncated()) {
            problems.push_back(item.error().message + "; " + counts(sc) + " verified before it");
          } else {
            problems.push_back(item.error().message);
          }
          break;
        }
        if (*item == SegmentScanner::Item::kBlock) {
          auto split = split_entries(sc.raw(), sc.entry_count());
          if (!split) {
            problems.push_back("block " + std::to_string(sc.blocks() - 1) + ": " +
                               split.error().message);
            break;
          }
          continue;
        }
        if (*item == SegmentScanner::Item::kEndOfData) {
          if (last)
            problems.push_back(
                "not closed (no trailer): cut short at a block boundary, or the "
                "sensor crashed or is still running; " +
                counts(sc) + " verified");
          else
            note = "not closed by its writer (crashed run); the next segment's chain covers it";
        }
        break;
      }
    }
    if (prev_index && f.index != *prev_index + 1) {
      if (f.index > *prev_index + 1) {
        uint64_t from = *prev_index + 1, to = f.index - 1;
        rep.findings.push_back({"", false,
                                (from == to ? "segment " + segment_file_name(from) + " is missing"
                                            : "segments " + std::to_string(from) + ".." +
                                                  std::to_string(to) + " are missing") +
                                    " between " + prev_name + " and " + f.name + " (removed)"});
        all_ok = false;
      }
    }
    auto sha = hs.drain_and_finish();
    if (!sha) problems.push_back(sha.error().message);
    rep.segments++;
    rep.blocks += sc.blocks();
    rep.entries += sc.entries();
    if (problems.empty()) {
      rep.findings.push_back(
          {f.name, true, "ok (" + counts(sc) + (note.empty() ? "" : "; " + note) + ")"});
    } else {
      std::string msg;
      for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
      rep.findings.push_back({f.name, false, msg});
      all_ok = false;
    }
    prev_index = f.index;
    prev_sha = sha ? *sha : Digest{};
    prev_name = f.name;
  }
  // The newest header records the oldest segment retention kept when it was created:
  // anything from there on must still be here.
  const uint64_t first = files->front().index;
  if (newest && first > newest->retained_from) {
    rep.findings.insert(
        rep.findings.begin(),
        {"", false,
         "segments " + std::to_string(newest->retained_from) + ".." + std::to_string(first - 1) +
             " are missing: retention had kept them (removed from the start)"});
    all_ok = false;
  } else if (first > 0) {
    rep.notes.push_back("starts at segment " + std::to_string(first) +
                        ": earlier segments removed by retention");
  }
  rep.ok = all_ok;
  return rep;
}

Result<uint64_t> scan_segment_bytes(std::span<const uint8_t> bytes, const HostKey& key) {
  MemorySource src(bytes);
  SegmentScanner sc(src, key);
  auto h = sc.read_header();
  if (!h) return h.error();
  uint64_t parsed = 0;
  for (;;) {
    auto item = sc.next();
    if (!item) return item.error();
    if (*item != SegmentScanner::Item::kBlock) return parsed;
    auto split = split_entries(sc.raw(), sc.entry_count());
    if (!split) return split.error();
    for (auto e : *split)
      if (parse_entry(e)) parsed++;
  }
}

}  // namespace rein::capture
