#include "proto/http2_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "proto/http1_head.h"  // header_tokens, normalize_host
#include "proto/http2_frames.h"

namespace rein::proto {

namespace {

struct InflaterDeleter {
  void operator()(nghttp2_hd_inflater* p) const { nghttp2_hd_inflate_del(p); }
};
using InflaterPtr = std::unique_ptr<nghttp2_hd_inflater, InflaterDeleter>;

InflaterPtr make_inflater() {
  nghttp2_hd_inflater* p = nullptr;
  if (nghttp2_hd_inflate_new(&p) != 0) return nullptr;
  return InflaterPtr(p);
}

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Decodes one complete header block. Every field is decoded even past the bounds, because
// the dynamic table must see every insertion to stay in sync with the encoder; only what
// is kept is bounded (a few bytes of indexed references can expand to the whole table).
Result<void> inflate_block(nghttp2_hd_inflater* inf, std::span<const uint8_t> block,
                           const Http2ConnectionLimits& limits, std::vector<HttpHeader>& out,
                           uint64_t& dropped) {
  const uint8_t* in = block.data();
  size_t left = block.size();
  size_t kept_bytes = 0;
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
    if (rv < 0) return make_error("HPACK decoding failed");
    in += rv;
    left -= static_cast<size_t>(rv);
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      // An empty name is malformed (RFC 9113 §8.2.1) and would be a trap for consumers.
      if (nv.namelen > 0 && out.size() < limits.max_headers &&
          kept_bytes + nv.namelen + nv.valuelen <= limits.max_header_list_bytes) {
        kept_bytes += nv.namelen + nv.valuelen;
        HttpHeader h;
        h.name.assign(reinterpret_cast<const char*>(nv.name), nv.namelen);
        for (char& c : h.name) c = lower_ascii(c);
        h.value.assign(reinterpret_cast<const char*>(nv.value), nv.valuelen);
        out.push_back(std::move(h));
      } else {
        dropped++;
      }
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inf);
      return {};
    }
    // With in_final set, the inflater either emits, finishes, or fails; anything else would
    // loop forever, so treat it as a broken block.
    if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && rv == 0) return make_error("HPACK block incomplete");
  }
}

std::optional<int> parse_status(std::string_view v) {
  if (v.size() != 3 || v[0] < '1' || v[0] > '9') return std::nullopt;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

const char* side_name(int dir) { return dir == 0 ? "client: " : "server: "; }

constexpr size_t kMaxUnackedSettings = 16;

}  // namespace

struct Http2Connection::Stream {
  uint32_t id = 0;
  uint64_t seq = 0;
  HttpExchange ex;
  bool req_started = false;  // request HEADERS seen
  bool req_done = false;
  bool resp_done = false;    // final response ended (or never will: reset, misuse)
  bool got_body = false;
  std::unique_ptr<ContentDecoder> req_dec;
  std::unique_ptr<ContentDecoder> resp_dec;
  BudgetLease req_lease;  // decoded bodies' share of the decode budget
  BudgetLease resp_lease;
  // The header fields kept on this stream: HPACK lets a few bytes on the wire name a large
  // table entry again and again, so what is kept is charged to the budget too.
  BudgetLease header_lease;
};

// One direction: reassembly -> frame reader -> connection, plus the per-direction HTTP/2
// state: the HPACK inflater for header blocks sent this way, a header block being collected
// across CONTINUATION frames, and what this side announced in SETTINGS.
class Http2Connection::Side final : public stream::StreamConsumer {
 public:
  Side(Http2Connection& conn, int dir, const Http2ConnectionLimits& limits)
      : conn_(conn),
        dir_(dir),
        reader(dir == kClientToServer,
               [this](const Http2Frame& f) {
                 Result<void> r = conn_.on_frame(dir_, f);
                 if (!r) handler_failed_ = true;
                 return r;
               }),
        reassembler(*this, limits.reassembly,
                    limits.anchor_at_first_chunk ? std::nullopt : std::optional<uint64_t>(0)),
        inflater(make_inflater()) {
    // Until the receiving side's SETTINGS are seen its frame size limit is unknown, and a
    // larger announced limit may well be in a chunk we have not been fed yet (directions are
    // not ordered against each other): accept anything framing allows meanwhile.
    reader.set_max_frame_size(kHttp2MaxFrameSizeCap);
    reader.set_budget_owner(limits.body.budget_owner);
  }

