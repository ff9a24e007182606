#include "proto/websocket_stream.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/http1_head.h"

namespace rein::proto {

namespace {

constexpr uint8_t kOpContinuation = 0x0;
constexpr uint8_t kOpText = 0x1;
constexpr uint8_t kOpBinary = 0x2;
constexpr uint8_t kOpClose = 0x8;
constexpr uint8_t kOpPing = 0x9;
constexpr uint8_t kOpPong = 0xA;
constexpr size_t kMaxControlPayload = 125;
constexpr size_t kInflateChunk = 16 << 10;
// RFC 7692 §7.2.2: the sender strips this empty stored block's tail; the receiver puts it back.
constexpr uint8_t kDeflateTail[4] = {0x00, 0x00, 0xff, 0xff};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Splits on `sep`, ignoring separators inside double quotes (extension parameter values
// may be quoted strings).
std::vector<std::string_view> split_unquoted(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == sep && !quoted) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

std::optional<int> window_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 2) return std::nullopt;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 8 || n > 15) return std::nullopt;
  return n;
}

bool has_token(const std::vector<HttpHeader>& headers, std::string_view name, std::string_view tok) {
  for (const auto& t : header_tokens(headers, name))
    if (t == tok) return true;
  return false;
}

}  // namespace

WsOptions negotiate([[maybe_unused]] const HttpRequest& handshake_req,
                    const HttpResponse& handshake_resp) {
  WsOptions opt;
  for (const auto& h : handshake_resp.headers) {
    if (h.name != "sec-websocket-extensions") continue;
    for (std::string_view ext : split_unquoted(h.value, ',')) {
      std::vector<std::string_view> parts = split_unquoted(ext, ';');
      if (lowered(trim(parts[0])) != "permessage-deflate") continue;
      if (opt.deflate) continue;  // the server accepts one offer at most; keep the first
      opt.deflate = true;
      for (size_t i = 1; i < parts.size(); ++i) {
        std::string_view p = trim(parts[i]);
        const size_t eq = p.find('=');
        const std::string key = lowered(trim(p.substr(0, eq)));
        const std::string_view val = eq == std::string_view::npos ? "" : trim(p.substr(eq + 1));
        if (key == "server_no_context_takeover") {
          opt.server_no_context_takeover = true;
        } else if (key == "client_no_context_takeover") {
          opt.client_no_context_takeover = true;
        } else if (key == "server_max_window_bits") {
          if (auto b = window_bits(val)) opt.server_max_window_bits = *b;
        } else if (key == "client_max_window_bits") {
          if (auto b = window_bits(val)) opt.client_max_window_bits = *b;
        }
      }
    }
  }
  return opt;
}

bool is_websocket_handshake(const HttpRequest& req, const HttpResponse& resp) {
  return req.method == "GET" && resp.status == 101 &&
         has_token(req.headers, "upgrade", "websocket") &&
         has_token(resp.headers, "upgrade", "websocket");
}

// Raw-DEFLATE inflater owning its z_stream.
class WsDecoder::Inflater {
 public:
  Inflater() {
    std::memset(&zs_, 0, sizeof zs_);
    // Always the largest window: an inflater with a larger window decodes any stream made
    // with a smaller one (and zlib's deflate silently turns 8 into 9 anyway), so the
    // negotiated *_max_window_bits only matter to the sender's memory.
    ok_ = inflateInit2(&zs_, -15) == Z_OK;
  }
  ~Inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  enum class Result { kOk, kEnd, kError };

