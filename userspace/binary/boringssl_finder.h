// Locates BoringSSL's SSL_write / SSL_read inside stripped, statically linked Bun
// executables (Claude Code, OpenCode) so uprobes can be attached there.
//
// Method (no offsets table): BoringSSL's OPENSSL_PUT_ERROR sites pass (lib 16, reason, file,
// line) with the file string ".../ssl/ssl_lib.cc". Every reference to that string in
// executable code is tied to its enclosing function, whose entry is the nearest preceding
// direct-call target that is 16-byte aligned and starts `push %rbp; mov %rsp,%rbp`. A linear
// disassembly from that entry must land exactly on the reference instruction. SSL_write is
// the function whose sites carry reasons {66, 226, 215, 111}; SSL_read has one reason-66
// site a few source lines before SSL_write's and directly calls ssl_read_impl (226, 215).
// Anything ambiguous is an error: a wrong uprobe offset corrupts the traced process.
#pragma once
#include <cstdint>
#include <string>

#include "binary/elf_file.h"
#include "common/result.h"

namespace rein::binary {

struct BunSslFunctions {
  uint64_t ssl_write_offset = 0, ssl_read_offset = 0;  // FILE offsets (uprobe offsets)
  uint64_t ssl_write_vaddr = 0, ssl_read_vaddr = 0;
  std::string evidence;  // one line: how it was proven
};

// Cheap pre-check: the "ssl/ssl_lib.cc" string is present in a read-only section.
bool looks_like_bun_boringssl(const ElfFile& elf);

// `has_path_string`, when given, says whether the file had the string at all: the same answer
// as looks_like_bun_boringssl, without a second search of its read-only data.
Result<BunSslFunctions> find_bun_boringssl(const ElfFile& elf, bool* has_path_string = nullptr);

}  // namespace rein::binary
