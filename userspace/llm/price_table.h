// Model price table (USD per 1M tokens), loaded from data/prices.json with an optional user
// override file in the same format merged on top. Lookup tolerates dated snapshots
// ("gpt-4o-2024-08-06" -> "gpt-4o"), Vertex "@date" and Bedrock "-v1:0" suffixes, Bedrock
// region/vendor prefixes and "vendor/" routing prefixes, but never matches one model to a
// different one that merely shares a prefix ("gpt-4o-mini" is not "gpt-4o").
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/string_map.h"

namespace rein::llm {

struct TokenPrices {  // USD per 1M tokens
  std::optional<double> input, output, cache_read, cache_write_5m, cache_write_1h;
};

struct ModelPrice {
  std::string model;     // canonical key, lower-case
  std::string provider;  // informational (who lists this price)
  TokenPrices base;
  // Whole-request long-context tier: applies when total input tokens exceed the threshold;
  // unset fields fall back to `base`.
  std::optional<int64_t> long_context_above_input_tokens;
  TokenPrices long_context;
};

class PriceTable {
 public:
  // `source_name` names the file in error messages.
  static Result<PriceTable> parse(std::string_view json_text, std::string_view source_name);
  static Result<PriceTable> load_file(const std::string& path);
  // Base table plus an optional override file ("" = none); override rows replace base rows
  // with the same model name and may add aliases and provider defaults.
  static Result<PriceTable> load(const std::string& path, const std::string& override_path);

  Result<void> merge(std::string_view json_text, std::string_view source_name);
  Result<void> merge_file(const std::string& path);

  // nullptr when unknown. `matched_as` (optional) receives the table key that matched.
  const ModelPrice* find(std::string_view model, std::string* matched_as = nullptr) const;
  // Price for every model of a provider with no row of its own (e.g. local Ollama: 0).
  const ModelPrice* provider_default(std::string_view provider) const;

  size_t size() const { return models_.size(); }

 private:
  const ModelPrice* find_exact(std::string_view name) const;
  const ModelPrice* find_dated(std::string_view name, std::string* matched_as) const;

  const ModelPrice* find_uncached(std::string_view model, std::string* matched_as) const;

  // find()'s answers by the name as given: an agent asks for the same few models on every
  // call, and a dated name ("gpt-4o-mini-2024-07-18") costs a lower-cased copy and a parse
  // of each dash-separated suffix. Emptied by merge(); a copy of the table starts empty.
  class FindMemo {
   public:
    static constexpr size_t kMaxNames = 256;
    static constexpr size_t kNone = SIZE_MAX;
    struct Answer {
      size_t index = kNone;  // into models_
      std::string matched_as;
    };
    FindMemo() = default;
    FindMemo(const FindMemo&) {}
    FindMemo& operator=(const FindMemo&) {
      clear();
      return *this;
    }
    std::optional<Answer> get(std::string_view name) const;
    void put(std::string_view name, Answer a);
    void clear();

   private:
    mutable std::mutex mu_;  // tables are shared read-only; the memo is their one mutable part
    StringMap<Answer> answers_;
  };

  std::vector<ModelPrice> models_;
  StringMap<size_t> index_;  // lower-case model or alias -> models_
  StringMap<ModelPrice> provider_defaults_;
  mutable FindMemo memo_;
};

// True when `s` (the text after a '-' or '@' separator) is only a snapshot/version tag:
// YYYY-MM-DD, YYYYMMDD, MMDD, NNN, vN[:M], "latest", in any sequence.
bool is_version_suffix(std::string_view s);

}  // namespace rein::llm
