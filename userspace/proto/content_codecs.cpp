#include "proto/content_codecs.h"

#include <brotli/decode.h>
#include <zlib.h>
// ZSTD_createDCtx_advanced: a context whose memory comes from our allocator.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "proto/decode_budget.h"

namespace rein::proto {

namespace {

// RFC 9659: HTTP zstd senders keep the window at or below 8 MiB, so a frame asking for more
// is hostile or broken; refusing it caps decoder memory per body.
constexpr int kZstdWindowLogMax = 23;

// A brotli ring buffer or a zstd window is sized by what the sender declares (up to 16 and
// 8 MiB per body, before a byte comes out): that memory is drawn from the decode budget like
// the bodies, so many streams that each declare a large window cannot take the sensor past
// it. A refused allocation fails that body's decoding (counted in decode_budget_refusals).
// Each block carries its size in front, for the free that is not told it.
constexpr size_t kAllocHeader = alignof(std::max_align_t);
static_assert(kAllocHeader >= sizeof(size_t) + sizeof(uint32_t));

// The header holds the block's size and its owner (the opaque pointer the stage was made
// with is the owner's number), so the free, which is told neither, gives back to the same.
void* budget_alloc(void* opaque, size_t n) {
  if (n > SIZE_MAX - kAllocHeader) return nullptr;
  const size_t total = n + kAllocHeader;
  const auto owner = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(opaque));
  if (!DecodeBudget::global().try_take(total, owner)) return nullptr;
  void* p = std::malloc(total);
  if (!p) {
    DecodeBudget::global().give_back(total, owner);
    return nullptr;
  }
  std::memcpy(p, &total, sizeof(total));
  std::memcpy(static_cast<char*>(p) + sizeof(total), &owner, sizeof(owner));
  return static_cast<char*>(p) + kAllocHeader;
}

void budget_free(void*, void* q) {
  if (!q) return;
  void* p = static_cast<char*>(q) - kAllocHeader;
  size_t total = 0;
  uint32_t owner = 0;
  std::memcpy(&total, p, sizeof(total));
  std::memcpy(&owner, static_cast<char*>(p) + sizeof(total), sizeof(owner));
  std::free(p);
  DecodeBudget::global().give_back(total, owner);
}

void* owner_opaque(uint32_t owner) { return reinterpret_cast<void*>(uintptr_t{owner}); }

// zlib counts in uInt; slices are small, but never hand it more than it can represent.
uInt clamp_uint(size_t n) { return static_cast<uInt>(std::min<size_t>(n, UINT_MAX)); }

class StageBase : public CodecStage {
 public:
  const std::string& error() const override { return error_; }
  uint64_t trailing_bytes() const override { return trailing_; }

 protected:
  Step fail(std::string msg) {
    error_ = std::move(msg);
    return Step{0, 0, Status::kError};
  }
  Step ignore_trailing(std::span<const uint8_t> in) {
    trailing_ += in.size();
    return Step{in.size(), 0, Status::kOk};
  }

  std::string error_;
  uint64_t trailing_ = 0;
};

// gzip and deflate. "deflate" is specified as the zlib format (RFC 1950), but servers have
// long sent raw RFC 1951 data under that name; the first two bytes tell them apart.
class ZlibStage final : public StageBase {
 public:
  explicit ZlibStage(ContentCoding coding) : gzip_(coding == ContentCoding::kGzip) {}
  ~ZlibStage() override {
    if (initialized_) inflateEnd(&zs_);
  }
  ZlibStage(const ZlibStage&) = delete;
  ZlibStage& operator=(const ZlibStage&) = delete;

  Step step(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    if (!error_.empty()) return Step{0, 0, Status::kError};
    size_t consumed = 0;
    size_t produced = 0;
    if (!initialized_) {
      const size_t need = gzip_ ? 0 : 2 - sniff_len_;
      const size_t n = std::min(need, in.size());
      std::copy_n(in.begin(), n, sniff_ + sniff_len_);
      sniff_len_ += n;
      consumed = n;
      if (!gzip_ && sniff_len_ < 2) return Step{consumed, 0, Status::kOk};
      // gzip: 32 + 15 also accepts a zlib wrapper, which some servers mislabel as gzip.
      const int window_bits = gzip_ ? 32 + MAX_WBITS : (looks_like_zlib() ? MAX_WBITS : -MAX_WBITS);
      if (inflateInit2(&zs_, window_bits) != Z_OK) return fail("zlib: init failed");
      initialized_ = true;
      if (sniff_len_ > 0) {
        // Two bytes never fill a fresh output buffer, so they are always fully consumed.
        Step s = inflate_some(std::span<const uint8_t>(sniff_, sniff_len_), out);
        if (s.status == Status::kError) return s;
        produced = s.produced;
        out = out.subspan(produced);
      }
      in = in.subspan(n);
    }
    if (in.empty() || out.empty()) return Step{consumed, produced, Status::kOk};
    Step s = inflate_some(in, out);
    s.consumed += consumed;
    s.produced += produced;
    return s;
  }

  bool finished() const override { return ended_; }

 private:
  bool looks_like_zlib() const {
    const unsigned cmf = sniff_[0];
    const unsigned flg = sniff_[1];
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
  }

