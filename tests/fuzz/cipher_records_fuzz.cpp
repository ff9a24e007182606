// Records as the payload ring could hand them to source::CipherRecords (key records and
// ciphertext chunks whose lengths, offsets and keys lie): none may crash or grow state
// without bound, and whatever it hands on is either an input record unchanged or a
// plaintext data record whose header agrees with its length. Input: records framed as
// [u16 length][bytes]; a record's first byte, when it is 1 or 2, is replaced by a valid
// header of a key record or a ciphertext chunk (current ABI, honest size) so the checks
// behind the header are reached; a key record names one of the ciphers the kernel sends
// (AES-128/192/256-GCM, ChaCha20-Poly1305) unless its `rounds` has the top bit set.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "rein/abi/events.h"
#include "source/cipher_records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rein::source::CipherRecords cr;
  std::vector<uint8_t> rec;
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t n = std::min<size_t>(size_t(data[at]) | size_t(data[at + 1]) << 8, size - at - 2);
    rec.assign(data + at + 2, data + at + 2 + n);
    at += 2 + n;
    if (!rec.empty() && (rec[0] == 1 || rec[0] == 2)) {
      const bool key = rec[0] == 1;
      const size_t want = key ? sizeof(rein_cipher_key) : sizeof(rein_data);
      if (rec.size() < want) rec.resize(want);
      rein_hdr h{};
      std::memcpy(&h, rec.data(), sizeof(h));
      h.kind = key ? REIN_REC_CIPHER_KEY : REIN_REC_DATA;
      h.abi = REIN_ABI_VERSION;
      h.size = uint32_t(rec.size());
      std::memcpy(rec.data(), &h, sizeof(h));
      if (key) {  // the ciphers the kernel names, mostly; any other value now and then
        rein_cipher_key k{};
        std::memcpy(&k, rec.data(), sizeof(k));
        static constexpr uint32_t kCiphers[] = {9, 11, 13, REIN_CIPHER_CHACHA20_POLY1305};
        if (!(k.rounds & 0x80000000u)) k.rounds = kCiphers[k.rounds % 4];
        std::memcpy(rec.data(), &k, sizeof(k));
      } else {
        rein_data d{};
        std::memcpy(&d, rec.data(), sizeof(d));
        d.flags |= REIN_DF_CIPHER;
        d.len = uint32_t(rec.size() - sizeof(d));
        std::memcpy(rec.data(), &d, sizeof(d));
      }
    }
    const std::vector<uint8_t> in = rec;
    cr.feed(rec, [&](std::span<const uint8_t> out) {
      if (out.size() == in.size() && (in.empty() || std::memcmp(out.data(), in.data(), in.size()) == 0))
        return;
      rein_data d{};
      if (out.size() < sizeof(d)) std::abort();
      std::memcpy(&d, out.data(), sizeof(d));
      if (d.h.kind != REIN_REC_DATA || d.h.size != out.size() || d.len + sizeof(d) != out.size() ||
          (d.flags & REIN_DF_CIPHER) || d.len > REIN_DATA_CHUNK)
        std::abort();
    });
  }
  return 0;
}
