#include "proto/content_decoder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "compression_test_util.h"

namespace {

using rein::proto::ContentDecoder;
using rein::proto::ContentDecoderLimits;
using rein::proto::parse_coding_list;
using namespace rein::testutil;

// Feeds `encoded` in slices of `slice` bytes and returns the decoded body.
std::string decode(ContentDecoder& d, const std::string& encoded, size_t slice) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += slice)
    d.feed(bytes(std::string_view(encoded).substr(i, slice)), out);
  d.finish();
  return out;
}

struct Case {
  const char* coding;
  std::string (*encode)(std::string_view);
};

std::string enc_gzip(std::string_view s) { return gzip(s); }
std::string enc_zlib(std::string_view s) { return zlib_wrap(s); }
std::string enc_raw(std::string_view s) { return raw_deflate(s); }
std::string enc_br(std::string_view s) { return brotli(s); }
std::string enc_zstd(std::string_view s) { return zstd(s); }

TEST(ProtoContentDecoder, EachCodingRoundTripsAtAnySliceSize) {
  const std::string body = sample_text(200'000, 7);
  const Case cases[] = {{"gzip", enc_gzip}, {"deflate", enc_zlib}, {"deflate", enc_raw},
                        {"br", enc_br},     {"zstd", enc_zstd},    {"x-gzip", enc_gzip}};
  for (const auto& c : cases) {
    const std::string encoded = c.encode(body);
    ASSERT_LT(encoded.size(), body.size()) << c.coding;
    for (size_t slice : {size_t{1}, size_t{7}, size_t{4096}, encoded.size()}) {
      if (slice == 1 && encoded.size() > 50'000) continue;
      ContentDecoder d(parse_coding_list(c.coding));
      EXPECT_TRUE(decode(d, encoded, slice) == body) << c.coding << " slice " << slice;
      EXPECT_TRUE(d.error().empty()) << c.coding << ": " << d.error();
      EXPECT_FALSE(d.truncated());
      EXPECT_FALSE(d.identity());
      EXPECT_EQ(d.input_bytes(), encoded.size());
      EXPECT_EQ(d.output_bytes(), body.size());
    }
  }
}

TEST(ProtoContentDecoder, ByteAtATimeSmallBodies) {
  const std::string body = "{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":12}}";
  for (const char* coding : {"gzip", "deflate", "br", "zstd"}) {
    std::string encoded;
    if (std::string_view(coding) == "gzip") encoded = gzip(body);
    if (std::string_view(coding) == "deflate") encoded = zlib_wrap(body);
    if (std::string_view(coding) == "br") encoded = brotli(body);
    if (std::string_view(coding) == "zstd") encoded = zstd(body);
    ContentDecoder d(parse_coding_list(coding));
    EXPECT_EQ(decode(d, encoded, 1), body) << coding;
    EXPECT_EQ(d.error(), "") << coding;
  }
}

