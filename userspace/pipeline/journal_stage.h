// The capture entries of one turn of the live loop, in order, held until drain(): ring
// records as their raw bytes, and the entries that come after a held record. The recorder
// scrubs and queues the records of a turn in one run, so the scrubber's tables and the
// writer's queue stay in cache, where one record at a time between the pipeline's work
// found them evicted. An entry with no record before it is not held: the start's large
// entries (the /proc snapshot) are written and freed at once.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "capture/capture.pb.h"
#include "pipeline/journal_sink.h"

namespace rein::pipeline {

class JournalStage final : public JournalSink {
 public:
  explicit JournalStage(JournalSink& out) : out_(out) {}
  void append(capture::Entry&& e) override;
  void append_record(std::string_view data) override;
  size_t record_bytes() const { return bytes_.size(); }
  bool empty() const { return items_.empty(); }
  // Hands every held item on, in order: records to `on_record` (writable, so a record that
  // held a credential can be wiped), entries to the sink this stage was made with. The
  // buffers are kept for the next turn.
  void drain(const std::function<void(std::span<char> record)>& on_record);

 private:
  static constexpr uint32_t kRecord = UINT32_MAX;
  struct Item {
    uint32_t entry;  // index into entries_, or kRecord
    uint32_t len;    // record bytes (their offset is the sum of the records' before)
  };
  JournalSink& out_;
  std::string bytes_;
  std::vector<Item> items_;
  std::vector<capture::Entry> entries_;
};

}  // namespace rein::pipeline