  // Inflates `in`, passing each produced piece to `out` (which returns false to abandon).
  template <typename Out>
  Result run(std::span<const uint8_t> in, Out&& out) {
    if (!ok_) return Result::kError;
    zs_.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct
    zs_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      zs_.next_out = buf_;
      zs_.avail_out = sizeof buf_;
      const int rc = inflate(&zs_, Z_SYNC_FLUSH);
      const size_t produced = sizeof buf_ - zs_.avail_out;
      if (produced > 0 && !out(std::span<const uint8_t>(buf_, produced))) return Result::kError;
      if (rc == Z_STREAM_END) return Result::kEnd;
      if (rc == Z_BUF_ERROR) return Result::kOk;  // needs more input
      if (rc != Z_OK) return Result::kError;
      if (zs_.avail_in == 0 && zs_.avail_out != 0) return Result::kOk;
    }
  }

  void reset() {
    if (ok_) ok_ = inflateReset(&zs_) == Z_OK;
  }
  // Input of the last run() not consumed (after the end of a deflate stream).
  size_t left() const { return zs_.avail_in; }

  bool broken = false;  // the shared window is lost (error or abandoned message)

 private:
  z_stream zs_;
  bool ok_ = false;
  uint8_t buf_[kInflateChunk];
};

WsDecoder::WsDecoder(bool from_client, WsOptions options, MessageHandler on_message)
    : from_client_(from_client), opt_(options), on_message_(std::move(on_message)) {
  if (opt_.deflate) inflater_ = std::make_unique<Inflater>();
}

WsDecoder::~WsDecoder() = default;

void WsDecoder::feed(std::span<const uint8_t> bytes, uint64_t ts) {
  while (!bytes.empty()) {
    if (stopped_ || closed_) {
      stats_.ignored_bytes += bytes.size();
      return;
    }
    size_t used = state_ == State::kHeader ? step_header(bytes, ts) : step_payload(bytes, ts);
    stats_.bytes += used;
    bytes = bytes.subspan(used);
  }
}

void WsDecoder::gap(uint64_t ts) {
  if (stopped_) return;
  if (msg_open_) deliver_message(ts, true);
  stopped_ = true;
  error_ = "websocket: bytes lost; framing and compression state gone";
}

void WsDecoder::finish(uint64_t ts) {
  if (msg_open_) deliver_message(ts, true);
}

void WsDecoder::stop(std::string why) {
  if (msg_open_) deliver_message(msg_.ts_last_ns, true);
  stopped_ = true;
  error_ = std::move(why);
}

void WsDecoder::protocol_error(std::string why) {
  stats_.protocol_errors++;
  stop(std::move(why));
}

bool WsDecoder::inflating_broken() const { return !inflater_ || inflater_->broken; }

size_t WsDecoder::step_header(std::span<const uint8_t> in, uint64_t ts) {
  if (hdr_len_ == 0) frame_ts_first_ = ts;
  size_t used = 0;
  for (;;) {
    size_t need = 2;
    if (hdr_len_ >= 2) {
      const uint8_t len7 = hdr_[1] & 0x7f;
      need += len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
      if (hdr_[1] & 0x80) need += 4;
    }
    if (hdr_len_ >= need) break;
    if (used == in.size()) return used;
    // Copy only up to what is known to be needed, so no payload byte lands in hdr_.
    const size_t take = std::min(need - hdr_len_, in.size() - used);
    std::memcpy(hdr_ + hdr_len_, in.data() + used, take);
    hdr_len_ += take;
    used += take;
  }
  begin_frame(ts);
  hdr_len_ = 0;
  return used;
}