  Step inflate_some(std::span<const uint8_t> in, std::span<uint8_t> out) {
    if (ended_) {
      // A gzip body may be several concatenated members (RFC 1952 §2.2).
      if (!gzip_ || in.empty() || in[0] != 0x1f) return ignore_trailing(in);
      if (inflateReset(&zs_) != Z_OK) return fail("gzip: reset failed");
      ended_ = false;
    }
    zs_.next_in = const_cast<Bytef*>(in.data());
    zs_.avail_in = clamp_uint(in.size());
    zs_.next_out = out.data();
    zs_.avail_out = clamp_uint(out.size());
    const uInt avail_in = zs_.avail_in;
    const uInt avail_out = zs_.avail_out;
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    Step s{avail_in - zs_.avail_in, avail_out - zs_.avail_out, Status::kOk};
    switch (rc) {
      case Z_OK:
      case Z_BUF_ERROR:  // no progress possible right now: needs input or room
        return s;
      case Z_STREAM_END:
        ended_ = true;
        return s;
      default:
        error_ = std::string(gzip_ ? "gzip: " : "deflate: ") + (zs_.msg ? zs_.msg : "invalid data");
        s.status = Status::kError;
        return s;
    }
  }

  bool gzip_;
  z_stream zs_{};
  bool initialized_ = false;
  bool ended_ = false;
  uint8_t sniff_[2] = {0, 0};
  size_t sniff_len_ = 0;
};

class BrotliStage final : public StageBase {
 public:
  explicit BrotliStage(uint32_t owner)
      : st_(BrotliDecoderCreateInstance(budget_alloc, budget_free, owner_opaque(owner))) {}
  ~BrotliStage() override {
    if (st_) BrotliDecoderDestroyInstance(st_);
  }
  BrotliStage(const BrotliStage&) = delete;
  BrotliStage& operator=(const BrotliStage&) = delete;

  Step step(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    if (!error_.empty()) return Step{0, 0, Status::kError};
    if (!st_) return fail("br: no memory for a decoder (decode memory budget)");
    if (ended_) return ignore_trailing(in);
    size_t avail_in = in.size();
    const uint8_t* next_in = in.data();
    size_t avail_out = out.size();
    uint8_t* next_out = out.data();
    const BrotliDecoderResult r =
        BrotliDecoderDecompressStream(st_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    Step s{in.size() - avail_in, out.size() - avail_out, Status::kOk};
    if (r == BROTLI_DECODER_RESULT_SUCCESS) {
      ended_ = true;
    } else if (r == BROTLI_DECODER_RESULT_ERROR) {
      error_ = std::string("br: ") + BrotliDecoderErrorString(BrotliDecoderGetErrorCode(st_));
      s.status = Status::kError;
    }
    return s;
  }

  bool finished() const override { return ended_; }

 private:
  BrotliDecoderState* st_;
  bool ended_ = false;
};

class ZstdStage final : public StageBase {
 public:
  explicit ZstdStage(uint32_t owner)
      : dctx_(ZSTD_createDCtx_advanced(ZSTD_customMem{budget_alloc, budget_free, owner_opaque(owner)})) {
    if (dctx_) ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  }
  ~ZstdStage() override { ZSTD_freeDCtx(dctx_); }
  ZstdStage(const ZstdStage&) = delete;
  ZstdStage& operator=(const ZstdStage&) = delete;

  Step step(std::span<const uint8_t> in, std::span<uint8_t> out) override {
    if (!error_.empty()) return Step{0, 0, Status::kError};
    if (!dctx_) return fail("zstd: no memory for a decoder (decode memory budget)");
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    const size_t r = ZSTD_decompressStream(dctx_, &ob, &ib);
    Step s{ib.pos, ob.pos, Status::kOk};
    if (ZSTD_isError(r)) {
      error_ = std::string("zstd: ") + ZSTD_getErrorName(r);
      s.status = Status::kError;
      return s;
    }
    // 0: a frame ended and everything is flushed; consecutive frames simply continue.
    if (ib.pos > 0 || ob.pos > 0) frame_done_ = (r == 0);
    return s;
  }

  bool finished() const override { return frame_done_; }

 private:
  ZSTD_DCtx* dctx_;
  bool frame_done_ = false;
};

}  // namespace

std::optional<ContentCoding> content_coding_from_token(std::string_view token) {
  if (token == "gzip" || token == "x-gzip") return ContentCoding::kGzip;
  if (token == "deflate") return ContentCoding::kDeflate;
  if (token == "br") return ContentCoding::kBrotli;
  if (token == "zstd") return ContentCoding::kZstd;
  return std::nullopt;
}

const char* content_coding_name(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::kGzip: return "gzip";
    case ContentCoding::kDeflate: return "deflate";
    case ContentCoding::kBrotli: return "br";
    case ContentCoding::kZstd: return "zstd";
  }
  return "?";
}

std::unique_ptr<CodecStage> make_codec_stage(ContentCoding coding, uint32_t budget_owner) {
  switch (coding) {
    case ContentCoding::kGzip:
    case ContentCoding::kDeflate:
      return std::make_unique<ZlibStage>(coding);
    case ContentCoding::kBrotli:
      return std::make_unique<BrotliStage>(budget_owner);
    case ContentCoding::kZstd:
      return std::make_unique<ZstdStage>(budget_owner);
  }
  return nullptr;
}

}  // namespace rein::proto
