#include "capture/segment_format.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "capture/unique_fd.h"

namespace rein::capture {

namespace {

constexpr std::string_view kHeaderDomain = "rein-capture-header";
constexpr std::string_view kKeyIdDomain = "rein-capture-key-id";
constexpr std::string_view kFilePrefix = "segment-";
constexpr std::string_view kFileSuffix = ".rcap";
constexpr size_t kIndexDigits = 20;

void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t get64(const uint8_t* p) {
  return uint64_t(get32(p)) | uint64_t(get32(p + 4)) << 32;
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// An HMAC-SHA256 context keyed with `key`, kept per thread and copied for each MAC: fetching
// the algorithm from OpenSSL's provider store and keying it took longer than the MAC of a
// small block (the writer MACs a block at least every second). Null when OpenSSL fails.
EVP_MAC_CTX* keyed_hmac(const HostKey& key) {
  struct Keyed {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    HostKey key{};
    ~Keyed() {
      EVP_MAC_CTX_free(ctx);
      EVP_MAC_free(mac);
      OPENSSL_cleanse(key.data(), key.size());
    }
  };
  thread_local Keyed k;
  if (k.ctx && k.key == key) return k.ctx;
  EVP_MAC_CTX_free(k.ctx);
  k.ctx = nullptr;
  if (!k.mac && !(k.mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr))) return nullptr;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(k.mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx, key.data(), key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return nullptr;
  }
  k.ctx = ctx;
  k.key = key;
  return k.ctx;
}

// HMAC-SHA256 over several pieces without concatenating them (blocks are megabytes).
class Mac {
 public:
  explicit Mac(const HostKey& key) {
    EVP_MAC_CTX* keyed = keyed_hmac(key);
    ctx_ = keyed ? EVP_MAC_CTX_dup(keyed) : nullptr;
    ok_ = ctx_ != nullptr;
  }
  ~Mac() { EVP_MAC_CTX_free(ctx_); }
  Mac(const Mac&) = delete;
  Mac& operator=(const Mac&) = delete;
  void update(std::span<const uint8_t> d) {
    if (ok_ && !d.empty()) ok_ = EVP_MAC_update(ctx_, d.data(), d.size()) == 1;
  }
  void update(std::string_view d) { update(bytes_of(d)); }
  // An all-zero MAC on a library failure never matches a stored one: fails closed.
  Digest finish() {
    Digest out{};
    size_t len = 0;
    if (!ok_ || EVP_MAC_final(ctx_, out.data(), &len, out.size()) != 1 || len != out.size())
      out.fill(0);
    return out;
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  bool ok_ = false;
};

// One compression and one decompression context per thread, kept: creating a zstd context
// per block would cost more than compressing a small block.
struct ZstdContexts {
  ZSTD_CCtx* c = nullptr;
  ZSTD_DCtx* d = nullptr;
  std::string out;  // compressed output, before it is framed
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& zstd_contexts() {
  thread_local ZstdContexts ctx;
  return ctx;
}

bool mac_equal(const Digest& a, const uint8_t* b) {
  return CRYPTO_memcmp(a.data(), b, a.size()) == 0;
}

}  // namespace

std::string segment_file_name(uint64_t index) {
  std::string digits = std::to_string(index);
  return std::string(kFilePrefix) + std::string(kIndexDigits - digits.size(), '0') + digits +
         std::string(kFileSuffix);
}

std::optional<uint64_t> parse_segment_file_name(std::string_view name) {
  if (name.size() != kFilePrefix.size() + kIndexDigits + kFileSuffix.size()) return std::nullopt;
  if (name.substr(0, kFilePrefix.size()) != kFilePrefix) return std::nullopt;
  if (name.substr(name.size() - kFileSuffix.size()) != kFileSuffix) return std::nullopt;
  uint64_t v = 0;
  for (char c : name.substr(kFilePrefix.size(), kIndexDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

Result<std::vector<SegmentFile>> list_segments(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return make_error(dir + ": " + std::strerror(errno));
  std::vector<SegmentFile> out;
  while (struct dirent* e = ::readdir(d.get())) {
    auto idx = parse_segment_file_name(e->d_name);
    if (!idx) continue;
    SegmentFile f;
    f.index = *idx;
    f.name = e->d_name;
    f.path = dir + "/" + f.name;
    struct stat st {};
    if (::lstat(f.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    f.size = uint64_t(st.st_size);
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.index < b.index; });
  return out;
}

KeyId key_id_of(const HostKey& key) {
  Mac m(key);
  m.update(kKeyIdDomain);
  Digest d = m.finish();
  KeyId id{};
  std::copy_n(d.begin(), id.size(), id.begin());
  return id;
}

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_) EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
}
Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}
void Sha256::update(std::span<const uint8_t> data) {
  if (ctx_ && !data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
}
Digest Sha256::finish() {
  Digest out{};
  unsigned int len = 0;
  if (!ctx_ || EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) out.fill(0);
  if (ctx_) EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  return out;
}

Result<Digest> sha256_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return make_error(path + ": " + std::strerror(errno));
  Sha256 sha;
  std::vector<uint8_t> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(path + ": " + std::strerror(errno));
    if (n == 0) break;
    sha.update({buf.data(), size_t(n)});
  }
  return sha.finish();
}

std::string encode_header(const SegmentHeader& h, const HostKey& key, Digest* mac_out) {
  std::string out(kSegmentMagic, sizeof(kSegmentMagic));
  put32(out, h.version);
  put32(out, uint32_t(kHeaderSize));
  put64(out, h.index);
  put64(out, uint64_t(h.created_unix_ns));
  put64(out, h.retained_from);
  out.append(reinterpret_cast<const char*>(h.key_id.data()), h.key_id.size());
  out.append(reinterpret_cast<const char*>(h.prev_sha256.data()), h.prev_sha256.size());
  Mac m(key);
  m.update(kHeaderDomain);
  m.update(out);
  Digest mac = m.finish();
  out.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  if (mac_out) *mac_out = mac;
  return out;
}

void append_entry_frame(std::string& raw, std::string_view entry) {
  put32(raw, uint32_t(entry.size()));
  raw.append(entry);
}

void append_entry_frame_header(std::string& raw, uint32_t entry_size) {
  const char le[4] = {char(entry_size & 0xFF), char((entry_size >> 8) & 0xFF),
                      char((entry_size >> 16) & 0xFF), char((entry_size >> 24) & 0xFF)};
  raw.append(le, 4);
}

Result<std::string> encode_block(std::string_view entries, uint32_t entry_count, const HostKey& key,
                                 const Digest& chain, Digest* mac_out, BlockCodec codec) {
  std::string out;
  if (auto ok = encode_block_into(out, entries, entry_count, key, chain, mac_out, codec); !ok)
    return ok.error();
  return out;
}

Result<void> encode_block_into(std::string& out, std::string_view entries, uint32_t entry_count,
                               const HostKey& key, const Digest& chain, Digest* mac_out,
                               BlockCodec codec) {
  if (entries.size() > kMaxBlockRawBytes) return make_error("block larger than the format allows");
  out.clear();
  size_t clen = 0;
  if (codec == BlockCodec::kZstd) {
    auto& ctx = zstd_contexts();
    if (!ctx.c && !(ctx.c = ZSTD_createCCtx())) return make_error("zstd: no memory for a context");
    // Into the thread's scratch buffer, grown only: resizing `out` to the bound for every
    // block would zero-fill the whole bound each time.
    const size_t bound = ZSTD_compressBound(entries.size());
    if (ctx.out.size() < bound) ctx.out.resize(bound);
    clen = ZSTD_compressCCtx(ctx.c, ctx.out.data(), bound, entries.data(), entries.size(),
                             kZstdLevel);
    if (ZSTD_isError(clen))
      return make_error(std::string("zstd compress failed: ") + ZSTD_getErrorName(clen));
    if (clen > kMaxBlockCompressedBytes) return make_error("compressed block too large");
    out.reserve(kBlockHeaderSize + clen + kMacSize);
    out.resize(kBlockHeaderSize);
    out.append(ctx.out.data(), clen);
  } else {
    uLongf bound = compressBound(uLong(entries.size()));
    out.resize(kBlockHeaderSize + bound);
    uLongf zlen = bound;
    int rc = compress2(reinterpret_cast<Bytef*>(out.data() + kBlockHeaderSize), &zlen,
                       reinterpret_cast<const Bytef*>(entries.data()), uLong(entries.size()), 1);
    if (rc != Z_OK) return make_error("zlib compress failed: " + std::to_string(rc));
    clen = zlen;
  }
  if (clen > kMaxBlockCompressedBytes) return make_error("compressed block too large");
  out.resize(kBlockHeaderSize + clen);
  std::string hdr;
  put32(hdr, codec == BlockCodec::kZstd ? kBlockTagZstd : kBlockTag);
  put32(hdr, uint32_t(clen));
  put32(hdr, uint32_t(entries.size()));
  put32(hdr, entry_count);
  std::memcpy(out.data(), hdr.data(), kBlockHeaderSize);
  Mac m(key);
  m.update(chain);
  m.update(out);
  Digest mac = m.finish();
  out.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  *mac_out = mac;
  return {};
}

std::string encode_trailer(uint32_t block_count, uint64_t entry_count, const HostKey& key,
                           const Digest& chain) {
  std::string out;
  put32(out, kTrailerTag);
  put32(out, block_count);
  put64(out, entry_count);
  Mac m(key);
  m.update(chain);
  m.update(out);
  Digest mac = m.finish();
  out.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return out;
}

Result<size_t> MemorySource::read(uint8_t* buf, size_t len) {
  size_t n = std::min(len, data_.size() - pos_);
  if (n) std::memcpy(buf, data_.data() + pos_, n);
  pos_ += n;
  return n;
}

Result<size_t> FdSource::read(uint8_t* buf, size_t len) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, len);
    if (n >= 0) return size_t(n);
    if (errno != EINTR) return make_error(std::string("read: ") + std::strerror(errno));
  }
}

