// Any bytes as a Go pclntab (and, when they start like an ELF file, as a whole Go binary):
// parsing must give values or errors, never read out of bounds, and every function it does
// return must lie inside the bytes it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "binary/go_tls_finder.h"
#include "binary/gopclntab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  if (auto t = rein::binary::GoPclntab::parse(in)) {
    // nfunc is bounded by the table size in parse(); cap the walk anyway to keep runs fast.
    const uint64_t n = t->nfunc() < 4096 ? t->nfunc() : 4096;
    for (uint64_t i = 0; i < n; ++i) {
      auto f = t->func(i);
      if (!f) continue;
      if (f->end_off <= f->entry_off) abort();
      const auto* p = reinterpret_cast<const uint8_t*>(f->name.data());
      if (p < data || p + f->name.size() > data + size) abort();
      if (std::memchr(f->name.data(), 0, f->name.size())) abort();
    }
    (void)t->find("crypto/tls.(*Conn).Read");
  }
  (void)rein::binary::find_pclntab_by_magic(in);
  if (size >= 4 && std::memcmp(data, "\x7f" "ELF", 4) == 0) {
    if (auto elf = rein::binary::ElfFile::from_bytes(in)) {
      auto r = rein::binary::find_go_tls(**elf);
      if (r && (r->read_rets.empty() || r->write_rets.empty())) abort();
      (void)rein::binary::go_build_version(**elf);
    }
  }
  return 0;
}
