// Arbitrary bytes as an ELF file: parsing, every accessor and the BoringSSL finder must stay
// in bounds, and any function the finder returns must be a prologue inside the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "binary/boringssl_finder.h"
#include "binary/elf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = rein::binary::ElfFile::from_bytes({data, size});
  if (!f) return 0;
  const auto& elf = **f;
  for (const auto& s : elf.sections()) {
    auto b = elf.section_bytes(s);
    if (!b.empty() && (b.data() < data || b.data() + b.size() > data + size)) abort();
  }
  for (const auto& p : elf.segments()) {
    if (auto off = elf.vaddr_to_offset(p.vaddr))
      if (*off >= size) abort();
    (void)elf.offset_to_vaddr(p.offset);
  }
  (void)elf.build_id();
  (void)elf.symbol("SSL_write");
  for (uint64_t a : elf.eh_frame_starts())
    if (!elf.is_function_start(a)) abort();
  (void)rein::binary::looks_like_bun_boringssl(elf);
  auto r = rein::binary::find_bun_boringssl(elf);
  if (r) {
    for (uint64_t off : {r->ssl_write_offset, r->ssl_read_offset}) {
      if (off + 4 > size || data[off] != 0x55) abort();
    }
    if (r->ssl_write_vaddr % 16 || r->ssl_read_vaddr % 16) abort();
  }
  return 0;
}
