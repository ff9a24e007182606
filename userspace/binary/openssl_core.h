// OpenSSL's SSL_read_ex/SSL_write_ex are thin wrappers: they pass their four arguments
// unchanged to one internal function (ssl_read_internal/ssl_write_internal in 3.0) that
// SSL_read/SSL_write call too. Hooking that function instead of the four exports means one
// hook pair per direction, and its entry is a push, which the kernel emulates at a uprobe,
// where the exports start with `sub $n,%rsp`, which it must single-step (a second trap per
// call). Found only when the wrapper's bytes prove it; otherwise the exports are hooked.
#pragma once
#include <cstdint>

#include "binary/elf_file.h"
#include "common/result.h"

namespace rein::binary {

struct OpensslCore {
  uint64_t read_offset = 0, write_offset = 0;  // file offsets of the internal functions
  // SSL_read / SSL_write call the same function (so need no hook of their own).
  bool covers_ssl_read = false, covers_ssl_write = false;
};

// Proof required for each direction, from SSL_<dir>_ex's instructions: only stack
// adjustment before a direct call, nothing that writes an argument register; after it only
// a clamp of a negative result and the return; the callee starts with a push.
Result<OpensslCore> find_openssl_core(const ElfFile& elf);

}  // namespace rein::binary