Result<size_t> SegmentScanner::read_exact(uint8_t* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    auto n = src_.read(buf + got, len - got);
    if (!n) return n.error();
    if (*n == 0) break;
    got += *n;
  }
  offset_ += got;
  return got;
}

Result<SegmentHeader> SegmentScanner::read_header() {
  uint8_t b[kHeaderSize] = {};
  auto n = read_exact(b, sizeof(b));
  if (!n) return n.error();
  if (*n == 0) return make_error("empty file");
  if (std::memcmp(b, kSegmentMagic, sizeof(kSegmentMagic)) != 0)
    return make_error("not a capture segment (bad magic)");
  if (*n < kHeaderSize) {
    truncated_ = true;
    return make_error("truncated header (" + std::to_string(*n) + " of " +
                      std::to_string(kHeaderSize) + " bytes)");
  }
  SegmentHeader h;
  h.version = get32(b + 8);
  if (h.version != kFormatVersion && h.version != kFormatVersionZlibOnly)
    return make_error("unsupported format version " + std::to_string(h.version));
  version_ = h.version;
  if (get32(b + 12) != kHeaderSize) return make_error("bad header size");
  h.index = get64(b + 16);
  h.created_unix_ns = int64_t(get64(b + 24));
  h.retained_from = get64(b + 32);
  std::memcpy(h.key_id.data(), b + 40, h.key_id.size());
  std::memcpy(h.prev_sha256.data(), b + 48, h.prev_sha256.size());
  KeyId ours = key_id_of(key_);
  if (h.key_id != ours)
    return make_error("written under key id " + hex(h.key_id) + ", this key is " + hex(ours) +
                      " (wrong key or --state-dir, or a modified header)");
  Mac m(key_);
  m.update(kHeaderDomain);
  m.update(std::span<const uint8_t>(b, kHeaderSize - kMacSize));
  chain_ = m.finish();
  if (!mac_equal(chain_, b + kHeaderSize - kMacSize))
    return make_error("header HMAC mismatch: header modified");
  return h;
}

