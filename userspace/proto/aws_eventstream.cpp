#include "proto/aws_eventstream.h"

#include <zlib.h>

#include <algorithm>

namespace rein::proto {

namespace {

uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

uint32_t crc32_of(std::string_view s) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; messages are bounded far below 4 GiB.
  crc = crc32(crc, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()));
  return static_cast<uint32_t>(crc);
}

// Parses the header block; false when it is malformed.
bool parse_headers(std::string_view h, EventStreamMessage& m) {
  size_t i = 0;
  while (i < h.size()) {
    size_t name_len = static_cast<unsigned char>(h[i++]);
    if (name_len == 0 || i + name_len + 1 > h.size()) return false;
    std::string_view name = h.substr(i, name_len);
    i += name_len;
    unsigned type = static_cast<unsigned char>(h[i++]);
    size_t value_len = 0;
    switch (type) {
      case 0: case 1: value_len = 0; break;       // bool true / false
      case 2: value_len = 1; break;               // byte
      case 3: value_len = 2; break;               // int16
      case 4: value_len = 4; break;               // int32
      case 5: case 8: value_len = 8; break;       // int64, timestamp
      case 9: value_len = 16; break;              // uuid
      case 6: case 7: {                           // bytes, string
        if (i + 2 > h.size()) return false;
        value_len = (size_t{static_cast<unsigned char>(h[i])} << 8) | static_cast<unsigned char>(h[i + 1]);
        i += 2;
        break;
      }
      default:
        return false;
    }
    if (i + value_len > h.size()) return false;
    std::string_view value = h.substr(i, value_len);
    i += value_len;
    if (type != 7) continue;
    if (name == ":message-type") m.message_type.assign(value);
    else if (name == ":event-type") m.event_type.assign(value);
    else if (name == ":exception-type") m.exception_type.assign(value);
    else if (name == ":error-code") m.error_code.assign(value);
    else if (name == ":error-message") m.error_message.assign(value);
    else if (name == ":content-type") m.content_type.assign(value);
  }
  return true;
}

}  // namespace

EventStreamDecoder::EventStreamDecoder(size_t max_message_bytes)
    : max_message_bytes_(std::max<size_t>(max_message_bytes, 16)) {}

void EventStreamDecoder::deliver(std::string_view msg, const EventStreamCallback& on_message) {
  const uint32_t total = be32(msg.data());
  const uint32_t headers_len = be32(msg.data() + 4);
  if (crc32_of(msg.substr(0, total - 4)) != be32(msg.data() + total - 4)) {
    ++stats_.bad_crc;
    return;
  }
  EventStreamMessage m;
  if (!parse_headers(msg.substr(12, headers_len), m)) {
    ++stats_.bad_crc;
    return;
  }
  m.payload = msg.substr(12 + headers_len, total - headers_len - 16);
  ++stats_.messages;
  on_message(m);
}

void EventStreamDecoder::feed(std::string_view chunk, const EventStreamCallback& on_message) {
  // buf_ holds at most one message (prelude first, then the rest once its length is known
  // and within the bound), so memory never exceeds the bound however the bytes arrive.
  while (!chunk.empty() && !failed_) {
    if (skip_ > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, chunk.size()));
      skip_ -= n;
      chunk.remove_prefix(n);
      continue;
    }
    if (buf_.size() < 12) {
      size_t take = std::min(12 - buf_.size(), chunk.size());
      buf_.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      if (buf_.size() < 12) break;
      const uint32_t total = be32(buf_.data());
      const uint32_t headers_len = be32(buf_.data() + 4);
      if (crc32_of(std::string_view(buf_).substr(0, 8)) != be32(buf_.data() + 8) || total < 16 ||
          headers_len > total - 16) {
        failed_ = true;
        buf_.clear();
        break;
      }
      if (total > max_message_bytes_) {
        ++stats_.oversized;
        skip_ = total - 12;
        buf_.clear();
        continue;
      }
    }
    const size_t total = be32(buf_.data());
    size_t take = std::min(total - buf_.size(), chunk.size());
    buf_.append(chunk.substr(0, take));
    chunk.remove_prefix(take);
    if (buf_.size() == total) {
      deliver(buf_, on_message);
      buf_.clear();
    }
  }
}

}  // namespace rein::proto