  void on_data(std::span<const uint8_t> data, uint64_t ts_ns) override {
    if (!got_data_) {
      got_data_ = true;
      const uint64_t start = reassembler.next_offset() - data.size();
      if (start != 0) {
        conn_.fail(dir_, "capture began mid-connection at offset " + std::to_string(start) +
                             ": HPACK state unknown, HTTP/2 cannot be decoded");
      }
    }
    if (conn_.unparseable()) {
      conn_.stats_.bytes_ignored_after_error += data.size();
      return;
    }
    const uint64_t before = reader.position();
    Result<void> r = reader.feed(data, ts_ns);
    if (!r) {
      if (!handler_failed_) conn_.stats_.protocol_errors++;  // framing error in the reader
      conn_.fail(dir_, r.error().message);
      conn_.stats_.bytes_ignored_after_error += data.size() - (reader.position() - before);
    }
  }

  // Framing and HPACK state cannot survive lost bytes: there is no resynchronisation in
  // HTTP/2 (frame boundaries are not recognisable, and the dynamic table may have changed).
  void on_gap(uint64_t, uint64_t) override {
    got_data_ = true;
    conn_.fail(dir_, "gap at offset " + std::to_string(reassembler.next_offset()));
  }

 private:
  Http2Connection& conn_;
  int dir_;
  bool got_data_ = false;
  bool handler_failed_ = false;

 public:
  Http2FrameReader reader;
  stream::Reassembler reassembler;
  InflaterPtr inflater;
  uint32_t table_size = kHttp2DefaultHeaderTableSize;  // what `inflater` currently accepts
  bool first_frame_seen = false;
  bool settings_seen = false;  // this side sent SETTINGS: its frame size limit is known
  uint32_t announced_max_frame = kHttp2DefaultMaxFrameSize;
  // HEADER_TABLE_SIZE values this side announced, one entry per SETTINGS frame, until the
  // other side ACKs them (that ACK is where the other side's encoder switched).
  std::deque<std::optional<uint32_t>> unacked_table_sizes;
  uint64_t acks_before_settings = 0;  // ACKs parsed before the SETTINGS they acknowledge
  // Header block under construction (HEADERS/PUSH_PROMISE without END_HEADERS).
  bool in_block = false;
  std::vector<uint8_t> block;
  uint32_t block_stream = 0;
  bool block_end_stream = false;
  bool block_push = false;
  uint64_t block_ts_first = 0;
};

Http2Connection::Http2Connection(ExchangeHandler on_exchange, Http2ConnectionLimits limits)
    : on_exchange_(std::move(on_exchange)), owned_hold_(limits.body.budget_owner), limits_(limits) {
  limits_.reassembly = owned_reassembly(limits_.reassembly, limits_.body.budget_owner, owned_hold_);
  sides_[0] = std::make_unique<Side>(*this, kClientToServer, limits_);
  sides_[1] = std::make_unique<Side>(*this, kServerToClient, limits_);
}

Http2Connection::~Http2Connection() = default;

bool Http2Connection::is_preface(std::span<const uint8_t> first_client_bytes) {
  const size_t n = std::min(first_client_bytes.size(), kHttp2Preface.size());
  if (n < 4) return false;
  return std::equal(first_client_bytes.begin(),
                    first_client_bytes.begin() + static_cast<std::ptrdiff_t>(n),
                    kHttp2Preface.begin());
}

void Http2Connection::set_response_body_handler(ResponseBodyHandler handler) {
  on_response_body_ = std::move(handler);
}

void Http2Connection::feed(int direction, uint64_t offset, std::span<const uint8_t> bytes,
                           uint64_t ts_ns) {
  if (closed_) {
    stats_.ignored_after_close += bytes.size();
    return;
  }
  if (direction != kClientToServer && direction != kServerToClient) return;
  last_ts_ = std::max(last_ts_, ts_ns);
  sides_[direction]->reassembler.push(offset, bytes, ts_ns);
}

void Http2Connection::expire(uint64_t now_ns) {
  if (closed_) return;
  sides_[0]->reassembler.expire(now_ns);
  sides_[1]->reassembler.expire(now_ns);
}

void Http2Connection::close(uint64_t ts_ns) {
  if (closed_) return;
  sides_[0]->reassembler.flush(ts_ns);
  sides_[1]->reassembler.flush(ts_ns);
  closed_ = true;
  while (!streams_.empty()) deliver_stream(streams_.begin()->first, ts_ns);
}