bool WsDecoder::begin_frame(uint64_t ts) {
  stats_.frames++;
  fin_ = hdr_[0] & 0x80;
  const bool rsv1 = hdr_[0] & 0x40;
  opcode_ = hdr_[0] & 0x0f;
  masked_ = hdr_[1] & 0x80;
  const uint8_t len7 = hdr_[1] & 0x7f;
  size_t pos = 2;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t{hdr_[2]} << 8) | hdr_[3];
    pos = 4;
  } else if (len7 == 127) {
    len = 0;
    for (size_t i = 0; i < 8; ++i) len = (len << 8) | hdr_[2 + i];
    pos = 10;
    if (len >> 63) {
      protocol_error("websocket: frame length has the most significant bit set");
      return false;
    }
  }
  if (masked_) std::memcpy(mask_, hdr_ + pos, 4);
  mask_pos_ = 0;

  if (hdr_[0] & 0x30) {
    protocol_error("websocket: reserved bit set");
    return false;
  }
  const bool control = opcode_ & 0x8;
  if (opcode_ != kOpContinuation && opcode_ != kOpText && opcode_ != kOpBinary &&
      opcode_ != kOpClose && opcode_ != kOpPing && opcode_ != kOpPong) {
    protocol_error("websocket: reserved opcode");
    return false;
  }
  if (masked_ != from_client_) {
    protocol_error(from_client_ ? "websocket: client frame not masked"
                                : "websocket: server frame masked");
    return false;
  }
  if (control && (!fin_ || len > kMaxControlPayload)) {
    protocol_error("websocket: fragmented or oversized control frame");
    return false;
  }
  if (rsv1 && (!opt_.deflate || control || opcode_ == kOpContinuation)) {
    protocol_error("websocket: compression bit where not allowed");
    return false;
  }
  if (len > opt_.max_frame) {
    protocol_error("websocket: frame longer than the frame bound");
    return false;
  }
  if (!control) {
    if (opcode_ == kOpContinuation && !msg_open_) {
      protocol_error("websocket: continuation without a message");
      return false;
    }
    if (opcode_ != kOpContinuation && msg_open_) {
      protocol_error("websocket: new message inside a fragmented one");
      return false;
    }
    if (!msg_open_) {
      msg_open_ = true;
      msg_ = WsMessage{};
      msg_.from_client = from_client_;
      msg_.opcode = opcode_;
      msg_.ts_first_ns = frame_ts_first_;
      msg_compressed_ = rsv1;
      msg_truncated_ = false;
      msg_in_bytes_ = 0;
      msg_out_bytes_ = 0;
      msg_inflate_dead_ = false;
      if (rsv1) {
        stats_.compressed_messages++;
        if (inflating_broken()) {
          // The window this message refers to is gone: nothing reliable can come out.
          msg_inflate_dead_ = true;
          msg_truncated_ = true;
        }
      }
    }
  } else {
    ctrl_.clear();
  }
  remaining_ = len;
  if (!control) msg_.ts_last_ns = std::max(msg_.ts_last_ns, ts);
  if (remaining_ == 0) {
    frame_done(ts);
  } else {
    state_ = State::kPayload;
  }
  return true;
}

size_t WsDecoder::step_payload(std::span<const uint8_t> in, uint64_t ts) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(in.size(), remaining_));
  const bool control = opcode_ & 0x8;
  // Unmask into a bounded scratch buffer, piece by piece.
  uint8_t scratch[4096];
  size_t done = 0;
  while (done < n) {
    const size_t k = std::min(n - done, sizeof scratch);
    for (size_t i = 0; i < k; ++i) {
      const uint8_t b = in[done + i];
      scratch[i] = masked_ ? static_cast<uint8_t>(b ^ mask_[(mask_pos_ + i) & 3]) : b;
    }
    mask_pos_ += k;
    std::span<const uint8_t> piece(scratch, k);
    if (control) {
      ctrl_.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    } else {
      data_bytes(piece);
    }
    done += k;
  }
  remaining_ -= n;
  if (!control) msg_.ts_last_ns = ts;
  if (remaining_ == 0) {
    state_ = State::kHeader;
    frame_done(ts);
  }
  return n;
}

void WsDecoder::ignore_after_end(size_t n) {
  if (n == 0) return;
  stats_.ignored_bytes += n;
  msg_truncated_ = true;
}

