// WebSocket decoder under arbitrary bytes, both directions, with and without
// permessage-deflate: must never crash, must respect its message bound, and must decode the
// same messages however the stream is sliced.
//
// Input: byte 0 picks direction (bit 0), deflate (bit 1), no_context_takeover (bit 2) and
// the mode (bit 3). Raw mode feeds the rest as wire bytes. Build mode reads records
// [len][flags][payload...] and turns them into well-formed frames (masked from the client,
// compressed with a real deflater when flags say so), so the inflate paths get exercised.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/websocket_stream.h"

namespace {

using rein::proto::WsDecoder;
using rein::proto::WsMessage;
using rein::proto::WsOptions;

struct Out {
  uint8_t opcode;
  std::string payload;
  bool truncated;
  bool operator==(const Out& o) const {
    return opcode == o.opcode && payload == o.payload && truncated == o.truncated;
  }
};

std::vector<Out> run(bool client, const WsOptions& opt, std::string_view wire, size_t slice) {
  std::vector<Out> out;
  WsDecoder d(client, opt, [&](WsMessage&& m) {
    if (m.payload.size() > opt.max_message && m.opcode != 8) std::abort();
    if (m.from_client != client) std::abort();
    out.push_back({m.opcode, std::move(m.payload), m.truncated});
  });
  for (size_t i = 0; i < wire.size(); i += slice) {
    std::string_view s = wire.substr(i, slice);
    d.feed({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, i);
  }
  d.finish(wire.size());
  if (d.stats().messages > d.stats().frames) std::abort();
  return out;
}

void put_frame(std::string& w, uint8_t first, std::string_view payload, bool masked) {
  w.push_back(static_cast<char>(first));
  const uint8_t m = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    w.push_back(static_cast<char>(m | payload.size()));
  } else {
    w.push_back(static_cast<char>(m | 126));
    w.push_back(static_cast<char>(payload.size() >> 8));
    w.push_back(static_cast<char>(payload.size() & 0xff));
  }
  const char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (masked) w.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    w.push_back(masked ? static_cast<char>(payload[i] ^ key[i & 3]) : payload[i]);
}

std::string build(std::string_view in, bool client, bool no_takeover) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string w;
  while (in.size() >= 2) {
    const size_t len = static_cast<uint8_t>(in[0]) % 200;
    const uint8_t flags = static_cast<uint8_t>(in[1]);
    in.remove_prefix(2);
    std::string payload(in.substr(0, len));
    in.remove_prefix(std::min(len, in.size()));
    if (flags & 0x80) {  // control frame
      put_frame(w, 0x80 | ((flags & 1) ? 0x9 : 0xA), payload.substr(0, 125), client);
      continue;
    }
    const bool compress = flags & 0x40;
    if (compress) {
      std::string c;
      zs.next_in = reinterpret_cast<Bytef*>(payload.data());
      zs.avail_in = static_cast<uInt>(payload.size());
      do {
        char buf[4096];
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        deflate(&zs, Z_SYNC_FLUSH);
        c.append(buf, sizeof buf - zs.avail_out);
      } while (zs.avail_out == 0);
      if (c.size() >= 4) c.resize(c.size() - 4);
      if (no_takeover) deflateReset(&zs);
      payload = std::move(c);
    }
    // Split into up to 3 fragments, RSV1 on the first only.
    const size_t parts = 1 + (flags & 3) % 3;
    const size_t step = payload.size() / parts + 1;
    for (size_t p = 0, off = 0; p < parts; ++p, off += step) {
      const bool last = p + 1 == parts;
      uint8_t first = (last ? 0x80 : 0) | (p == 0 ? ((flags & 4) ? 0x2 : 0x1) : 0x0);
      if (p == 0 && compress) first |= 0x40;
      put_frame(w, first, std::string_view(payload).substr(std::min(off, payload.size()), last ? std::string_view::npos : step), client);
    }
  }
  deflateEnd(&zs);
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (1 << 16)) return 0;
  const uint8_t ctl = data[0];
  const bool client = ctl & 1;
  WsOptions opt;
  opt.deflate = ctl & 2;
  opt.client_no_context_takeover = opt.server_no_context_takeover = ctl & 4;
  opt.max_message = 4096;
  opt.max_frame = 1 << 16;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string wire = (ctl & 8) ? build(rest, client, ctl & 4) : std::string(rest);
  const std::vector<Out> whole = run(client, opt, wire, wire.size() + 1);
  const size_t slice = 1 + (ctl >> 4);
  if (!(run(client, opt, wire, slice) == whole)) std::abort();
  return 0;
}
