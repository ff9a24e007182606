// Encoders for building compressed HTTP bodies inside tests (zlib, libbrotlienc, libzstd).
// Test-only: aborts the test on library failure.
#pragma once
#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rein::testutil {

// window_bits: 15 + 16 gzip, 15 zlib, -15 raw deflate.
inline std::string deflate_with(std::string_view in, int window_bits, int level = 6) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string gzip(std::string_view in, int level = 6) { return deflate_with(in, 15 + 16, level); }
inline std::string zlib_wrap(std::string_view in) { return deflate_with(in, 15); }
inline std::string raw_deflate(std::string_view in) { return deflate_with(in, -15); }

// Zeros compressed without materialising them: for decompression-bomb inputs.
inline std::string gzip_zeros(size_t count) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string block(1 << 20, '\0');
  std::string out;
  std::string buf(1 << 16, '\0');
  size_t left = count;
  while (true) {
    const size_t n = std::min(left, block.size());
    left -= n;
    zs.next_in = reinterpret_cast<Bytef*>(block.data());
    zs.avail_in = static_cast<uInt>(n);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&zs, flush);
      out.append(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    if (left == 0) break;
  }
  deflateEnd(&zs);
  return out;
}

inline std::string brotli(std::string_view in, int quality = 5) {
  size_t size = BrotliEncoderMaxCompressedSize(in.size());
  if (size == 0) size = in.size() + 1024;
  std::string out(size, '\0');
  EXPECT_EQ(BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, in.size(),
                                  reinterpret_cast<const uint8_t*>(in.data()), &size,
                                  reinterpret_cast<uint8_t*>(out.data())),
            BROTLI_TRUE);
  out.resize(size);
  return out;
}

inline std::string zstd(std::string_view in, int level = 3) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

// Brotli with a window of 2^lgwin bytes (what the decoder's ring buffer grows to).
inline std::string brotli_window(std::string_view in, int lgwin) {
  size_t size = BrotliEncoderMaxCompressedSize(in.size());
  std::string out(size, '\0');
  EXPECT_EQ(BrotliEncoderCompress(1, lgwin, BROTLI_MODE_GENERIC, in.size(),
                                  reinterpret_cast<const uint8_t*>(in.data()), &size,
                                  reinterpret_cast<uint8_t*>(out.data())),
            BROTLI_TRUE);
  out.resize(size);
  return out;
}

// zstd with a window of 2^window_log bytes and no content size in the frame header, as a
// streaming encoder writes it (the decoder then keeps the whole window).
inline std::string zstd_window(std::string_view in, int window_log) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::string out(ZSTD_compressBound(in.size()), '\0');
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  const size_t r = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
  EXPECT_EQ(r, 0u);
  ZSTD_freeCCtx(c);
  out.resize(ob.pos);
  return out;
}

inline std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Deterministic, mildly compressible text of `n` bytes.
inline std::string sample_text(size_t n, uint32_t seed = 1) {
  static constexpr std::string_view kWords[] = {"token ", "model ", "usage ", "stream ", "delta ",
                                                "{\"x\":1} ", "\n", "content "};
  std::string s;
  uint32_t x = seed * 2654435761u + 1;
  while (s.size() < n) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s += kWords[x % 8];
    s += static_cast<char>('a' + (x >> 8) % 26);
  }
  s.resize(n);
  return s;
}

}  // namespace rein::testutil