const stream::ReassemblerStats& Http2Connection::reassembly_stats(int direction) const {
  return sides_[direction == kClientToServer ? 0 : 1]->reassembler.stats();
}

void Http2Connection::fail(int dir, const std::string& msg) {
  if (error_.empty()) error_ = side_name(dir) + msg;
}

Result<void> Http2Connection::protocol_error(std::string msg) {
  stats_.protocol_errors++;
  return make_error(std::move(msg));
}

// ---- frames ----

Result<void> Http2Connection::on_frame(int dir, const Http2Frame& frame) {
  Side& side = *sides_[dir];
  stats_.frames++;
  const auto type = static_cast<Http2FrameType>(frame.header.type);
  if (!side.first_frame_seen) {
    side.first_frame_seen = true;
    if (type != Http2FrameType::kSettings || (frame.header.flags & h2flag::kAck))
      return protocol_error("first frame is not SETTINGS");
  }
  // A header block is one unit on the wire: nothing may come between its frames.
  if (side.in_block && type != Http2FrameType::kContinuation)
    return protocol_error("header block interrupted by another frame");
  switch (type) {
    case Http2FrameType::kData:
      return on_data_frame(dir, frame);
    case Http2FrameType::kHeaders:
    case Http2FrameType::kPushPromise:
      return on_headers_frame(dir, frame);
    case Http2FrameType::kContinuation:
      return on_continuation(dir, frame);
    case Http2FrameType::kRstStream:
      return on_rst_stream(frame);
    case Http2FrameType::kSettings:
      return on_settings(dir, frame);
    case Http2FrameType::kGoaway:
      return on_goaway(dir, frame);
    case Http2FrameType::kPriority:
    case Http2FrameType::kPing:
    case Http2FrameType::kWindowUpdate:
      return {};  // flow control and priorities do not change what was said
  }
  return {};  // unknown frame types must be ignored (RFC 9113 §4.1)
}

Result<void> Http2Connection::on_headers_frame(int dir, const Http2Frame& frame) {
  Side& side = *sides_[dir];
  const bool push = frame.header.type == static_cast<uint8_t>(Http2FrameType::kPushPromise);
  if (frame.header.stream_id == 0) return protocol_error("header block on stream 0");
  std::span<const uint8_t> fragment;
  if (push) {
    Result<Http2PushPromise> pp = http2_push_promise(frame);
    if (!pp) return protocol_error(pp.error().message);
    fragment = pp->fragment;
  } else {
    Result<std::span<const uint8_t>> f = http2_headers_fragment(frame);
    if (!f) return protocol_error(f.error().message);
    fragment = *f;
  }
  if (fragment.size() > limits_.max_header_block)
    return protocol_error("header block exceeds the limit");
  const bool end_stream = !push && (frame.header.flags & h2flag::kEndStream);
  if (frame.header.flags & h2flag::kEndHeaders)
    return on_header_block(dir, fragment, frame.header.stream_id, end_stream, push,
                           frame.ts_first_ns, frame.ts_ns);
  side.in_block = true;
  side.block.assign(fragment.begin(), fragment.end());
  side.block_stream = frame.header.stream_id;
  side.block_end_stream = end_stream;
  side.block_push = push;
  side.block_ts_first = frame.ts_first_ns;
  return {};
}

Result<void> Http2Connection::on_continuation(int dir, const Http2Frame& frame) {
  Side& side = *sides_[dir];
  if (!side.in_block || frame.header.stream_id != side.block_stream)
    return protocol_error("CONTINUATION without a header block in progress");
  if (side.block.size() + frame.payload.size() > limits_.max_header_block)
    return protocol_error("header block exceeds the limit");
  side.block.insert(side.block.end(), frame.payload.begin(), frame.payload.end());
  if (!(frame.header.flags & h2flag::kEndHeaders)) return {};
  side.in_block = false;
  std::vector<uint8_t> block = std::move(side.block);
  side.block.clear();
  Result<void> r = on_header_block(dir, block, side.block_stream, side.block_end_stream,
                                   side.block_push, side.block_ts_first, frame.ts_ns);
  if (block.capacity() <= 2 * size_t{kHttp2DefaultMaxFrameSize}) {
    block.clear();
    side.block = std::move(block);  // reuse the allocation for the next block
  }
  return r;
}

