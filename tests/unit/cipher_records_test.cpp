// Records of rustls on aws-lc's AES-NI path reach user space as a key record and the
// record's ciphertext and tag (source/cipher_records.h): here they are made with OpenSSL as
// a TLS 1.3 server would seal them, and what comes out must be the plaintext records the
// AVX-512 path sends, at the stream offsets it would have, with no key in any of it.
#include "source/cipher_records.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstring>
#include <string>
#include <vector>

#include "rein/abi/events.h"

namespace rein::source {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint32_t kTgid = 4242;
constexpr uint64_t kConn = 0xffff888012345678ULL;

struct Key {
  uint8_t key[32];
  uint8_t nonce[12];
  uint32_t rounds = 13;  // AES-256 as aws-lc's AES-NI key schedule stores it
};

Key make_key(uint8_t seed, uint32_t rounds = 13) {
  Key k;
  for (int i = 0; i < 32; i++) k.key[i] = uint8_t(seed * 7 + i);
  for (int i = 0; i < 12; i++) k.nonce[i] = uint8_t(seed + 3 * i);
  k.rounds = rounds;
  return k;
}

// TLS 1.3 seals `inner` (content, type, padding): header, then ciphertext and tag.
Bytes seal(const Key& k, const Bytes& inner, uint8_t header[5]) {
  const uint32_t len = uint32_t(inner.size() + 16);
  header[0] = 0x17;
  header[1] = header[2] = 3;
  header[3] = uint8_t(len >> 8);
  header[4] = uint8_t(len);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  const EVP_CIPHER* cipher = k.rounds == REIN_CIPHER_CHACHA20_POLY1305 ? EVP_chacha20_poly1305()
                             : k.rounds == 9                            ? EVP_aes_128_gcm()
                                                                        : EVP_aes_256_gcm();
  Bytes out(inner.size() + 16);
  int n = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(c, cipher, nullptr, k.key, k.nonce), 1);
  EXPECT_EQ(EVP_EncryptUpdate(c, nullptr, &n, header, 5), 1);
  EXPECT_EQ(EVP_EncryptUpdate(c, out.data(), &n, inner.data(), int(inner.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(c, out.data() + n, &n), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + inner.size()), 1);
  EVP_CIPHER_CTX_free(c);
  return out;
}

rein_hdr hdr(uint16_t kind, size_t size) {
  rein_hdr h{};
  h.kind = kind;
  h.abi = REIN_ABI_VERSION;
  h.size = uint32_t(size);
  h.tgid = kTgid;
  h.pid = kTgid;
  return h;
}

Bytes key_record(const Key& k, const uint8_t header[5], uint64_t offset, uint32_t record_len) {
  rein_cipher_key r{};
  r.h = hdr(REIN_REC_CIPHER_KEY, sizeof(r));
  r.conn = kConn;
  r.offset = offset;
  r.record_len = record_len;
  r.rounds = k.rounds;
  std::memcpy(r.key, k.key, 32);
  std::memcpy(r.nonce, k.nonce, 12);
  std::memcpy(r.header, header, 5);
  Bytes b(sizeof(r));
  std::memcpy(b.data(), &r, sizeof(r));
  return b;
}

Bytes data_record(const Bytes& tail, uint64_t offset, uint16_t flags) {
  rein_data d{};
  d.h = hdr(REIN_REC_DATA, sizeof(d) + tail.size());
  d.conn = kConn;
  d.offset = offset;
  d.len = uint32_t(tail.size());
  d.call_len = d.len;
  d.fd = 7;
  d.dir = REIN_DIR_INGRESS;
  d.source = REIN_SRC_RUSTLS;
  d.flags = flags;
  Bytes b(sizeof(d) + tail.size());
  std::memcpy(b.data(), &d, sizeof(d));
  std::memcpy(b.data() + sizeof(d), tail.data(), tail.size());
  return b;
}

struct Got {
  rein_data d;
  std::string text;
};

struct Harness {
  CipherRecords cr;
  std::vector<Bytes> raw;  // everything handed on, as bytes
  std::vector<Got> got;
  uint64_t bpf_offset = 0;  // where the kernel's stream offset stands
  void feed(const Bytes& rec) {
    cr.feed(rec, [&](std::span<const uint8_t> b) {
      raw.emplace_back(b.begin(), b.end());
      if (b.size() < sizeof(rein_data)) return;
      Got g{};
      std::memcpy(&g.d, b.data(), sizeof(g.d));
      g.text.assign(reinterpret_cast<const char*>(b.data()) + sizeof(g.d), b.size() - sizeof(g.d));
      got.push_back(g);
    });
  }
  // One record as the kernel sends it: the key, then the ciphertext in `chunks` pieces.
  void record(const Key& k, const Bytes& inner, size_t chunks = 1, bool tamper = false,
              bool drop_last_chunk = false, uint16_t extra = 0) {
    uint8_t header[5];
    Bytes ct = seal(k, inner, header);
    if (tamper) ct[ct.size() / 2] ^= 1;
    feed(key_record(k, header, bpf_offset, uint32_t(ct.size())));
    const size_t step = (ct.size() + chunks - 1) / chunks;
    for (size_t at = 0, i = 0; at < ct.size(); at += step, i++) {
      const size_t n = std::min(step, ct.size() - at);
      if (drop_last_chunk && at + n == ct.size()) break;
      feed(data_record(Bytes(ct.begin() + long(at), ct.begin() + long(at + n)), bpf_offset + at,
                       uint16_t(REIN_DF_CIPHER | (i == 0 ? extra : 0))));
    }
    bpf_offset += ct.size();  // the kernel advanced by the whole record
  }
};

Bytes inner(const std::string& s, uint8_t type = 0x17, size_t padding = 0) {
  Bytes b(s.begin(), s.end());
  b.push_back(type);
  b.insert(b.end(), padding, 0);
  return b;
}

TEST(CipherRecords, OpensRecordsIntoThePlaintextStream) {
  Harness h;
  const Key k = make_key(1);
  h.record(k, inner("", 0x16));                  // a NewSessionTicket-like handshake record
  h.record(k, inner("HTTP/1.1 200 OK\r\n"), 2);  // split over two chunks
  h.record(k, inner(std::string(40000 / 3, 'x')), 3);
  h.record(k, inner("data: {}\n\n", 0x17, 5));  // padded
  ASSERT_EQ(h.got.size(), 3u);
  EXPECT_EQ(h.got[0].text, "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(h.got[0].d.offset, 0u);  // the handshake record gave nothing, and no gap
  EXPECT_EQ(h.got[1].text, std::string(40000 / 3, 'x'));
  EXPECT_EQ(h.got[1].d.offset, 17u);
  EXPECT_EQ(h.got[2].text, "data: {}\n\n");
  EXPECT_EQ(h.got[2].d.offset, 17u + 40000 / 3);
  for (const auto& g : h.got) {
    EXPECT_EQ(g.d.h.kind, REIN_REC_DATA);
    EXPECT_EQ(g.d.h.size, sizeof(rein_data) + g.text.size());
    EXPECT_EQ(g.d.len, g.text.size());
    EXPECT_EQ(g.d.call_len, g.text.size());
    EXPECT_EQ(g.d.flags & REIN_DF_CIPHER, 0);
    EXPECT_EQ(g.d.conn, kConn);
    EXPECT_EQ(g.d.fd, 7);
    EXPECT_EQ(g.d.source, REIN_SRC_RUSTLS);
  }
  const auto& s = h.cr.stats();
  EXPECT_EQ(s.opened, 3u);
  EXPECT_EQ(s.not_app_data, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.lost, 0u);
}

TEST(CipherRecords, NoKeyIsHandedOn) {
  Harness h;
  const Key k = make_key(9);
  h.record(k, inner("hello"));
  h.record(k, inner("world"), 1, true);  // fails its tag
  for (const auto& b : h.raw) {
    const std::string s(b.begin(), b.end());
    EXPECT_EQ(s.find(std::string(reinterpret_cast<const char*>(k.key), 16)), std::string::npos);
    rein_hdr x{};
    std::memcpy(&x, b.data(), sizeof(x));
    EXPECT_NE(x.kind, REIN_REC_CIPHER_KEY);
  }
}

TEST(CipherRecords, WhatCannotBeOpenedIsAGap) {
  Harness h;
  const Key k = make_key(2);
  h.record(k, inner("first"));
  h.record(k, inner("tampered"), 1, true);           // the tag does not check
  h.record(k, inner("incomplete"), 2, false, true);  // its last chunk never came
  h.record(k, inner("after"));
  ASSERT_EQ(h.got.size(), 2u);
  EXPECT_EQ(h.got[0].text, "first");
  EXPECT_EQ(h.got[1].text, "after");
  // the two lost records are a gap of their plaintext's length, as if sent and not copied
  EXPECT_EQ(h.got[1].d.offset, 5u + 8u + 10u);
  EXPECT_EQ(h.cr.stats().failed, 1u);
  EXPECT_EQ(h.cr.stats().lost, 1u);
}

// A record sealed under `k` whose key record names the cipher `rounds` instead: it is not
// opened, and counts as failed.
void expect_not_opened(const Key& k, uint32_t rounds) {
  Harness h;
  uint8_t header[5];
  Bytes ct = seal(k, inner("x"), header);
  Key named = k;
  named.rounds = rounds;
  h.feed(key_record(named, header, 0, uint32_t(ct.size())));
  h.feed(data_record(ct, 0, REIN_DF_CIPHER));
  EXPECT_TRUE(h.got.empty());
  EXPECT_EQ(h.cr.stats().failed, 1u);
}

TEST(CipherRecords, Aes128AndUnknownKeySizes) {
  Harness h;
  h.record(make_key(3, 9), inner("aes-128"));
  ASSERT_EQ(h.got.size(), 1u);
  EXPECT_EQ(h.got[0].text, "aes-128");
  expect_not_opened(make_key(4, 13), 7);  // no AES key size
}

// aws-lc's ChaCha20-Poly1305 open: the same key record with the cipher named in `rounds`.
TEST(CipherRecords, OpensChacha20Poly1305Records) {
  Harness h;
  const Key k = make_key(5, REIN_CIPHER_CHACHA20_POLY1305);
  h.record(k, inner("HTTP/1.1 200 OK\r\n"), 2);
  h.record(k, inner("tampered"), 1, true);
  h.record(k, inner(std::string(16000, 'c'), 0x17, 3));
  ASSERT_EQ(h.got.size(), 2u);
  EXPECT_EQ(h.got[0].text, "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(h.got[1].text, std::string(16000, 'c'));
  EXPECT_EQ(h.got[1].d.offset, 17u + 8u);  // the tampered record is a gap of its length
  EXPECT_EQ(h.cr.stats().opened, 2u);
  EXPECT_EQ(h.cr.stats().failed, 1u);
  // under AES-GCM the same key and nonce do not open it: the cipher comes from the record
  expect_not_opened(k, 13);
}

TEST(CipherRecords, OtherRecordsPassUnchangedAndANewConnectionRestarts) {
  Harness h;
  const Bytes plain = data_record(Bytes{'h', 'i'}, 0, 0);
  h.feed(plain);
  ASSERT_EQ(h.raw.size(), 1u);
  EXPECT_EQ(h.raw[0], plain);
  const Key k = make_key(5);
  h.record(k, inner("", 0x16));  // skipped: later offsets move back by its length
  // the kernel started the stream afresh (its offsets from 0): nothing to move back by
  h.bpf_offset = 0;
  h.record(k, inner("new"), 1, false, false, REIN_DF_NEW_CONN);
  ASSERT_EQ(h.got.size(), 2u);
  EXPECT_EQ(h.got[1].text, "new");
  EXPECT_EQ(h.got[1].d.offset, 0u);
  EXPECT_NE(h.got[1].d.flags & REIN_DF_NEW_CONN, 0);
}

TEST(CipherRecords, MalformedInputIsDropped) {
  Harness h;
  Bytes short_key(sizeof(rein_cipher_key) - 1, 0);
  rein_hdr x = hdr(REIN_REC_CIPHER_KEY, short_key.size());
  std::memcpy(short_key.data(), &x, sizeof(x));
  h.feed(short_key);
  Bytes other_abi = short_key;
  other_abi.resize(sizeof(rein_cipher_key));
  x.abi = REIN_ABI_VERSION + 1;
  x.size = uint32_t(other_abi.size());
  std::memcpy(other_abi.data(), &x, sizeof(x));
  h.feed(other_abi);  // a key record of another ABI is not passed on either
  Bytes liar = data_record(Bytes(10, 1), 0, REIN_DF_CIPHER);
  rein_data d{};
  std::memcpy(&d, liar.data(), sizeof(d));
  d.len = 1000;  // more than the record holds
  std::memcpy(liar.data(), &d, sizeof(d));
  h.feed(liar);
  h.feed(data_record(Bytes(10, 1), 0, REIN_DF_CIPHER));  // ciphertext with no key before it
  EXPECT_TRUE(h.raw.empty());
  h.feed(Bytes{1, 2, 3});  // shorter than a header: not ours to judge
  EXPECT_EQ(h.raw.size(), 1u);
}

}  // namespace
}  // namespace rein::source
