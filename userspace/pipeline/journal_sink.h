// Where capture entries go: the capture writer (cli), memory (tests), or a stage in front
// of either. Must not block.
#pragma once
#include <string>
#include <string_view>
#include <utility>

#include "capture/capture.pb.h"

namespace rein::pipeline {

class JournalSink {
 public:
  virtual ~JournalSink() = default;
  virtual void append(capture::Entry&& e) = 0;
  // A RingRecord entry (the hot path: a sink may encode it without building an Entry).
  virtual void append_record(std::string_view data) {
    capture::Entry e;
    e.mutable_record()->set_data(std::string(data));
    append(std::move(e));
  }
};

}  // namespace rein::pipeline
