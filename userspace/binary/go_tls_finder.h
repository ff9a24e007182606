// Finds uprobe points for Go's crypto/tls in Go executables, stripped or not: the entries of
// (*Conn).Read and (*Conn).Write from the pclntab, and every RET inside them. Go moves
// goroutine stacks, which breaks uretprobes' return-address trampolines, so a return is
// observed by a plain uprobe on each RET instruction instead.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "binary/elf_file.h"
#include "common/result.h"

namespace rein::binary {

struct GoTls {
  uint64_t read_entry = 0, write_entry = 0;     // FILE offsets
  std::vector<uint64_t> read_rets, write_rets;  // FILE offsets of each RET in the function
  std::string go_version;                       // "go1.19.8", "" when no buildinfo
  std::string evidence;
};

// Cheap: Go-specific sections or notes, or the buildinfo magic at the start of a data segment.
bool looks_like_go(const ElfFile& elf);
Result<GoTls> find_go_tls(const ElfFile& elf);

// The toolchain version recorded in the buildinfo blob ("" when absent or unreadable).
std::string go_build_version(const ElfFile& elf);

}  // namespace rein::binary