Result<void> Http2Connection::on_header_block(int dir, std::span<const uint8_t> block,
                                              uint32_t stream_id, bool end_stream, bool push,
                                              uint64_t ts_first, uint64_t ts) {
  Side& side = *sides_[dir];
  if (!side.inflater) return make_error("out of memory for the HPACK inflater");
  std::vector<HttpHeader> fields;
  Result<void> r = inflate_block(side.inflater.get(), block, limits_, fields, stats_.dropped_headers);
  if (!r) {
    stats_.hpack_errors++;
    return r;
  }
  if (push) {
    stats_.pushed_streams_ignored++;
    return {};
  }
  if (stream_id % 2 == 0) {  // a pushed response, or a client misusing even ids
    if (dir == kClientToServer) stats_.protocol_errors++;
    return {};
  }

  Stream* s = nullptr;
  if (auto it = streams_.find(stream_id); it != streams_.end()) {
    s = it->second.get();
  } else {
    // Frames for streams already delivered (reset, evicted, refused) must not start new ones.
    if (closed_ids_.count(stream_id)) return {};
    if (dir == kClientToServer && stream_id <= max_client_stream_id_) {
      stats_.protocol_errors++;  // stream ids only grow (RFC 9113 5.1.1)
      return {};
    }
    s = open_stream(stream_id, ts);
  }
  size_t kept = 0;
  for (const HttpHeader& h : fields) kept += h.name.size() + h.value.size();
  if (!s->header_lease.take(kept)) {
    stats_.dropped_headers += fields.size();
    fields.clear();
  }
  if (dir == kClientToServer) {
    max_client_stream_id_ = std::max(max_client_stream_id_, stream_id);
    on_request_headers(*s, fields, end_stream, ts_first, ts);
  } else {
    on_response_headers(*s, fields, end_stream, ts_first, ts);
  }
  maybe_deliver(stream_id);
  return {};
}

void Http2Connection::on_request_headers(Stream& s, std::vector<HttpHeader>& fields,
                                         bool end_stream, uint64_t ts_first, uint64_t ts) {
  HttpRequest& req = s.ex.request;
  if (s.req_done) return;  // e.g. HEADERS after END_STREAM: nothing to add
  const bool trailers = s.req_started;
  std::string authority;
  for (HttpHeader& h : fields) {
    if (!h.name.empty() && h.name.front() == ':') {
      if (trailers) continue;  // pseudo-headers are not allowed in trailers
      if (h.name == ":method") req.method = std::move(h.value);
      else if (h.name == ":path") req.target = std::move(h.value);
      else if (h.name == ":authority") authority = std::move(h.value);
      continue;
    }
    req.headers.push_back(std::move(h));
  }
  if (!trailers) {
    s.req_started = true;
    const std::string* host = find_header(req.headers, "host");
    req.host = normalize_host(!authority.empty() ? std::string_view(authority)
                                                 : host ? std::string_view(*host) : std::string_view());
    req.ts_start_ns = ts_first;
    s.req_dec = std::make_unique<ContentDecoder>(header_tokens(req.headers, "content-encoding"),
                                                 limits_.body);
  }
  req.ts_end_ns = std::max(req.ts_end_ns, ts);
  if (trailers) {
    // Trailers must end the stream; without END_STREAM another block could follow, and
    // another, each adding fields: end the side there either way.
    if (!end_stream) stats_.protocol_errors++;
    end_request(s, end_stream, ts);
  } else if (end_stream) {
    end_request(s, true, ts);
  }
}

void Http2Connection::on_response_headers(Stream& s, std::vector<HttpHeader>& fields,
                                          bool end_stream, uint64_t ts_first, uint64_t ts) {
  if (s.resp_done) return;
  if (s.ex.response) {  // trailers after the final response
    for (HttpHeader& h : fields)
      if (h.name.empty() || h.name.front() != ':') s.ex.response->headers.push_back(std::move(h));
    s.ex.response->ts_end_ns = std::max(s.ex.response->ts_end_ns, ts);
    if (!end_stream) stats_.protocol_errors++;  // see on_request_headers
    end_response(s, end_stream, ts);
    return;
  }
  std::optional<int> status;
  for (const HttpHeader& h : fields)
    if (h.name == ":status") status = parse_status(h.value);
  if (!status) {
    stats_.protocol_errors++;  // malformed response: the stream carries nothing usable
    end_response(s, false, ts);
    return;
  }
  if (*status < 200) {
    // Interim (100 Continue, 103 Early Hints): the final response is still to come. One
    // that ends the stream is malformed and leaves the request unanswered.
    if (end_stream) {
      stats_.protocol_errors++;
      end_response(s, false, ts);
    }
    return;
  }
  HttpResponse& resp = s.ex.response.emplace();
  resp.status = *status;
  for (HttpHeader& h : fields)
    if (h.name.empty() || h.name.front() != ':') resp.headers.push_back(std::move(h));
  resp.ts_first_byte_ns = ts_first;
  resp.ts_end_ns = ts;
  s.resp_dec = std::make_unique<ContentDecoder>(header_tokens(resp.headers, "content-encoding"),
                                                limits_.body);
  if (end_stream) end_response(s, true, ts);
}

