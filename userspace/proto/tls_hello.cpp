#include "proto/tls_hello.h"

namespace rein::proto {
namespace {

// Bounds-checked reader over a byte span.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool u8(uint32_t& v) { return take(1, v); }
  bool u16(uint32_t& v) { return take(2, v); }
  bool u24(uint32_t& v) { return take(3, v); }
  bool skip(size_t n) {
    if (n > b_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  // A sub-reader over the next n bytes (clamped to what exists; `cut` says if it was).
  Reader sub(size_t n, bool* cut) {
    size_t have = b_.size() - pos_;
    *cut = n > have;
    Reader r(b_.subspan(pos_, std::min(n, have)));
    pos_ += std::min(n, have);
    return r;
  }
  bool bytes(size_t n, std::string& out) {
    if (n > b_.size() - pos_) return false;
    out.assign(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool empty() const { return pos_ >= b_.size(); }

 private:
  bool take(size_t n, uint32_t& v) {
    if (n > b_.size() - pos_) return false;
    v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | b_[pos_ + i];
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

bool printable_host(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

// Every extension is read: the block is at most 64 KiB (four bytes each at least), and
// a cap on their number would let a client hide its server name behind empty ones.
void parse_extensions(Reader ext, TlsHello& h) {
  while (!ext.empty()) {
    uint32_t type = 0, len = 0;
    if (!ext.u16(type) || !ext.u16(len)) {
      h.truncated = true;
      return;
    }
    bool cut = false;
    Reader body = ext.sub(len, &cut);
    if (cut) h.truncated = true;
    if (type == 0) {  // server_name: list of (type, name); host_name is type 0
      uint32_t list = 0, name_type = 0, name_len = 0;
      std::string name;
      if (body.u16(list) && body.u8(name_type) && body.u16(name_len) && name_type == 0 &&
          body.bytes(name_len, name) && printable_host(name))
        h.sni = name;
    } else if (type == 16) {  // ALPN: list of length-prefixed protocol names
      uint32_t list = 0;
      if (!body.u16(list)) continue;
      for (int i = 0; i < 16 && !body.empty() && h.alpn.size() < 16; i++) {
        uint32_t l = 0;
        std::string proto;
        if (!body.u8(l) || !body.bytes(l, proto)) break;
        h.alpn.push_back(std::move(proto));
      }
    }
    if (cut) return;
  }
}

}  // namespace

std::optional<TlsHello> parse_tls_client_hello(std::span<const uint8_t> bytes) {
  Reader rec(bytes);
  uint32_t content = 0, version = 0, rec_len = 0, hs_type = 0, hs_len = 0;
  if (!rec.u8(content) || content != 0x16 || !rec.u16(version) || (version >> 8) != 3 ||
      !rec.u16(rec_len) || !rec.u8(hs_type) || hs_type != 1 || !rec.u24(hs_len))
    return std::nullopt;
  TlsHello h;
  bool cut = false;
  Reader hello = rec.sub(hs_len, &cut);
  h.truncated = cut;
  uint32_t v = 0, sid = 0, suites = 0, comp = 0, ext_len = 0;
  if (!hello.u16(v) || !hello.skip(32) || !hello.u8(sid) || !hello.skip(sid) ||
      !hello.u16(suites) || !hello.skip(suites) || !hello.u8(comp) || !hello.skip(comp)) {
    h.truncated = true;
    return h;
  }
  if (!hello.u16(ext_len)) return h;  // no extensions at all
  bool ext_cut = false;
  Reader ext = hello.sub(ext_len, &ext_cut);
  if (ext_cut) h.truncated = true;
  parse_extensions(ext, h);
  return h;
}

}  // namespace rein::proto
