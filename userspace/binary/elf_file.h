// Read-only view of an ELF64 little-endian x86_64 file, validated up front so that every
// later accessor can index the bytes without re-checking: section/segment ranges are known
// to lie inside the file. Used to find uprobe targets in stripped executables, so it must
// be safe on hostile input and must never copy a (possibly 400 MB) file.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace rein::binary {

class ElfFile {
 public:
  // mmaps the file read-only (MAP_SHARED: see elf_file.cpp); validates ELF64 little-endian x86_64 headers,
  // every section/segment range against the file size. Errors name the file and the problem.
  static Result<std::shared_ptr<ElfFile>> open(const std::string& path);
  // same checks over bytes the caller keeps alive (tests, fuzzer)
  static Result<std::shared_ptr<ElfFile>> from_bytes(std::span<const uint8_t> bytes);
  ~ElfFile();  // munmap
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  std::span<const uint8_t> bytes() const;
  // [offset, offset+len) of the file, or empty when any part lies outside it.
  std::span<const uint8_t> bytes_at(uint64_t offset, uint64_t len) const;
  const std::string& name() const { return name_; }  // path, or "<memory>"
  // Hint that a scanned span is no longer needed: drops its pages from this process's
  // mapping (they stay in the page cache and fault back in on the next read). Keeps RSS
  // bounded while sweeping a 400 MB executable. No-op for from_bytes().
  void release_pages(std::span<const uint8_t> span) const;
  // Maps the span's pages in one call before a sweep reads them, instead of a page fault
  // every few pages (each is a trip through the hypervisor on a VM). Best effort.
  void prefault_pages(std::span<const uint8_t> span) const;

  struct Section {
    std::string name;
    uint32_t type = 0;
    uint64_t flags = 0, addr = 0, offset = 0, size = 0;
    uint32_t link = 0;       // sh_link (string table of a symbol table)
    uint64_t addralign = 0;  // sh_addralign (note padding)
  };
  const std::vector<Section>& sections() const;
  const Section* section(std::string_view name) const;             // nullptr when absent
  std::span<const uint8_t> section_bytes(const Section& s) const;  // empty for SHT_NOBITS

  struct Segment {
    uint32_t type = 0, flags = 0;
    uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0;
    uint64_t align = 0;  // p_align (note padding)
  };
  const std::vector<Segment>& segments() const;

  // file offset of a virtual address inside a PT_LOAD's file-backed range; nullopt otherwise.
  // (uprobe offsets are FILE offsets: vaddr - (p_vaddr - p_offset) of the LOAD segment)
  std::optional<uint64_t> vaddr_to_offset(uint64_t vaddr) const;
  std::optional<uint64_t> offset_to_vaddr(uint64_t offset) const;

  std::string build_id() const;  // lower-case hex of NT_GNU_BUILD_ID, "" when none
  bool is_pie() const;           // e_type == ET_DYN
  uint16_t elf_type() const { return e_type_; }
  uint64_t entry() const { return e_entry_; }

  // symbol value (vaddr) from .symtab, then .dynsym; defined FUNC symbols only
  std::optional<uint64_t> symbol(std::string_view name) const;

  // function starts from .eh_frame_hdr's binary-search table (sorted vaddrs); empty if none
  // or if the table uses an encoding other than DW_EH_PE_datarel|sdata4.
  const std::vector<uint64_t>& eh_frame_starts() const;  // computed lazily, cached
  bool is_function_start(uint64_t vaddr) const;          // binary search in eh_frame_starts()

 private:
  ElfFile() = default;
  static Result<std::shared_ptr<ElfFile>> parse(std::shared_ptr<ElfFile> f);
  std::optional<uint64_t> symbol_in(uint32_t sh_type, std::string_view name) const;
  std::string build_id_in(std::span<const uint8_t> notes, uint64_t align) const;
  void compute_eh_frame_starts() const;

  std::string name_ = "<memory>";
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;  // non-null only when we own an mmap
  size_t map_len_ = 0;
  uint16_t e_type_ = 0;
  uint64_t e_entry_ = 0;
  std::vector<Section> sections_;
  std::vector<Segment> segments_;
  mutable std::once_flag eh_once_;
  mutable std::vector<uint64_t> eh_starts_;
};

}  // namespace rein::binary