Result<void> Http2Connection::on_data_frame(int dir, const Http2Frame& frame) {
  if (frame.header.stream_id == 0) return protocol_error("DATA on stream 0");
  Result<std::span<const uint8_t>> data = http2_strip_padding(frame);
  if (!data) return protocol_error(data.error().message);
  auto it = streams_.find(frame.header.stream_id);
  if (it == streams_.end()) return {};  // delivered already, pushed, or never opened
  Stream& s = *it->second;
  const bool end_stream = frame.header.flags & h2flag::kEndStream;
  const uint64_t ts = frame.ts_ns;
  if (dir == kClientToServer) {
    if (!s.req_started || s.req_done) return {};
    HttpRequest& req = s.ex.request;
    if (!data->empty()) s.req_dec->feed(*data, req.body);
    req.ts_end_ns = std::max(req.ts_end_ns, ts);
    if (end_stream) end_request(s, true, ts);
  } else {
    if (s.resp_done) return {};
    if (!s.ex.response) {
      stats_.protocol_errors++;  // DATA before the final response HEADERS
      return {};
    }
    HttpResponse& resp = *s.ex.response;
    if (!data->empty()) {
      if (!s.got_body) {
        s.got_body = true;
        resp.ts_first_body_ns = ts;
      }
      const size_t before = resp.body.size();
      s.resp_dec->feed(*data, resp.body);
      if (on_response_body_ && resp.body.size() > before) {
        const ResponseBodyChunk chunk{s.seq, s.ex.request, resp,
                                      std::string_view(resp.body).substr(before), ts};
        on_response_body_(chunk);
      }
    }
    resp.ts_end_ns = std::max(resp.ts_end_ns, ts);
    if (end_stream) end_response(s, true, ts);
  }
  maybe_deliver(frame.header.stream_id);
  return {};
}

Result<void> Http2Connection::on_rst_stream(const Http2Frame& frame) {
  Result<uint32_t> code = http2_rst_stream(frame);
  if (!code) return protocol_error(code.error().message);
  stats_.rst_streams++;
  if (streams_.count(frame.header.stream_id)) deliver_stream(frame.header.stream_id, frame.ts_ns);
  return {};
}

Result<void> Http2Connection::on_goaway(int dir, const Http2Frame& frame) {
  Result<Http2Goaway> g = http2_goaway(frame);
  if (!g) return protocol_error(g.error().message);
  stats_.goaways++;
  // Only the server's GOAWAY speaks about client-initiated streams: those above its last
  // stream id were never processed and will not be answered.
  if (dir != kServerToClient) return {};
  std::vector<uint32_t> refused;
  for (auto it = streams_.upper_bound(g->last_stream_id); it != streams_.end(); ++it)
    refused.push_back(it->first);
  for (uint32_t id : refused) deliver_stream(id, frame.ts_ns);
  return {};
}