Result<SegmentScanner::Item> SegmentScanner::next() {
  if (done_) return make_error("read past the end of the segment");
  const uint64_t start = offset_;
  const std::string where =
      "block " + std::to_string(blocks_) + " at offset " + std::to_string(start);
  uint8_t hdr[kBlockHeaderSize];
  auto n = read_exact(hdr, 4);
  if (!n) return n.error();
  if (*n == 0) {
    done_ = true;
    return Item::kEndOfData;
  }
  auto truncated = [&](const std::string& what) -> Result<Item> {
    truncated_ = true;
    done_ = true;
    return make_error(where + ": truncated " + what + " (file cut short)");
  };
  if (*n < 4) return truncated("record tag");
  uint32_t tag = get32(hdr);
  if (tag == kTrailerTag) {
    uint8_t t[kTrailerSize];
    std::memcpy(t, hdr, 4);
    auto m = read_exact(t + 4, kTrailerSize - 4);
    if (!m) return m.error();
    if (*m < kTrailerSize - 4) return truncated("trailer");
    Mac mac(key_);
    mac.update(chain_);
    mac.update(std::span<const uint8_t>(t, kTrailerSize - kMacSize));
    Digest d = mac.finish();
    done_ = true;
    if (!mac_equal(d, t + kTrailerSize - kMacSize))
      return make_error("trailer at offset " + std::to_string(start) + ": HMAC mismatch: modified");
    if (get32(t + 4) != blocks_ || get64(t + 8) != entries_)
      return make_error("trailer counts disagree with the blocks");
    uint8_t extra;
    auto e = read_exact(&extra, 1);
    if (!e) return e.error();
    if (*e != 0) return make_error("data after the trailer (appended to a closed segment)");
    return Item::kTrailer;
  }
  // Version 1 segments hold zlib blocks only.
  if (tag != kBlockTag && (tag != kBlockTagZstd || version_ == kFormatVersionZlibOnly)) {
    done_ = true;
    return make_error(where + ": bad record tag (corrupt or modified)");
  }
  const BlockCodec codec = tag == kBlockTagZstd ? BlockCodec::kZstd : BlockCodec::kZlib;
  const size_t max_ratio = codec == BlockCodec::kZstd ? kMaxZstdRatio : kMaxInflateRatio;
  auto m = read_exact(hdr + 4, kBlockHeaderSize - 4);
  if (!m) return m.error();
  if (*m < kBlockHeaderSize - 4) return truncated("block header");
  const uint32_t clen = get32(hdr + 4), rlen = get32(hdr + 8), count = get32(hdr + 12);
  // Bounds before allocating; the MAC comes after the payload, so these are unauthenticated.
  if (clen > kMaxBlockCompressedBytes || rlen > kMaxBlockRawBytes || count > kMaxEntriesPerBlock ||
      size_t(rlen) > size_t(clen) * max_ratio + 64 || size_t(count) * 4 > rlen) {
    done_ = true;
    return make_error(where + ": block sizes out of bounds (corrupt or modified)");
  }
  compressed_.resize(kBlockHeaderSize + clen + kMacSize);
  std::memcpy(compressed_.data(), hdr, kBlockHeaderSize);
  auto p = read_exact(reinterpret_cast<uint8_t*>(compressed_.data()) + kBlockHeaderSize,
                      clen + kMacSize);
  if (!p) return p.error();
  if (*p < clen + kMacSize) return truncated("block");
  Mac mac(key_);
  mac.update(chain_);
  mac.update(std::string_view(compressed_.data(), kBlockHeaderSize + clen));
  Digest d = mac.finish();
  if (!mac_equal(d,
                 reinterpret_cast<const uint8_t*>(compressed_.data()) + kBlockHeaderSize + clen)) {
    done_ = true;
    return make_error(where + ": HMAC mismatch: modified (or blocks reordered)");
  }
  auto raw = decompress_block(codec, std::string_view(compressed_.data() + kBlockHeaderSize, clen),
                              rlen, raw_);
  if (!raw) {
    done_ = true;
    return make_error(where + ": " + raw.error().message);
  }
  chain_ = d;
  entry_count_ = count;
  blocks_++;
  entries_ += count;
  return Item::kBlock;
}

