// Finds aws-lc's AES-GCM assembly entries (AVX-512, and AES-NI and ChaCha20-Poly1305 next
// to them) in a stripped
// static binary (Codex: Rust,
// rustls on aws-lc-rs), so plaintext can be read at the cipher boundary where no TLS library
// symbol survives. The match is structural (decoded instructions), anchored on .eh_frame
// function starts, and must be unambiguous: a wrong offset would corrupt the target process.
#pragma once
#include <cstdint>
#include <string>

#include "binary/elf_file.h"
#include "common/result.h"

namespace rein::binary {

struct AwsLcGcm {
  // FILE offsets of the AVX-512 GCM encrypt/decrypt entries, 0 = absent. Both take
  // (key, gcm ctx, &partial-block count, in, len, out): rdi, rsi, rdx, rcx, r8, r9.
  uint64_t encrypt_offset = 0, decrypt_offset = 0;
  // aws-lc's AES-NI path (CPUs without AVX-512): the stitched GCM entries
  // aesni_gcm_{en,de}crypt(in, out, len, key, ivec, Xi): rdi, rsi, rdx, rcx, r8, r9. FILE
  // offsets, 0 = not proven. They take only the bulk of a record, C code the rest, but are
  // called with every record whole (docs/architecture.md).
  bool has_aesni_gcm = false;
  uint64_t aesni_encrypt_offset = 0, aesni_decrypt_offset = 0;
  // aws-lc's ChaCha20-Poly1305 entries chacha20_poly1305_{open,seal}(out, in, len, ad,
  // ad_len, data): rdi, rsi, rdx, rcx, r8, r9, each called with a record whole (data holds
  // the key and nonce). FILE offsets, 0 = not proven; the flag is set when both are.
  bool has_chacha20_poly1305 = false;
  uint64_t chacha_open_offset = 0, chacha_seal_offset = 0;
  std::string evidence;
};

// Cheap: the "AWS-LC" marker string in a read-only, non-executable segment.
bool looks_like_awslc(const ElfFile& elf);
// Error unless exactly one aws-lc AVX-512 GCM encrypt/decrypt pair is proven.
Result<AwsLcGcm> find_awslc_gcm(const ElfFile& elf);

}  // namespace rein::binary