Result<void> Http2Connection::on_settings(int dir, const Http2Frame& frame) {
  Result<std::vector<Http2Setting>> settings = http2_settings(frame);
  if (!settings) return protocol_error(settings.error().message);
  Side& side = *sides_[dir];
  Side& other = *sides_[1 - dir];
  if (frame.header.flags & h2flag::kAck) {
    // This side acknowledges the other side's oldest unacknowledged SETTINGS: from here on
    // in this direction, its encoder works within the table size announced there.
    if (other.unacked_table_sizes.empty()) {
      other.acks_before_settings++;
      return {};
    }
    const std::optional<uint32_t> size = other.unacked_table_sizes.front();
    other.unacked_table_sizes.pop_front();
    if (size && *size < side.table_size) return set_table_size(dir, *size);
    return {};
  }
  std::optional<uint32_t> table;
  for (const Http2Setting& s : *settings) {
    if (s.id == h2setting::kHeaderTableSize) {
      table = std::min(s.value, limits_.max_header_table_size);
    } else if (s.id == h2setting::kMaxFrameSize) {
      if (s.value < kHttp2DefaultMaxFrameSize || s.value > kHttp2MaxFrameSizeCap)
        return protocol_error("SETTINGS_MAX_FRAME_SIZE out of range");
      // A lower value than before races with frames already in flight: keep the largest.
      side.announced_max_frame = std::max(side.announced_max_frame, s.value);
    }
  }
  // The limit this side announced applies to what the other side sends.
  side.settings_seen = true;
  other.reader.set_max_frame_size(side.announced_max_frame);

  // The other side's encoder (direction 1 - dir) adopts `table` when it ACKs. A larger table
  // only widens what we accept, so it is safe at once; a smaller one shrinks (evicts) the
  // table and must wait for the ACK, or blocks sent before it would decode wrongly.
  if (side.acks_before_settings > 0) {
    side.acks_before_settings--;
    if (table) return set_table_size(1 - dir, *table);
    return {};
  }
  // Without the other direction (one-sided capture) no ACK ever comes: keep the queue short.
  // Forgetting the oldest entry only matters if it was a shrink, which the encoder then
  // announces with its own size update anyway.
  if (side.unacked_table_sizes.size() >= kMaxUnackedSettings) side.unacked_table_sizes.pop_front();
  side.unacked_table_sizes.push_back(table);
  if (table && *table > other.table_size) return set_table_size(1 - dir, *table);
  return {};
}

Result<void> Http2Connection::set_table_size(int dir, uint32_t size) {
  Side& side = *sides_[dir];
  if (!side.inflater) return make_error("out of memory for the HPACK inflater");
  // Never called inside a header block: blocks are collected whole and inflated at once.
  if (nghttp2_hd_inflate_change_table_size(side.inflater.get(), size) != 0) {
    stats_.hpack_errors++;
    return make_error("HPACK table size change rejected");
  }
  side.table_size = size;
  return {};
}

// ---- streams ----

Http2Connection::Stream* Http2Connection::open_stream(uint32_t id, uint64_t ts) {
  while (!streams_.empty() && streams_.size() >= limits_.max_open_streams) {
    stats_.evicted_streams++;
    deliver_stream(streams_.begin()->first, ts);  // lowest id: the oldest stream
  }
  auto s = std::make_unique<Stream>();
  s->header_lease = BudgetLease(DecodeBudget::global(), limits_.body.budget_owner);
  s->id = id;
  s->seq = next_seq_++;
  Stream* p = s.get();
  streams_.emplace(id, std::move(s));
  stats_.streams++;
  return p;
}

void Http2Connection::end_request(Stream& s, bool complete, uint64_t ts) {
  if (s.req_done) return;
  s.req_done = true;
  if (!s.req_started) return;
  HttpRequest& req = s.ex.request;
  if (s.req_dec) {
    s.req_dec->finish();
    req.body_truncated = s.req_dec->truncated() || (s.req_dec->stopped() && !s.req_dec->error().empty());
    s.req_lease = s.req_dec->take_lease();  // the body stays until the exchange is out
    s.req_dec.reset();
  }
  if (!complete) req.body_truncated = true;
  req.ts_end_ns = std::max(req.ts_end_ns, ts);
}

void Http2Connection::end_response(Stream& s, bool complete, uint64_t ts) {
  if (s.resp_done) return;
  s.resp_done = true;
  if (!s.ex.response) return;
  HttpResponse& resp = *s.ex.response;
  if (s.resp_dec) {
    s.resp_dec->finish();
    resp.body_truncated = s.resp_dec->truncated();
    resp.decode_error = s.resp_dec->error();
    s.resp_lease = s.resp_dec->take_lease();
    s.resp_dec.reset();
  }
  resp.complete = complete;
  resp.ts_end_ns = std::max(resp.ts_end_ns, ts);
}

void Http2Connection::maybe_deliver(uint32_t id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second->req_done && it->second->resp_done)
    deliver_stream(id, 0);
}

void Http2Connection::deliver_stream(uint32_t id, uint64_t ts) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  end_request(*s, false, ts);   // no-ops for a side that already ended
  end_response(*s, false, ts);
  remember_closed(id);
  if (!s->ex.response) stats_.unanswered_requests++;
  stats_.exchanges++;
  if (on_exchange_) on_exchange_(std::move(s->ex), s->seq);
}

void Http2Connection::remember_closed(uint32_t id) {
  closed_ids_.insert(id);
  while (closed_ids_.size() > limits_.max_closed_ids) closed_ids_.erase(closed_ids_.begin());
}

}  // namespace rein::proto