void WsDecoder::data_bytes(std::span<const uint8_t> bytes) {
  if (!msg_compressed_) {
    const size_t room = opt_.max_message - std::min(opt_.max_message, msg_.payload.size());
    if (bytes.size() > room) msg_truncated_ = true;
    size_t k = std::min(room, bytes.size());
    if (!msg_lease_.take(k)) {
      msg_truncated_ = true;
      k = 0;
    }
    msg_.payload.append(reinterpret_cast<const char*>(bytes.data()), k);
    return;
  }
  if (msg_inflate_dead_) {
    ignore_after_end(bytes.size());
    return;
  }
  msg_in_bytes_ += bytes.size();
  bool bomb = false;
  auto sink = [this, &bomb](std::span<const uint8_t> out) {
    msg_out_bytes_ += out.size();
    const size_t room = opt_.max_message - std::min(opt_.max_message, msg_.payload.size());
    if (out.size() > room) msg_truncated_ = true;
    size_t k = std::min(room, out.size());
    if (!msg_lease_.take(k)) {
      msg_truncated_ = true;
      k = 0;
    }
    msg_.payload.append(reinterpret_cast<const char*>(out.data()), k);
    // Past max_message the output is still inflated (and dropped) to keep the shared window
    // right for the next message, but only while it looks like data, not a bomb.
    if ((msg_out_bytes_ > kInflateSlack &&
         msg_out_bytes_ / std::max<uint64_t>(msg_in_bytes_, 1) > opt_.max_inflate_ratio) ||
        msg_out_bytes_ - std::min<uint64_t>(msg_out_bytes_, opt_.max_message) > kMaxDiscardedInflate) {
      bomb = true;
      return false;
    }
    return true;
  };
  const Inflater::Result r = inflater_->run(bytes, sink);
  if (r == Inflater::Result::kOk) return;
  if (r == Inflater::Result::kEnd) {
    // A final deflate block: the sender started over (RFC 7692 §7.2.3.3 allows it), so the
    // rest of this message is ignored and the window is reset at its end. Bytes after it are
    // not what the peer reads either, but they are counted and the message flagged.
    msg_inflate_dead_ = true;
    ignore_after_end(inflater_->left());
    return;
  }
  if (bomb) {
    stats_.inflate_bombs++;
  } else {
    stats_.inflate_errors++;
  }
  msg_inflate_dead_ = true;
  msg_truncated_ = true;
  inflater_->broken = true;
}

void WsDecoder::frame_done(uint64_t ts) {
  if (opcode_ & 0x8) {
    stats_.control_frames++;
    if (opcode_ == kOpPing) {
      stats_.pings++;
    } else if (opcode_ == kOpPong) {
      stats_.pongs++;
    } else {
      stats_.closes++;
      WsMessage close;
      close.from_client = from_client_;
      close.opcode = kOpClose;
      close.payload = std::move(ctrl_);
      close.ts_first_ns = frame_ts_first_;
      close.ts_last_ns = ts;
      ctrl_.clear();
      // RFC 6455 §5.5.1: nothing follows a close frame; an open message never completes.
      if (msg_open_) deliver_message(ts, true);
      closed_ = true;
      if (on_message_) on_message_(std::move(close));
    }
    return;
  }
  if (fin_) deliver_message(ts, false);
}

void WsDecoder::deliver_message(uint64_t ts, bool truncated) {
  if (msg_compressed_ && inflater_) {
    if (!msg_inflate_dead_ && !truncated) {
      // Only a complete message gets the tail: a cut one would flush a partial block.
      data_bytes(std::span<const uint8_t>(kDeflateTail, sizeof kDeflateTail));
    } else if (truncated && !msg_inflate_dead_) {
      inflater_->broken = true;  // the rest of this message never reached the window
    }
    const bool no_takeover =
        from_client_ ? opt_.client_no_context_takeover : opt_.server_no_context_takeover;
    // A message that ended its deflate stream (final block) also starts the next afresh.
    if (no_takeover || (msg_inflate_dead_ && !inflater_->broken)) {
      inflater_->reset();
      inflater_->broken = false;
    }
  }
  msg_open_ = false;
  WsMessage m = std::move(msg_);
  msg_ = WsMessage{};
  m.truncated = truncated || msg_truncated_;
  m.ts_last_ns = std::max(m.ts_last_ns, ts);
  stats_.messages++;
  stats_.payload_bytes += m.payload.size();
  if (m.truncated) stats_.truncated++;
  if (on_message_) on_message_(std::move(m));
  msg_lease_.reset();  // consumers take what they need during the call
}

}  // namespace rein::proto
