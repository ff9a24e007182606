#include "pipeline/capture_scrub_prefilter.h"

#include <hs/hs.h>

#include <algorithm>
#include <climits>
#include <string>

namespace rein::pipeline {

ScrubPrefilter::ScrubPrefilter(std::span<const std::string_view> header_names,
                               std::span<const std::string_view> param_names,
                               std::span<const std::string_view> token_prefixes) {
  std::vector<std::string> exprs;
  std::vector<unsigned> flags;
  auto add = [&](std::string e, unsigned f, uint8_t kind, uint32_t index) {
    patterns_.push_back({kind, index, uint32_t(e.size())});
    exprs.push_back(std::move(e));
    flags.push_back(f);
  };
  for (uint32_t i = 0; i < header_names.size(); i++)
    add(std::string(header_names[i]), HS_FLAG_CASELESS, 0, i);
  for (uint32_t i = 0; i < param_names.size(); i++) {
    add("?" + std::string(param_names[i]) + "=", HS_FLAG_CASELESS, 1, i);
    add("&" + std::string(param_names[i]) + "=", HS_FLAG_CASELESS, 1, i);
  }
  // A prefix another one starts with adds nothing: the shorter one already marks the start.
  for (uint32_t i = 0; i < token_prefixes.size(); i++) {
    const std::string_view p = token_prefixes[i];
    bool covered = false;
    for (std::string_view q : token_prefixes)
      if (q.size() < p.size() && p.substr(0, q.size()) == q) covered = true;
    if (!covered && !p.empty()) add(std::string(p), 0, 2, i);
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < exprs.size(); i++) {
    ptrs.push_back(exprs[i].data());
    lens.push_back(exprs[i].size());
    ids.push_back(unsigned(i));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(ptrs.data(), flags.data(), ids.data(), lens.data(),
                           unsigned(ptrs.size()), HS_MODE_BLOCK, nullptr, &db_,
                           &err) != HS_SUCCESS) {
    if (err) hs_free_compile_error(err);
    db_ = nullptr;
    return;
  }
  if (hs_alloc_scratch(db_, &scratch_) != HS_SUCCESS) scratch_ = nullptr;
}

ScrubPrefilter::~ScrubPrefilter() {
  if (scratch_) hs_free_scratch(scratch_);
  if (db_) hs_free_database(db_);
}

int ScrubPrefilter::on_match(unsigned id, unsigned long long, unsigned long long to, unsigned,
                             void* ctx) {
  auto* self = static_cast<ScrubPrefilter*>(ctx);
  if (id >= self->patterns_.size()) return 0;
  const Pattern& p = self->patterns_[id];
  const uint32_t start = uint32_t(to - p.len);
  switch (p.kind) {
    case 0:
      if (!self->tokens_only_) self->out_->headers.push_back({p.index, start});
      break;
    case 1:
      if (!self->tokens_only_) self->out_->params.push_back(start);
      break;
    default:
      self->out_->tokens.push_back(start);
  }
  return 0;
}

bool ScrubPrefilter::scan(std::string_view bytes, bool tokens_only, ScrubHits& out) {
  out.clear();
  if (!ok() || bytes.size() > UINT_MAX) return false;
  out_ = &out;
  tokens_only_ = tokens_only;
  const hs_error_t rc =
      hs_scan(db_, bytes.data(), unsigned(bytes.size()), 0, scratch_, on_match, this);
  out_ = nullptr;
  if (rc != HS_SUCCESS) return false;
  // Hyperscan reports by end offset; the scrubber works left to right by start.
  auto by_start = [](const ScrubHits::Header& a, const ScrubHits::Header& b) {
    return a.start < b.start;
  };
  if (out.headers.size() > 1) std::sort(out.headers.begin(), out.headers.end(), by_start);
  if (out.params.size() > 1) std::sort(out.params.begin(), out.params.end());
  if (out.tokens.size() > 1) std::sort(out.tokens.begin(), out.tokens.end());
  return true;
}

}  // namespace rein::pipeline
