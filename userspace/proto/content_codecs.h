// Streaming decompressors behind one small interface, one per HTTP content coding
// (RFC 9110 §8.4.1 plus br and zstd). ContentDecoder stacks and bounds them; this file only
// wraps the libraries. Each stage owns its library state (RAII).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rein::proto {

enum class ContentCoding { kGzip, kDeflate, kBrotli, kZstd };

// "gzip"/"x-gzip", "deflate", "br", "zstd" (lower-case tokens); nullopt for anything else,
// including "identity", which callers drop before asking.
std::optional<ContentCoding> content_coding_from_token(std::string_view token);
const char* content_coding_name(ContentCoding coding);

class CodecStage {
 public:
  enum class Status { kOk, kError };
  struct Step {
    size_t consumed = 0;
    size_t produced = 0;
    Status status = Status::kOk;
  };

  virtual ~CodecStage() = default;
  // Decode some of `in` into `out`. A stage makes progress whenever it has input and room;
  // consumed == produced == 0 means it needs more input. Bytes after the end of the
  // encoded stream are consumed and ignored (counted in trailing_bytes()).
  virtual Step step(std::span<const uint8_t> in, std::span<uint8_t> out) = 0;
  // The encoded stream reached its end marker (the body was not cut short).
  virtual bool finished() const = 0;
  // Library error text (static strings, never input bytes).
  virtual const std::string& error() const = 0;
  virtual uint64_t trailing_bytes() const = 0;
};

// `budget_owner`: whose share of the decode budget the stage's own memory is drawn from.
std::unique_ptr<CodecStage> make_codec_stage(ContentCoding coding, uint32_t budget_owner = 0);

}  // namespace rein::proto
