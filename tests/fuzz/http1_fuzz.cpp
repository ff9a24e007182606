// Drives Http1Connection with both directions of a hostile conversation, cut into random
// slices that are randomly lost, reordered, duplicated and time-shuffled. Input layout:
//   byte 0: PRNG seed   byte 1: flags (see below)
//   rest:   request stream, then "~~~~", then response stream (no marker: split in half)
// Checks that nothing crashes or grows past its bounds and that delivered bodies respect
// the caps.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/http1_connection.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

struct Rng {
  uint32_t x;
  uint32_t next() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  }
};

enum Flags : uint8_t {
  kSmallLimits = 1 << 0,
  kDrop = 1 << 1,
  kReorder = 1 << 2,
  kDuplicate = 1 << 3,
  kShuffleTime = 1 << 4,
  kTinySlices = 1 << 5,
  kExpire = 1 << 6,
  kMidStream = 1 << 7,  // joined late: both parsers start by scanning for a message start
};

struct Slice {
  int dir;
  uint64_t off;
  std::string_view bytes;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Rng rng{static_cast<uint32_t>(data[0]) * 2654435761u + static_cast<uint32_t>(size) + 1};
  const uint8_t flags = data[1];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string_view streams[2];
  const size_t marker = rest.find("~~~~");
  if (marker != std::string_view::npos) {
    streams[0] = rest.substr(0, marker);
    streams[1] = rest.substr(marker + 4);
  } else {
    streams[0] = rest.substr(0, rest.size() / 2);
    streams[1] = rest.substr(rest.size() / 2);
  }

  rein::proto::Http1ConnectionLimits lim;
  if (flags & kSmallLimits) {
    lim.parser.max_head_bytes = 512;
    lim.parser.max_headers = 8;
    lim.parser.max_chunk_line = 32;
    lim.parser.max_resync_line = 64;
    lim.body.max_output = 1024;
    lim.body.ratio_slack = 512;
    lim.body.max_ratio = 4;
    lim.reassembly.max_pending_chunks = 3;
    lim.reassembly.max_pending_bytes = 256;
    lim.reassembly.max_hole_age_ns = 50;
    lim.max_pending_exchanges = 3;
  }
  lim.anchor_at_first_chunk = (flags & kMidStream) != 0;
  const size_t cap = lim.body.max_output;

  rein::proto::Http1Connection conn(
      [&](rein::proto::HttpExchange&& ex, uint64_t) {
        check(ex.request.body.size() <= cap);
        if (ex.response) {
          check(ex.response->body.size() <= cap);
          check(ex.response->status >= 100 && ex.response->status <= 999);
        }
        for (const auto& h : ex.request.headers) check(!h.name.empty());
      },
      lim);
  conn.set_response_body_handler([&](const rein::proto::ResponseBodyChunk& c) {
    check(!c.data.empty());
    check(c.response.body.size() <= cap);
    check(c.data.data() + c.data.size() == c.response.body.data() + c.response.body.size());
  });

  std::vector<Slice> slices;
  const size_t max_slice = (flags & kTinySlices) ? 4 : 256;
  size_t pos[2] = {0, 0};
  while (pos[0] < streams[0].size() || pos[1] < streams[1].size()) {
    int dir = static_cast<int>(rng.next() & 1);
    if (pos[dir] >= streams[dir].size()) dir ^= 1;
    const size_t n = std::min<size_t>(1 + rng.next() % max_slice, streams[dir].size() - pos[dir]);
    slices.push_back({dir, pos[dir], streams[dir].substr(pos[dir], n)});
    pos[dir] += n;
  }
  for (size_t i = 0; i + 1 < slices.size(); ++i)
    if ((flags & kReorder) && rng.next() % 4 == 0) std::swap(slices[i], slices[i + 1]);

  uint64_t ts = 1000;
  for (const auto& s : slices) {
    ts += (flags & kShuffleTime) ? rng.next() % 40 : 10;
    const uint64_t t = (flags & kShuffleTime) && rng.next() % 3 == 0 ? ts - 30 : ts;
    if ((flags & kDrop) && rng.next() % 8 == 0) continue;
    const auto* p = reinterpret_cast<const uint8_t*>(s.bytes.data());
    conn.feed(s.dir, s.off, {p, s.bytes.size()}, t);
    if ((flags & kDuplicate) && rng.next() % 8 == 0) {
      const size_t k = rng.next() % (s.bytes.size() + 1);
      conn.feed(s.dir, s.off + k, {p + k, s.bytes.size() - k}, t);
    }
    if ((flags & kExpire) && rng.next() % 16 == 0) conn.expire(ts + 100);
  }
  conn.close(ts + 1);
  check(conn.closed());
  return 0;
}
