// One Hyperscan pass over a ring record that finds every place the capture scrubber must
// look at (credential header names, credential query parameters, key-shaped token
// prefixes), so the scrubber no longer walks every byte of every record itself. It only
// narrows the search: every hit is checked again by the scrubber's own code on the bytes as
// they are then, and without a database the scrubber falls back to its full scans.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

struct hs_database;
struct hs_scratch;

namespace rein::pipeline {

struct ScrubHits {
  struct Header {
    uint32_t name;   // index into the header names given at construction
    uint32_t start;  // where the name starts
  };
  std::vector<Header> headers;   // by start
  std::vector<uint32_t> params;  // positions of the '?' / '&' before a parameter name, sorted
  std::vector<uint32_t> tokens;  // starts of a key prefix (maybe mid-token), sorted
  void clear() {
    headers.clear();
    params.clear();
    tokens.clear();
  }
};

class ScrubPrefilter {
 public:
  // header_names, param_names: lower case, matched case-insensitively (params after '?' or
  // '&' and before '='); token_prefixes: case-sensitive.
  ScrubPrefilter(std::span<const std::string_view> header_names,
                 std::span<const std::string_view> param_names,
                 std::span<const std::string_view> token_prefixes);
  ~ScrubPrefilter();
  ScrubPrefilter(const ScrubPrefilter&) = delete;
  ScrubPrefilter& operator=(const ScrubPrefilter&) = delete;

  bool ok() const { return db_ != nullptr && scratch_ != nullptr; }
  // Fills `out` (cleared first). tokens_only: header and parameter hits are not kept.
  // False when the scan could not run (the caller then scans in full).
  bool scan(std::string_view bytes, bool tokens_only, ScrubHits& out);

 private:
  struct Pattern {
    uint8_t kind;  // 0 header, 1 param, 2 token
    uint32_t index;
    uint32_t len;
  };
  static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                      void* ctx);
  std::vector<Pattern> patterns_;
  hs_database* db_ = nullptr;
  hs_scratch* scratch_ = nullptr;
  ScrubHits* out_ = nullptr;
  bool tokens_only_ = false;
};

}  // namespace rein::pipeline
