// rustls on aws-lc's AES-NI path (CPUs without AVX-512) opens each TLS record partly in C,
// so no hook sees its plaintext come out: the kernel sends the record's key material
// (REIN_REC_CIPHER_KEY) and then its ciphertext and tag (REIN_REC_DATA with REIN_DF_CIPHER),
// and this opens the record here, checking its tag, into the plaintext REIN_REC_DATA records
// the AVX-512 path would have sent. It sits right after the ring buffers: the pipeline and
// the capture only ever see plaintext, and no key outlives the record it opens.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace rein::source {

class CipherRecords {
 public:
  using Out = std::function<void(std::span<const uint8_t>)>;
  CipherRecords();
  ~CipherRecords();
  CipherRecords(const CipherRecords&) = delete;
  CipherRecords& operator=(const CipherRecords&) = delete;

  // Hands `rec` to `out` unchanged, or keeps it (a key, a ciphertext chunk) and hands on
  // the record's plaintext once the whole record is in.
  void feed(std::span<const uint8_t> rec, const Out& out);

  struct Stats {
    uint64_t opened = 0;        // records whose tag checked, application data handed on
    uint64_t not_app_data = 0;  // opened, but a handshake message or an alert: dropped
    uint64_t failed = 0;        // the tag did not check (or an unknown key size): dropped
    uint64_t lost = 0;          // the ciphertext did not all arrive (ring or budget drops)
  };
  const Stats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein::source
