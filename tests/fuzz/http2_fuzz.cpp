// Drives Http2Connection with both directions of a hostile conversation, cut into random
// slices that are randomly lost, reordered, duplicated and time-shuffled. Input layout:
//   byte 0: PRNG seed   byte 1: flags (see below)
//   raw mode:        client stream, then "~~~~", then server stream (no marker: split in half);
//                    with kPreface the real preface and SETTINGS are put in front, so the
//                    random bytes reach frame and HPACK parsing instead of failing at once.
//   structured mode: the rest is a list of operations (see synthesize) turned into valid-ish
//                    frames with real HPACK blocks (nghttp2 deflater), so streams, bodies,
//                    CONTINUATION, SETTINGS/ACK table changes, RST and GOAWAY get exercised.
// Checks that nothing crashes, that delivered messages respect the bounds, and that every
// stream opened is delivered exactly once by close().
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/http2_connection.h"

namespace {

#define CHECK(cond)                                        \
  do {                                                     \
    if (!(cond)) {                                         \
      std::fprintf(stderr, "check failed: %s\n", #cond); \
      std::abort();                                        \
    }                                                      \
  } while (0)

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
  kStructured = 1 << 4,
  kTinySlices = 1 << 5,
  kExpire = 1 << 6,
  kPreface = 1 << 7,
};

constexpr std::string_view kMagic = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  for (int shift : {16, 8, 0}) f += static_cast<char>(n >> shift);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift : {24, 16, 8, 0}) f += static_cast<char>(stream >> shift);
  f += payload;
  return f;
}

std::string u32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string setting(uint16_t id, uint32_t v) {
  return std::string{static_cast<char>(id >> 8), static_cast<char>(id)} + u32(v);
}