TEST(ProtoContentDecoder, StackedCodingsAreUndoneInReverse) {
  const std::string body = sample_text(50'000, 3);
  // "gzip, br": gzip was applied first, then br.
  const std::string encoded = brotli(gzip(body));
  for (size_t slice : {size_t{3}, size_t{1000}, encoded.size()}) {
    ContentDecoder d(parse_coding_list("gzip, br"));
    EXPECT_TRUE(decode(d, encoded, slice) == body) << slice;
    EXPECT_EQ(d.error(), "");
  }
  ContentDecoder wrong_order(parse_coding_list("br, gzip"));
  decode(wrong_order, encoded, 4096);
  EXPECT_NE(wrong_order.error(), "");
}

TEST(ProtoContentDecoder, CodingListParsing) {
  EXPECT_EQ(parse_coding_list(" GZIP ,, identity,br "), (std::vector<std::string>{"gzip", "br"}));
  EXPECT_TRUE(parse_coding_list("").empty());
  EXPECT_TRUE(parse_coding_list("identity").empty());
  ContentDecoder d(parse_coding_list("identity"));
  EXPECT_TRUE(d.identity());
  EXPECT_EQ(decode(d, "plain", 2), "plain");
}

TEST(ProtoContentDecoder, UnknownCodingPassesBodyThroughWithError) {
  ContentDecoder d(parse_coding_list("compress"));
  EXPECT_TRUE(d.passthrough());
  EXPECT_EQ(decode(d, "raw bytes", 4), "raw bytes");
  EXPECT_EQ(d.error(), "unsupported content-encoding: compress");
  ContentDecoder hostile(std::vector<std::string>{std::string("x\x01y")});
  EXPECT_EQ(hostile.error(), "unsupported content-encoding: (unprintable)");
}

TEST(ProtoContentDecoder, TooManyLayersAreRefused) {
  ContentDecoder d(parse_coding_list("gzip,gzip,gzip,gzip,gzip"));
  EXPECT_TRUE(d.passthrough());
  EXPECT_EQ(d.error(), "too many content codings");
}

TEST(ProtoContentDecoder, GzipBombStopsAtTheCapQuickly) {
  const std::string bomb = gzip_zeros(size_t{100} << 20);  // 100 MiB of zeros
  ASSERT_LT(bomb.size(), size_t{200} << 10);
  ContentDecoder d(parse_coding_list("gzip"));
  const auto start = std::chrono::steady_clock::now();
  std::string out;
  for (size_t i = 0; i < bomb.size(); i += 16384)
    d.feed(bytes(std::string_view(bomb).substr(i, 16384)), out);
  d.finish();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(out.size(), ContentDecoderLimits{}.max_output);
  EXPECT_EQ(out.find_first_not_of('\0'), std::string::npos);
  EXPECT_TRUE(d.truncated());
  EXPECT_EQ(d.error(), "decompression bound");
  EXPECT_LT(elapsed, std::chrono::seconds(10));  // generous for sanitizer builds
}

TEST(ProtoContentDecoder, RatioBoundStopsBeforeTheCap) {
  ContentDecoderLimits lim;
  lim.max_output = 64 << 20;
  lim.max_ratio = 10;
  lim.ratio_slack = 1000;
  const std::string encoded = gzip(std::string(1 << 20, 'z'));  // ~1000:1
  ContentDecoder d(parse_coding_list("gzip"), lim);
  const std::string out = decode(d, encoded, encoded.size());
  EXPECT_EQ(out.size(), encoded.size() * 10 + 1000);
  EXPECT_TRUE(d.truncated());
  EXPECT_EQ(d.error(), "decompression bound");
}

TEST(ProtoContentDecoder, BoundAppliesInsideStackedLayers) {
  ContentDecoderLimits lim;
  lim.max_output = 100'000;
  const std::string encoded = zstd(gzip_zeros(size_t{20} << 20));
  ContentDecoder d(parse_coding_list("gzip, zstd"), lim);
  const std::string out = decode(d, encoded, 1000);
  EXPECT_EQ(out.size(), lim.max_output);
  EXPECT_TRUE(d.truncated());
  EXPECT_EQ(d.error(), "decompression bound");
}

TEST(ProtoContentDecoder, IdentityBodyIsCappedWithoutError) {
  ContentDecoderLimits lim;
  lim.max_output = 10;
  ContentDecoder d({}, lim);
  const std::string out = decode(d, "0123456789abcdef", 3);
  EXPECT_EQ(out, "0123456789");
  EXPECT_TRUE(d.truncated());
  EXPECT_EQ(d.error(), "");
  EXPECT_EQ(d.input_bytes(), 16u);
}

TEST(ProtoContentDecoder, CorruptDataKeepsDecodedPrefix) {
  const std::string body = sample_text(100'000, 9);
  std::string encoded = gzip(body);
  // Corrupt the deflate data well past the start.
  for (size_t i = encoded.size() / 2; i < encoded.size() / 2 + 64; ++i) encoded[i] ^= 0x5a;
  ContentDecoder d(parse_coding_list("gzip"));
  const std::string out = decode(d, encoded, 512);
  // Deflate may turn corrupt input into garbage before noticing; the gzip CRC catches it at
  // the latest. What came before the damage must be intact.
  EXPECT_EQ(d.error().rfind("gzip: ", 0), 0u) << d.error();
  ASSERT_GT(out.size(), body.size() / 5);
  EXPECT_TRUE(out.substr(0, body.size() / 5) == body.substr(0, body.size() / 5));
}

TEST(ProtoContentDecoder, GarbageInputFailsForEveryCoding) {
  const std::string junk = "this is definitely not compressed data at all, not even close";
  for (const char* coding : {"gzip", "deflate", "br", "zstd"}) {
    ContentDecoder d(parse_coding_list(coding));
    decode(d, junk, 5);
    EXPECT_NE(d.error(), "") << coding;
  }
}

TEST(ProtoContentDecoder, CutStreamIsReportedAtFinish) {
  const std::string body = sample_text(30'000, 2);
  for (const char* coding : {"gzip", "br", "zstd"}) {
    std::string encoded = std::string_view(coding) == "gzip" ? gzip(body)
                          : std::string_view(coding) == "br" ? brotli(body)
                                                             : zstd(body);
    encoded.resize(encoded.size() / 2);
    ContentDecoder d(parse_coding_list(coding));
    const std::string out = decode(d, encoded, 100);
    EXPECT_EQ(d.error(), std::string(coding) + ": stream ended early");
    EXPECT_TRUE(out == body.substr(0, out.size())) << coding;
  }
}

TEST(ProtoContentDecoder, GapStopsCompressedButNotIdentity) {
  const std::string encoded = gzip(sample_text(5000));
  ContentDecoder d(parse_coding_list("gzip"));
  std::string out;
  d.feed(bytes(std::string_view(encoded).substr(0, 100)), out);
  d.input_gap();
  d.feed(bytes(std::string_view(encoded).substr(200)), out);
  d.finish();
  EXPECT_EQ(d.error(), "gap in encoded body");
  ContentDecoder plain({});
  std::string p;
  plain.feed(bytes("abc"), p);
  plain.input_gap();
  plain.feed(bytes("def"), p);
  EXPECT_EQ(p, "abcdef");
  EXPECT_EQ(plain.error(), "");
}

TEST(ProtoContentDecoder, ConcatenatedGzipMembersAndZstdFrames) {
  ContentDecoder g(parse_coding_list("gzip"));
  EXPECT_EQ(decode(g, gzip("first,") + gzip("second"), 3), "first,second");
  EXPECT_EQ(g.error(), "");
  ContentDecoder z(parse_coding_list("zstd"));
  EXPECT_EQ(decode(z, zstd("alpha ") + zstd("beta"), 2), "alpha beta");
  EXPECT_EQ(z.error(), "");
}

TEST(ProtoContentDecoder, EmptyEncodedBodyIsNotAnError) {
  ContentDecoder d(parse_coding_list("gzip"));
  d.finish();
  EXPECT_EQ(d.error(), "");
  EXPECT_EQ(d.output_bytes(), 0u);
}

TEST(ProtoContentDecoder, ZstdWindowAboveEightMiBIsRefused) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ASSERT_NE(cctx, nullptr);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 26);
  const std::string src = sample_text(1 << 16);
  std::string out(ZSTD_compressBound(src.size()) + 64, '\0');
  // Streaming with the size unknown up front keeps the declared 64 MiB window.
  ZSTD_inBuffer in{src.data(), src.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_continue);
  size_t rc;
  do {
    rc = ZSTD_compressStream2(cctx, &ob, &in, ZSTD_e_end);
    ASSERT_FALSE(ZSTD_isError(rc));
  } while (rc != 0);
  out.resize(ob.pos);
  ZSTD_freeCCtx(cctx);
  ContentDecoder d(parse_coding_list("zstd"));
  decode(d, out, 4096);
  EXPECT_NE(d.error().find("zstd: "), std::string::npos);
}

}  // namespace
