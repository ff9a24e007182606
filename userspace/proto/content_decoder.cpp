#include "proto/content_decoder.h"

#include <algorithm>
#include <limits>

namespace rein::proto {

namespace {

constexpr size_t kScratchBytes = size_t{32} << 10;
constexpr size_t kFirstBodyReserve = 4096;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Only a short plain token is echoed in an error; anything else could be arbitrary bytes
// from the peer.
std::string describe_token(std::string_view token) {
  const bool plain = !token.empty() && token.size() <= 24 &&
                     std::all_of(token.begin(), token.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                     });
  return plain ? std::string(token) : std::string("(unprintable)");
}

}  // namespace

std::vector<std::string> parse_coding_list(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view elem = value.substr(0, comma);
    value = (comma == std::string_view::npos) ? std::string_view{} : value.substr(comma + 1);
    while (!elem.empty() && (elem.front() == ' ' || elem.front() == '\t')) elem.remove_prefix(1);
    while (!elem.empty() && (elem.back() == ' ' || elem.back() == '\t')) elem.remove_suffix(1);
    if (elem.empty()) continue;
    std::string tok;
    for (char c : elem) tok.push_back(lower(c));
    if (tok != "identity") out.push_back(std::move(tok));
  }
  return out;
}

ContentDecoder::ContentDecoder(const std::vector<std::string>& codings, ContentDecoderLimits limits)
    : limits_(limits), lease_(DecodeBudget::global(), limits.budget_owner) {
  std::vector<ContentCoding> applied;
  for (const auto& token : codings) {
    if (token.empty() || token == "identity") continue;
    auto coding = content_coding_from_token(token);
    if (!coding) {
      passthrough_ = true;
      error_ = "unsupported content-encoding: " + describe_token(token);
      return;
    }
    applied.push_back(*coding);
  }
  if (applied.size() > limits_.max_codings) {
    passthrough_ = true;
    error_ = "too many content codings";
    return;
  }
  for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
    Layer layer{*it, make_codec_stage(*it, limits_.budget_owner), std::vector<uint8_t>(kScratchBytes), 0};
    layers_.push_back(std::move(layer));
  }
}

ContentDecoder::~ContentDecoder() = default;

size_t ContentDecoder::admit(uint64_t already, size_t n) {
  uint64_t allowed = limits_.max_output;
  if (!layers_.empty()) {
    // Saturating: ratio * input could overflow for absurd inputs.
    const uint64_t by_ratio =
        input_bytes_ > (std::numeric_limits<uint64_t>::max() - limits_.ratio_slack) /
                           std::max<uint64_t>(limits_.max_ratio, 1)
            ? std::numeric_limits<uint64_t>::max()
            : input_bytes_ * limits_.max_ratio + limits_.ratio_slack;
    allowed = std::min(allowed, by_ratio);
  }
  if (already >= allowed) return 0;
  return static_cast<size_t>(std::min<uint64_t>(n, allowed - already));
}

void ContentDecoder::stop_with(std::string error) {
  stopped_ = true;
  if (error_.empty()) error_ = std::move(error);
}

void ContentDecoder::append_final(std::span<const uint8_t> data, std::string& out) {
  const size_t n = admit(output_bytes_, data.size());
  if (!lease_.take(n)) {
    truncated_ = true;
    stop_with("decode memory budget");
    return;
  }
  // Bodies arrive in TLS-record or chunk pieces of a few hundred bytes: start at a page
  // rather than double from 15 bytes up (most LLM bodies are a few KiB).
  if (out.capacity() < kFirstBodyReserve && n > 0 && n < kFirstBodyReserve)
    out.reserve(kFirstBodyReserve);
  out.append(reinterpret_cast<const char*>(data.data()), n);
  output_bytes_ += n;
  if (n < data.size()) {
    truncated_ = true;
    stopped_ = true;
    // A plain body that is merely long is truncated, not a decoding failure.
    if (!layers_.empty()) stop_with("decompression bound");
  }
}

void ContentDecoder::feed(std::span<const uint8_t> in, std::string& out) {
  input_bytes_ += in.size();
  if (stopped_ || in.empty()) return;
  if (layers_.empty()) {
    append_final(in, out);
    return;
  }
  run_layer(0, in, out);
}

void ContentDecoder::run_layer(size_t index, std::span<const uint8_t> in, std::string& out) {
  Layer& layer = layers_[index];
  const bool last = index + 1 == layers_.size();
  while (!stopped_) {
    const CodecStage::Step s = layer.stage->step(in, layer.scratch);
    in = in.subspan(s.consumed);
    if (s.produced > 0) {
      std::span<const uint8_t> piece(layer.scratch.data(), s.produced);
      if (last) {
        append_final(piece, out);
      } else {
        const size_t n = admit(layer.produced, piece.size());
        layer.produced += n;
        if (n > 0) run_layer(index + 1, piece.first(n), out);
        if (n < piece.size()) {
          truncated_ = true;
          stop_with("decompression bound");
        }
      }
    }
    if (s.status == CodecStage::Status::kError) {
      stop_with(layer.stage->error());
      return;
    }
    if (s.consumed == 0 && s.produced == 0) return;  // needs more input
    // A full scratch buffer may mean more output is pending inside the library.
    if (in.empty() && s.produced < layer.scratch.size()) return;
  }
}

void ContentDecoder::input_gap() {
  if (layers_.empty() || stopped_) return;
  stop_with("gap in encoded body");
}

void ContentDecoder::finish() {
  if (stopped_ || layers_.empty() || input_bytes_ == 0) return;
  for (const auto& layer : layers_) {
    if (!layer.stage->finished()) {
      stop_with(std::string(content_coding_name(layer.coding)) + ": stream ended early");
      return;
    }
  }
}

}  // namespace rein::proto
