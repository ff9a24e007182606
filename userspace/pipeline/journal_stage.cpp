#include "pipeline/journal_stage.h"

namespace rein::pipeline {

void JournalStage::append(capture::Entry&& e) {
  if (items_.empty()) return out_.append(std::move(e));
  items_.push_back({uint32_t(entries_.size()), 0});
  entries_.push_back(std::move(e));
}

void JournalStage::append_record(std::string_view data) {
  items_.push_back({kRecord, uint32_t(data.size())});
  bytes_.append(data);
}

void JournalStage::drain(const std::function<void(std::span<char> record)>& on_record) {
  size_t off = 0;
  for (const Item& it : items_) {
    if (it.entry == kRecord) {
      on_record(std::span<char>(bytes_.data() + off, it.len));
      off += it.len;
    } else {
      out_.append(std::move(entries_[it.entry]));
    }
  }
  items_.clear();
  entries_.clear();
  bytes_.clear();
}

}  // namespace rein::pipeline
