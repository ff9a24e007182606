#include "source/cipher_records.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "rein/abi/events.h"

namespace rein::source {

namespace {

constexpr size_t kTagBytes = 16;
constexpr size_t kMaxConns = 4096;

// The kernel advanced the stream's offsets by the whole record (ciphertext and tag); the
// plaintext handed on is shorter by the tag, the content type and any padding, and a record
// that is not application data gives none. `skip` is what later offsets move back by.
struct Pending {
  rein_cipher_key key{};
  rein_data first{};  // the first chunk's header: stream, peer, flags
  std::vector<uint8_t> bytes;
  bool have_first = false;
  ~Pending() {
    OPENSSL_cleanse(&key, sizeof(key));
    if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  }
};

struct Stream {
  uint64_t skip = 0;
  std::unique_ptr<Pending> pending;
};

struct ConnKey {
  uint32_t tgid;
  uint64_t conn;
  bool operator==(const ConnKey&) const = default;
};
struct ConnKeyHash {
  size_t operator()(const ConnKey& k) const { return std::hash<uint64_t>()(k.conn * 31 + k.tgid); }
};

const EVP_CIPHER* cipher_for(uint32_t rounds) {
  switch (rounds) {  // aws-lc's AES-NI key schedule stores rounds - 1
    case 9:
      return EVP_aes_128_gcm();
    case 11:
      return EVP_aes_192_gcm();
    case 13:
      return EVP_aes_256_gcm();
    case REIN_CIPHER_CHACHA20_POLY1305:
      return EVP_chacha20_poly1305();
    default:
      return nullptr;
  }
}

}  // namespace

struct CipherRecords::Impl {
  std::unordered_map<ConnKey, Stream, ConnKeyHash> streams;
  Stats stats;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::vector<uint8_t> plain, out_rec;

  ~Impl() { EVP_CIPHER_CTX_free(ctx); }

  Stream& stream(uint32_t tgid, uint64_t conn) {
    if (streams.size() >= kMaxConns && !streams.count({tgid, conn})) streams.erase(streams.begin());
    return streams[{tgid, conn}];
  }

  // A record whose ciphertext did not all come: what it carried is a gap in the stream.
  void lose(Stream& s) {
    if (!s.pending) return;
    stats.lost++;
    s.skip += kTagBytes + 1;  // as if application data: the gap is the plaintext lost
    s.pending.reset();
  }

  bool open(const Pending& p, size_t& plain_len) {
    const EVP_CIPHER* c = cipher_for(p.key.rounds);
    const size_t ct = p.bytes.size() - kTagBytes;
    if (!ctx || !c || ct > size_t(INT32_MAX)) return false;
    plain.resize(ct);
    int n = 0, fin = 0;
    uint8_t key[32];
    std::memcpy(key, p.key.key, sizeof(key));
    bool ok = EVP_CIPHER_CTX_reset(ctx) == 1 &&
              EVP_DecryptInit_ex(ctx, c, nullptr, key, p.key.nonce) == 1 &&
              EVP_DecryptUpdate(ctx, nullptr, &n, p.key.header, sizeof(p.key.header)) == 1 &&
              EVP_DecryptUpdate(ctx, plain.data(), &n, p.bytes.data(), int(ct)) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, int(kTagBytes),
                                  const_cast<uint8_t*>(p.bytes.data() + ct)) == 1 &&
              EVP_DecryptFinal_ex(ctx, plain.data() + n, &fin) == 1;
    OPENSSL_cleanse(key, sizeof(key));
    EVP_CIPHER_CTX_reset(ctx);
    plain_len = ok ? size_t(n + fin) : 0;
    return ok;
  }

  void finish(Stream& s, const Out& out) {
    std::unique_ptr<Pending> p = std::move(s.pending);
    const uint64_t record = p->bytes.size();
    size_t n = 0;
    if (!open(*p, n)) {
      stats.failed++;
      s.skip += kTagBytes + 1;
      OPENSSL_cleanse(plain.data(), plain.size());
      return;
    }
    // TLS 1.3 inner plaintext: content, the content type, zero padding
    while (n > 0 && plain[n - 1] == 0) n--;
    if (n == 0 || plain[n - 1] != 0x17) {
      stats.not_app_data++;
      s.skip += record;
      OPENSSL_cleanse(plain.data(), plain.size());
      return;
    }
    const size_t data = n - 1;
    const uint64_t offset = p->key.offset - s.skip;
    s.skip += record - data;
    stats.opened++;
    for (size_t done = 0; done < data;) {
      const size_t len = std::min<size_t>(data - done, REIN_DATA_CHUNK);
      rein_data d = p->first;
      d.flags &= ~REIN_DF_CIPHER;
      if (done) d.flags &= ~REIN_DF_NEW_CONN;
      d.offset = offset + done;
      d.len = uint32_t(len);
      d.call_len = uint32_t(data);
      d.h.kind = REIN_REC_DATA;
      d.h.size = uint32_t(sizeof(d) + len);
      out_rec.resize(sizeof(d) + len);
      std::memcpy(out_rec.data(), &d, sizeof(d));
      std::memcpy(out_rec.data() + sizeof(d), plain.data() + done, len);
      out(out_rec);
      done += len;
    }
    OPENSSL_cleanse(plain.data(), plain.size());
    OPENSSL_cleanse(out_rec.data(), out_rec.size());
  }

  void feed(std::span<const uint8_t> rec, const Out& out) {
    rein_hdr h{};
    if (rec.size() < sizeof(h)) return out(rec);
    std::memcpy(&h, rec.data(), sizeof(h));
    if (h.kind == REIN_REC_CIPHER_KEY) {  // holds a key: never handed on, whatever its shape
      if (h.abi != REIN_ABI_VERSION || rec.size() != sizeof(rein_cipher_key)) return;
      auto p = std::make_unique<Pending>();
      std::memcpy(&p->key, rec.data(), sizeof(p->key));
      Stream& s = stream(h.tgid, p->key.conn);
      lose(s);
      if (p->key.record_len < kTagBytes + 1 || p->key.record_len > REIN_DATA_CHUNK * 2) return;
      p->bytes.reserve(p->key.record_len);
      s.pending = std::move(p);
      return;
    }
    if (h.kind != REIN_REC_DATA || rec.size() < sizeof(rein_data)) return out(rec);
    rein_data d{};
    std::memcpy(&d, rec.data(), sizeof(d));
    if (!(d.flags & REIN_DF_CIPHER)) return out(rec);
    if (sizeof(d) + d.len != rec.size()) return;  // malformed ciphertext: dropped, not passed on
    Stream& s = stream(h.tgid, d.conn);
    if (d.flags & REIN_DF_NEW_CONN) s.skip = 0;  // the kernel started the stream afresh
    Pending* p = s.pending.get();
    if (!p || d.offset != p->key.offset + p->bytes.size() ||
        p->bytes.size() + d.len > p->key.record_len) {
      lose(s);
      return;
    }
    if (!p->have_first) {
      p->first = d;
      p->have_first = true;
    }
    p->bytes.insert(p->bytes.end(), rec.begin() + sizeof(d), rec.end());
    if (p->bytes.size() == p->key.record_len) finish(s, out);
  }
};

CipherRecords::CipherRecords() : impl_(std::make_unique<Impl>()) {}
CipherRecords::~CipherRecords() = default;

void CipherRecords::feed(std::span<const uint8_t> rec, const Out& out) {
  impl_->feed(rec, out);
}

const CipherRecords::Stats& CipherRecords::stats() const {
  return impl_->stats;
}

}  // namespace rein::source
