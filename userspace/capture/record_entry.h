// The capture's most common entry, a ring record, read straight from its wire bytes. The
// writer frames every record the same way (CaptureWriter::append_record: Entry.seq, then
// Entry.record = RingRecord{data}), and handing its bytes on as a view saves replay a message
// allocation, a copy of the record and the generic parser for each of them. Bytes in any
// other shape (other entry kinds, fields in another order, anything left over) are not
// taken here: the caller parses those with protobuf, so what is read never depends on which
// path read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rein::capture {

struct RecordEntry {
  uint64_t seq = 0;
  std::string_view data;  // into the bytes given
};

std::optional<RecordEntry> read_record_entry(std::string_view entry);

}  // namespace rein::capture
