// Streaming Content-Encoding decoding for one message body. Codings are undone in reverse
// of the order they were applied ("gzip, br": br first, then gzip). Every layer's output is
// bounded by an absolute cap and by a ratio to the raw input, so a decompression bomb costs
// at most the cap in memory and a proportional amount of CPU: on either bound decoding stops,
// what was decoded is kept, truncated() is set and error() reads "decompression bound".
// An unsupported coding leaves the body as sent (passthrough(), with an error), still capped.
// Every decoded byte is also taken from the global DecodeBudget; when it runs out the body is
// cut there (truncated(), error "decode memory budget").
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/content_codecs.h"
#include "proto/decode_budget.h"

namespace rein::proto {

struct ContentDecoderLimits {
  size_t max_output = size_t{16} << 20;  // decoded bytes kept per body
  uint64_t max_ratio = 1000;             // output <= max_ratio * input + ratio_slack
  size_t ratio_slack = size_t{1} << 20;
  size_t max_codings = 4;                // deeper stacks are refused (passthrough)
  uint32_t budget_owner = 0;             // whose share of the decode budget (0: none)
};

// Coding tokens of a Content-Encoding value, in the order applied: lower-cased, trimmed,
// "identity" and empty elements dropped.
std::vector<std::string> parse_coding_list(std::string_view header_value);

class ContentDecoder {
 public:
  // `codings` in the order they were applied (Content-Encoding order; transfer codings other
  // than chunked come after the content codings). "identity" elements are ignored.
  explicit ContentDecoder(const std::vector<std::string>& codings,
                          ContentDecoderLimits limits = {});
  ~ContentDecoder();
  ContentDecoder(const ContentDecoder&) = delete;
  ContentDecoder& operator=(const ContentDecoder&) = delete;

  // Decode `in` and append the result to `out` (the body being built). Output beyond the
  // bounds is discarded; once stopped, further input is only counted.
  void feed(std::span<const uint8_t> in, std::string& out);
  // Bytes of the encoded body were lost. A compressed stream cannot continue across the
  // hole, so decoding stops with an error; an identity body just carries on.
  void input_gap();
  // End of the body: a compressed stream that did not reach its end marker is reported.
  void finish();

  bool identity() const { return layers_.empty() && !passthrough_; }
  bool passthrough() const { return passthrough_; }
  bool truncated() const { return truncated_; }
  bool stopped() const { return stopped_; }
  const std::string& error() const { return error_; }
  uint64_t input_bytes() const { return input_bytes_; }
  uint64_t output_bytes() const { return output_bytes_; }
  // The decoded bytes' share of the global decode budget: whoever keeps the body after the
  // decoder is gone takes this along (the budget is given back when the lease ends).
  BudgetLease take_lease() { return std::move(lease_); }

 private:
  struct Layer {
    ContentCoding coding;
    std::unique_ptr<CodecStage> stage;
    std::vector<uint8_t> scratch;
    uint64_t produced = 0;
  };

  void run_layer(size_t index, std::span<const uint8_t> in, std::string& out);
  // Admits up to `n` more output bytes of a layer (or the final output); sets the bound.
  size_t admit(uint64_t already, size_t n);
  void append_final(std::span<const uint8_t> data, std::string& out);
  void stop_with(std::string error);

  ContentDecoderLimits limits_;
  std::vector<Layer> layers_;  // decode order: layers_[0] sees the raw body
  bool passthrough_ = false;
  bool truncated_ = false;
  bool stopped_ = false;
  std::string error_;
  uint64_t input_bytes_ = 0;
  uint64_t output_bytes_ = 0;
  BudgetLease lease_;
};

}  // namespace rein::proto
