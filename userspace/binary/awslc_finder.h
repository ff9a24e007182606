// Finds aws-lc's AVX-512 AES-GCM assembly entries in a stripped static binary (Codex: Rust,
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
  // The AES-NI GCM path exists too; it leaves short inputs to C code, so hooking it would not
  // see every record. Reported, never hooked.
  bool has_aesni_gcm = false;
  // Not detected yet: always false (see awslc_finder.cpp).
  bool has_chacha20_poly1305 = false;
  std::string evidence;
};

// Cheap: the "AWS-LC" marker string in a read-only, non-executable segment.
bool looks_like_awslc(const ElfFile& elf);
// Error unless exactly one aws-lc AVX-512 GCM encrypt/decrypt pair is proven.
Result<AwsLcGcm> find_awslc_gcm(const ElfFile& elf);

}  // namespace rein::binary
