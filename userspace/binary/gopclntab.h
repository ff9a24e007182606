// Reader for the Go runtime's PC/line table (.gopclntab), the one symbol source every Go
// binary keeps even when stripped. Only the parts needed to map a function name to its code
// range are read. Hostile input is expected: every offset is checked against the span, and
// nothing is allocated per function, so a lying header costs time bounded by the span size.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/result.h"

namespace rein::binary {

// Header magics (first 4 bytes, little-endian) by Go release.
inline constexpr uint32_t kPclntabGo12 = 0xfffffffb;   // 1.2 - 1.15
inline constexpr uint32_t kPclntabGo116 = 0xfffffffa;  // 1.16 - 1.17
inline constexpr uint32_t kPclntabGo118 = 0xfffffff0;  // 1.18 - 1.19
inline constexpr uint32_t kPclntabGo120 = 0xfffffff1;  // 1.20 and later

struct GoFunc {
  std::string_view name;    // points into the table's bytes
  uint64_t entry_off = 0;   // relative to the table's text start
  uint64_t end_off = 0;     // next function's entry (exclusive end)
};

class GoPclntab {
 public:
  // `data` must start at the header magic; it may run past the table's end (a segment tail
  // when there is no section header), the parser only trusts what the header proves.
  static Result<GoPclntab> parse(std::span<const uint8_t> data);

  uint32_t magic() const { return magic_; }
  std::string_view go_range() const;  // "1.18-1.19" / "1.20+"
  uint64_t nfunc() const { return nfunc_; }
  // runtime.text as written in the file; 0 in PIE builds, where a dynamic relocation fills
  // it at load time (callers then use the .text address).
  uint64_t text_start() const { return text_start_; }

  Result<GoFunc> func(uint64_t index) const;
  // First function with exactly this name (linear; names are not sorted).
  Result<GoFunc> find(std::string_view name) const;

 private:
  GoPclntab() = default;
  std::optional<std::string_view> name_at(uint64_t name_off) const;

  std::span<const uint8_t> data_;
  uint32_t magic_ = 0;
  uint64_t nfunc_ = 0, text_start_ = 0;
  uint64_t funcname_off_ = 0, funcname_end_ = 0, functab_off_ = 0;
};

// Finds a Go 1.18+ pclntab header inside `region` (a read-only segment) by magic and header
// sanity; returns the offset of the magic within `region`.
std::optional<uint64_t> find_pclntab_by_magic(std::span<const uint8_t> region);

}  // namespace rein::binary