Result<void> inflate_block(std::string_view compressed, size_t raw_size, std::string& out) {
  if (raw_size > kMaxBlockRawBytes || compressed.size() > kMaxBlockCompressedBytes)
    return make_error("block too large");
  out.resize(raw_size);
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return make_error("zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = uInt(compressed.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  int rc = inflate(&zs, Z_FINISH);
  size_t produced = raw_size - zs.avail_out;
  size_t left_in = zs.avail_in;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return make_error(rc == Z_BUF_ERROR || rc == Z_OK ? "block inflates beyond its stated size"
                                                      : "zlib data corrupt");
  if (produced != raw_size || left_in != 0) return make_error("block size mismatch");
  return {};
}

Result<void> decompress_block(BlockCodec codec, std::string_view compressed, size_t raw_size,
                              std::string& out) {
  if (codec == BlockCodec::kZlib) return inflate_block(compressed, raw_size, out);
  if (raw_size > kMaxBlockRawBytes || compressed.size() > kMaxBlockCompressedBytes)
    return make_error("block too large");
  auto& ctx = zstd_contexts();
  if (!ctx.d && !(ctx.d = ZSTD_createDCtx())) return make_error("zstd: no memory for a context");
  out.resize(raw_size);
  // Into a flat buffer of the stated size: zstd never writes past it (dstSize_tooSmall), so
  // a frame claiming more than the block says fails instead of allocating.
  const size_t n =
      ZSTD_decompressDCtx(ctx.d, out.data(), out.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n)) {
    const bool too_big = ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall;
    ZSTD_DCtx_reset(ctx.d, ZSTD_reset_session_and_parameters);
    return make_error(too_big ? "block inflates beyond its stated size" : "zstd data corrupt");
  }
  if (n != raw_size) return make_error("block size mismatch");
  return {};
}

Result<std::vector<std::string_view>> split_entries(std::string_view raw, uint32_t entry_count) {
  std::vector<std::string_view> out;
  out.reserve(std::min<size_t>(entry_count, raw.size() / 4));
  size_t pos = 0;
  for (uint32_t i = 0; i < entry_count; i++) {
    if (raw.size() - pos < 4)
      return make_error("entry " + std::to_string(i) + ": truncated length");
    uint32_t len = get32(reinterpret_cast<const uint8_t*>(raw.data() + pos));
    pos += 4;
    if (len > kMaxEntryBytes || len > raw.size() - pos)
      return make_error("entry " + std::to_string(i) + ": length out of bounds");
    out.push_back(raw.substr(pos, len));
    pos += len;
  }
  if (pos != raw.size()) return make_error("bytes after the last entry");
  return out;
}

}  // namespace rein::capture
