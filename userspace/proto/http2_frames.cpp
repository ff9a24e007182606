#include "proto/http2_frames.h"

#include <algorithm>
#include <utility>

namespace rein::proto {

namespace {

uint32_t be24(const uint8_t* p) {
  return (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | uint32_t{p[2]};
}
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

Http2FrameHeader parse_http2_frame_header(std::span<const uint8_t, kHttp2FrameHeaderSize> b) {
  Http2FrameHeader h;
  h.length = be24(b.data());
  h.type = b[3];
  h.flags = b[4];
  h.stream_id = be32(b.data() + 5) & 0x7fffffffu;  // the reserved bit carries no meaning
  return h;
}

Http2FrameReader::Http2FrameReader(bool expect_preface, FrameHandler on_frame)
    : on_frame_(std::move(on_frame)), preface_left_(expect_preface ? kHttp2Preface.size() : 0) {}

void Http2FrameReader::set_max_frame_size(uint32_t n) {
  max_frame_size_ = std::clamp(n, kHttp2DefaultMaxFrameSize, kHttp2MaxFrameSizeCap);
}

Result<void> Http2FrameReader::fail(std::string msg) {
  failed_ = true;
  error_ = std::move(msg);
  buf_.clear();
  buf_.shrink_to_fit();
  lease_.reset();
  return make_error(error_);
}

Result<void> Http2FrameReader::feed(std::span<const uint8_t> bytes, uint64_t ts_ns) {
  if (failed_) return make_error(error_);
  while (preface_left_ > 0 && !bytes.empty()) {
    const size_t at = kHttp2Preface.size() - preface_left_;
    const size_t n = std::min(preface_left_, bytes.size());
    if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n),
                    kHttp2Preface.begin() + static_cast<std::ptrdiff_t>(at)))
      return fail("no HTTP/2 connection preface");
    preface_left_ -= n;
    position_ += n;
    bytes = bytes.subspan(n);
  }
  while (!bytes.empty()) {
    if (buf_.empty()) ts_first_ns_ = ts_ns;
    if (!cur_) {
      // Collect the 9-byte header, from the buffer and/or straight from the input.
      const size_t need = kHttp2FrameHeaderSize - buf_.size();
      if (bytes.size() < need) {
        buf_.insert(buf_.end(), bytes.begin(), bytes.end());
        position_ += bytes.size();
        return {};
      }
      buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(need));
      position_ += need;
      bytes = bytes.subspan(need);
      const Http2FrameHeader h =
          parse_http2_frame_header(std::span<const uint8_t, kHttp2FrameHeaderSize>(buf_.data(), kHttp2FrameHeaderSize));
      if (h.length > max_frame_size_)
        return fail("frame of " + std::to_string(h.length) + " bytes exceeds the maximum frame size " +
                    std::to_string(max_frame_size_));
      cur_ = h;
    }
    const size_t have = buf_.size() - kHttp2FrameHeaderSize;
    const size_t take = std::min<size_t>(cur_->length - have, bytes.size());
    std::span<const uint8_t> payload;
    if (have == 0 && take == cur_->length) {
      payload = bytes.first(take);  // whole payload in this chunk: no copy
    } else {
      // Frames above the default size (up to 16 MiB each way before the peer's SETTINGS are
      // read) are buffered on the decode budget, which bounds them across all connections.
      if (have == 0 && cur_->length > kHttp2DefaultMaxFrameSize && !lease_.take(cur_->length))
        return fail("frame of " + std::to_string(cur_->length) +
                    " bytes: the decode budget is exhausted (rein run --decode-mib)");
      buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
      if (buf_.size() - kHttp2FrameHeaderSize < cur_->length) {
        position_ += take;
        return {};
      }
      payload = std::span<const uint8_t>(buf_).subspan(kHttp2FrameHeaderSize);
    }
    position_ += take;
    bytes = bytes.subspan(take);
    const Http2Frame frame{*cur_, payload, ts_first_ns_, ts_ns};
    frames_++;
    Result<void> r = on_frame_(frame);
    cur_.reset();
    buf_.clear();
    lease_.reset();
    // A huge frame's buffer is not kept around for the (usually small) frames that follow.
    if (buf_.capacity() > 2 * size_t{kHttp2DefaultMaxFrameSize}) buf_.shrink_to_fit();
    if (!r) return fail(r.error().message);
  }
  return {};
}

Result<std::span<const uint8_t>> http2_strip_padding(const Http2Frame& frame) {
  std::span<const uint8_t> p = frame.payload;
  if (!(frame.header.flags & h2flag::kPadded)) return p;
  if (p.empty()) return make_error("padded frame without pad length");
  const size_t pad = p[0];
  if (pad > p.size() - 1) return make_error("padding exceeds frame payload");
  return p.subspan(1, p.size() - 1 - pad);
}

Result<std::span<const uint8_t>> http2_headers_fragment(const Http2Frame& frame) {
  Result<std::span<const uint8_t>> p = http2_strip_padding(frame);
  if (!p) return p;
  if (frame.header.flags & h2flag::kPriority) {
    // Stream dependency (4) and weight (1): irrelevant to us, but they sit in front.
    if (p->size() < 5) return make_error("HEADERS too short for priority fields");
    return p->subspan(5);
  }
  return p;
}

Result<Http2PushPromise> http2_push_promise(const Http2Frame& frame) {
  Result<std::span<const uint8_t>> p = http2_strip_padding(frame);
  if (!p) return p.error();
  if (p->size() < 4) return make_error("PUSH_PROMISE too short");
  return Http2PushPromise{be32(p->data()) & 0x7fffffffu, p->subspan(4)};
}

Result<std::vector<Http2Setting>> http2_settings(const Http2Frame& frame) {
  if (frame.header.stream_id != 0) return make_error("SETTINGS on a stream");
  if (frame.header.flags & h2flag::kAck) {
    if (!frame.payload.empty()) return make_error("SETTINGS ACK with payload");
    return std::vector<Http2Setting>{};
  }
  if (frame.payload.size() % 6 != 0) return make_error("SETTINGS length not a multiple of 6");
  std::vector<Http2Setting> out;
  out.reserve(frame.payload.size() / 6);
  for (size_t i = 0; i < frame.payload.size(); i += 6) {
    const uint8_t* q = frame.payload.data() + i;
    out.push_back({static_cast<uint16_t>((q[0] << 8) | q[1]), be32(q + 2)});
  }
  return out;
}

Result<Http2Goaway> http2_goaway(const Http2Frame& frame) {
  if (frame.header.stream_id != 0) return make_error("GOAWAY on a stream");
  if (frame.payload.size() < 8) return make_error("GOAWAY too short");
  return Http2Goaway{be32(frame.payload.data()) & 0x7fffffffu, be32(frame.payload.data() + 4)};
}

Result<uint32_t> http2_rst_stream(const Http2Frame& frame) {
  if (frame.header.stream_id == 0) return make_error("RST_STREAM on stream 0");
  if (frame.payload.size() != 4) return make_error("RST_STREAM length not 4");
  return be32(frame.payload.data());
}

}  // namespace rein::proto