class Deflater {
 public:
  Deflater() { nghttp2_hd_deflate_new(&d_, 65536); }
  ~Deflater() { nghttp2_hd_deflate_del(d_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  std::string encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    if (!d_) return {};
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields)
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    std::string out(nghttp2_hd_deflate_bound(d_, nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(d_, reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                            nva.data(), nva.size());
    out.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return out;
  }
  void change_table_size(size_t n) {
    if (d_) nghttp2_hd_deflate_change_table_size(d_, n);
  }

 private:
  nghttp2_hd_deflater* d_ = nullptr;
};

// Reads operation bytes; past the end it yields zeros (so every op is well defined).
struct Ops {
  std::string_view in;
  size_t pos = 0;
  uint8_t next() { return pos < in.size() ? static_cast<uint8_t>(in[pos++]) : 0; }
  bool done() const { return pos >= in.size(); }
};

void synthesize(std::string_view ops_bytes, std::string out[2]) {
  static const char* const kNames[] = {"content-type", "content-encoding", "x-request-id",
                                       "authorization", "user-agent", "accept"};
  static const char* const kValues[] = {"application/json", "gzip", "text/event-stream",
                                        "identity", "Bearer k", "abc"};
  Deflater enc[2];
  Ops ops{ops_bytes};
  out[0] = std::string(kMagic) + frame(4, 0, 0, "");
  out[1] = frame(4, 0, 0, "") + frame(4, 1, 0, "");
  out[0] += frame(4, 1, 0, "");
  uint32_t next_id = 1;
  auto stream_of = [&](uint8_t b) { return next_id > 1 ? 1 + 2 * (b % ((next_id - 1) / 2 + 1)) : 1u; };
  auto block = [&](int dir, uint8_t sel) {
    std::vector<std::pair<std::string, std::string>> f;
    if (dir == 0) {
      f = {{":method", sel & 1 ? "POST" : "GET"}, {":path", "/v1/x"}, {":scheme", "https"},
           {":authority", sel & 2 ? "Api.Example:443" : "h"}};
    } else {
      static const char* const kStatus[] = {"200", "100", "404", "2x0", "103", "500", "", "999"};
      f = {{":status", kStatus[sel & 7]}};
    }
    const int extra = (sel >> 3) & 3;
    for (int i = 0; i < extra; ++i) f.push_back({kNames[(sel + i) % 6], kValues[((sel >> 2) + i) % 6]});
    return enc[dir].encode(f);
  };
  int steps = 0;
  while (!ops.done() && steps++ < 512) {
    const uint8_t op = ops.next();
    const uint8_t a = ops.next();
    const int dir = op & 1;
    const uint8_t fl = (a & 1) ? 1 : 0;  // END_STREAM
    switch ((op >> 1) % 10) {
      case 0: {  // HEADERS, possibly split into CONTINUATIONs, possibly padded
        uint32_t id = dir == 0 ? next_id : stream_of(a);
        if (dir == 0) next_id += 2;
        const std::string b = block(dir, ops.next());
        if (a & 2) {
          const size_t cut = b.size() / 2;
          out[dir] += frame(1, fl, id, b.substr(0, cut)) + frame(9, 4, id, b.substr(cut));
        } else if (a & 4) {
          out[dir] += frame(1, fl | 4 | 8, id, std::string(1, '\x02') + b + std::string(2, '\0'));
        } else {
          out[dir] += frame(1, fl | 4, id, b);
        }
        break;
      }
      case 1:
      case 2: {  // DATA
        const std::string body(ops.next() % 64, static_cast<char>('a' + a % 26));
        out[dir] += (a & 4) ? frame(0, fl | 8, stream_of(a >> 3), std::string(1, '\x01') + body + '\0')
                            : frame(0, fl, stream_of(a >> 3), body);
        break;
      }
      case 3:
        out[dir] += frame(3, 0, stream_of(a), u32(8));
        break;
      case 4:
        out[dir] += frame(7, 0, 0, u32(stream_of(a)) + u32(0));
        break;
      case 5: {  // a table size change, ACKed by the other side whose encoder then adopts it
        static const uint32_t kSizes[] = {0, 256, 4096, 65536};
        const uint32_t size = kSizes[a & 3];
        out[dir] += frame(4, 0, 0, setting(1, size) + setting(5, 16384 + (a >> 2) * 1000));
        out[1 - dir] += frame(4, 1, 0, "");
        enc[1 - dir].change_table_size(size);
        break;
      }
      case 6:
        out[dir] += frame(5, 4, stream_of(a), u32(2 * (a + 1)) + block(0, ops.next()));
        break;
      case 7:
        out[dir] += frame(static_cast<uint8_t>(a % 12), ops.next(), stream_of(ops.next()),
                          std::string(ops.next() % 16, 'r'));
        break;
      case 8:
        out[dir] += frame(6, 0, 0, std::string(8, 'p')) + frame(8, 0, stream_of(a), u32(100));
        break;
      default: {  // raw bytes: garbage in the middle of good traffic
        const size_t n = ops.next() % 8;
        for (size_t i = 0; i < n; ++i) out[dir] += static_cast<char>(ops.next());
        break;
      }
    }
  }
}

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
  std::string streams[2];
  if (flags & kStructured) {
    synthesize(rest, streams);
  } else {
    const size_t marker = rest.find("~~~~");
    if (marker != std::string_view::npos) {
      streams[0] = rest.substr(0, marker);
      streams[1] = rest.substr(marker + 4);
    } else {
      streams[0] = rest.substr(0, rest.size() / 2);
      streams[1] = rest.substr(rest.size() / 2);
    }
    if (flags & kPreface) {
      streams[0] = std::string(kMagic) + frame(4, 0, 0, "") + streams[0];
      streams[1] = frame(4, 0, 0, "") + streams[1];
    }
  }

  rein::proto::Http2ConnectionLimits lim;
  if (flags & kSmallLimits) {
    lim.body.max_output = 1024;
    lim.body.ratio_slack = 512;
    lim.body.max_ratio = 4;
    lim.reassembly.max_pending_chunks = 3;
    lim.reassembly.max_pending_bytes = 256;
    lim.reassembly.max_hole_age_ns = 50;
    lim.max_header_block = 256;
    lim.max_header_list_bytes = 128;
    lim.max_headers = 4;
    lim.max_header_table_size = 512;
    lim.max_open_streams = 3;
    lim.max_closed_ids = 4;
  }
  const size_t cap = lim.body.max_output;

  uint64_t delivered = 0;
  rein::proto::Http2Connection conn(
      [&](rein::proto::HttpExchange&& ex, uint64_t) {
        delivered++;
        CHECK(ex.request.body.size() <= cap);
        CHECK(ex.request.headers.size() <= lim.max_headers);
        if (ex.response) {
          CHECK(ex.response->body.size() <= cap);
          CHECK(ex.response->status >= 200 && ex.response->status <= 999);
          CHECK(ex.response->headers.size() <= 2 * lim.max_headers);  // headers + trailers
        }
        for (const auto& h : ex.request.headers) CHECK(!h.name.empty() && h.name[0] != ':');
      },
      lim);
  conn.set_response_body_handler([&](const rein::proto::ResponseBodyChunk& c) {
    CHECK(!c.data.empty());
    CHECK(c.response.body.size() <= cap);
    CHECK(c.data.data() + c.data.size() == c.response.body.data() + c.response.body.size());
  });

  std::vector<Slice> slices;
  const size_t max_slice = (flags & kTinySlices) ? 4 : 512;
  size_t pos[2] = {0, 0};
  while (pos[0] < streams[0].size() || pos[1] < streams[1].size()) {
    int dir = static_cast<int>(rng.next() & 1);
    if (pos[dir] >= streams[dir].size()) dir ^= 1;
    const size_t n = std::min<size_t>(1 + rng.next() % max_slice, streams[dir].size() - pos[dir]);
    slices.push_back({dir, pos[dir], std::string_view(streams[dir]).substr(pos[dir], n)});
    pos[dir] += n;
  }
  for (size_t i = 0; i + 1 < slices.size(); ++i)
    if ((flags & kReorder) && rng.next() % 4 == 0) std::swap(slices[i], slices[i + 1]);

  uint64_t ts = 1000;
  for (const auto& s : slices) {
    ts += 10;
    if ((flags & kDrop) && rng.next() % 8 == 0) continue;
    const auto* p = reinterpret_cast<const uint8_t*>(s.bytes.data());
    conn.feed(s.dir, s.off, {p, s.bytes.size()}, ts);
    if ((flags & kDuplicate) && rng.next() % 8 == 0) {
      const size_t k = rng.next() % (s.bytes.size() + 1);
      conn.feed(s.dir, s.off + k, {p + k, s.bytes.size() - k}, ts);
    }
    if ((flags & kExpire) && rng.next() % 16 == 0) conn.expire(ts + 100);
    CHECK(conn.stats().streams - conn.stats().exchanges <= lim.max_open_streams);
  }
  conn.close(ts + 1);
  CHECK(conn.closed());
  const auto& st = conn.stats();
  CHECK(st.exchanges == delivered);
  CHECK(st.exchanges == st.streams);  // every stream opened was delivered exactly once
  CHECK(conn.unparseable() == !conn.error().empty());
  return 0;
}
