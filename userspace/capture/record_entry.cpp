#include "capture/record_entry.h"

namespace rein::capture {

namespace {

// A base-128 varint of at most 10 bytes, as protobuf writes it; false when cut short or
// longer than 64 bits.
bool read_varint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (unsigned shift = 0, i = 0; i < 10 && i < in.size(); i++, shift += 7) {
    const auto b = static_cast<uint8_t>(in[i]);
    if (i == 9 && b > 1) return false;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      in.remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

// A length-delimited field's payload with the expected tag; false otherwise.
bool read_bytes_field(std::string_view& in, uint8_t tag, std::string_view& out) {
  uint64_t len = 0;
  if (in.empty() || static_cast<uint8_t>(in[0]) != tag) return false;
  in.remove_prefix(1);
  if (!read_varint(in, len) || len > in.size()) return false;
  out = in.substr(0, len);
  in.remove_prefix(len);
  return true;
}

}  // namespace

std::optional<RecordEntry> read_record_entry(std::string_view entry) {
  constexpr uint8_t kSeqTag = 0x08;     // Entry.seq = 1, varint
  constexpr uint8_t kRecordTag = 0x1a;  // Entry.record = 3, length-delimited
  constexpr uint8_t kDataTag = 0x0a;    // RingRecord.data = 1, length-delimited
  RecordEntry r;
  if (!entry.empty() && static_cast<uint8_t>(entry[0]) == kSeqTag) {
    entry.remove_prefix(1);
    if (!read_varint(entry, r.seq)) return std::nullopt;
  }
  std::string_view record;
  if (!read_bytes_field(entry, kRecordTag, record) || !entry.empty()) return std::nullopt;
  if (record.empty()) return r;  // RingRecord{} : empty data
  if (!read_bytes_field(record, kDataTag, r.data) || !record.empty()) return std::nullopt;
  return r;
}

}  // namespace rein::capture
