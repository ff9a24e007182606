// Incremental HTTP/1.1 message parser for one direction of a connection (RFC 9112). Fed
// arbitrary slices of the reassembled byte stream (one byte at a time works) and gap
// events; reports heads, body bytes as they arrive, and message ends to a sink. Handles
// Content-Length, chunked (extensions ignored, trailers parsed), read-until-close response
// bodies, interim 1xx responses (skipped), 101/CONNECT tunnels (parsing stops), and any
// number of messages in sequence (keep-alive, pipelining).
//
// Gaps. Inside a Content-Length body or a chunk's data, a gap no longer than what remains
// of it keeps framing intact: the message continues and ends marked incomplete. A gap
// anywhere else (in a head, a chunk-size line, between messages, or longer than the
// remaining body) destroys message boundaries: the current message ends incomplete and the
// parser scans for the next plausible message start ("HTTP/1.x NNN" for responses;
// "METHOD target HTTP/1.x" for requests), validating the start line before trusting it.
// Lost on resync: every message whose start fell inside the gap or inside the skipped bytes,
// and any request line longer than max_resync_line. A message found by resync is
// provisional until it ends cleanly: a malformed head or framing error sends the parser back
// to scanning instead of failing.
//
// Malformed input outside a resync marks the direction failed (error()); nothing is parsed
// after that. No error text quotes the input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/http1_head.h"

namespace rein::proto {

struct Http1Limits {
  size_t max_head_bytes = size_t{64} << 10;  // start line + headers, also the trailer block
  size_t max_headers = 128;
  size_t max_chunk_line = 4096;  // chunk size plus extensions
  size_t max_resync_line = 8192;  // longest request line resync can recognise
};

// Returned by the sink for a response head: what the matching request implies.
struct Http1BodyHint {
  bool no_body = false;  // the request was HEAD
  bool tunnel = false;   // the request was CONNECT: a 2xx response turns the stream opaque
};

class Http1Sink {
 public:
  virtual ~Http1Sink() = default;
  // A parsed head. Interim 1xx responses (except 101) are skipped and never reported.
  // ts_first_ns: timestamp of the slice holding the head's first byte. `head` may be moved.
  virtual Http1BodyHint on_head(Http1Head& head, uint64_t ts_first_ns, uint64_t ts_ns) = 0;
  // Body bytes of the current message, de-chunked, still content-encoded.
  virtual void on_body(std::span<const uint8_t> data, uint64_t ts_ns) = 0;
  // `length` body bytes of the current message were lost; framing survived.
  virtual void on_body_gap(uint64_t length, uint64_t ts_ns) {}
  virtual void on_trailers(std::vector<HttpHeader>& trailers) {}
  // The current message is over. complete=false: a gap, the end of the stream, or an error
  // cut it short.
  virtual void on_message_end(bool complete, uint64_t ts_ns) = 0;
  // A gap destroyed message boundaries; bytes are skipped until a message start is found.
  virtual void on_framing_lost(uint64_t ts_ns) {}
};

struct Http1ParserStats {
  uint64_t messages = 0;            // heads reported
  uint64_t interim_responses = 0;   // 1xx skipped
  uint64_t gap_bytes = 0;
  uint64_t resyncs = 0;             // times framing was lost (or a provisional message failed)
  uint64_t resync_skipped_bytes = 0;
  uint64_t ignored_bytes = 0;       // after failure, tunnel/upgrade, or stop()
};

class Http1Parser {
 public:
  Http1Parser(Http1Mode mode, Http1Sink& sink, Http1Limits limits = {});

  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  void feed(std::span<const uint8_t> data, uint64_t ts_ns);
  void gap(uint64_t length, uint64_t ts_ns);
  // End of stream. A read-until-close body ends complete; any other open message ends
  // incomplete.
  void finish(uint64_t ts_ns);
  // Stop parsing (the other direction switched protocols). An open message ends incomplete.
  void stop(uint64_t ts_ns);
  // The input begins wherever the capture joined the stream, perhaps inside a message: scan
  // for a message start as after a gap. Call before the first feed().
  void start_mid_stream(uint64_t ts_ns);
  // The open message will get no more bytes (its connection was abandoned and the stream
  // key now carries another one): it ends incomplete and the next byte starts a message.
  // Returns false, changing nothing, unless a message body is being read.
  bool cut_message(uint64_t ts_ns);

  bool failed() const { return state_ == State::kFailed; }
  const std::string& error() const { return error_; }
  bool tunneled() const { return tunneled_; }  // 101 or CONNECT 2xx seen
  bool message_open() const { return message_open_; }
  const Http1ParserStats& stats() const { return stats_; }

 private:
  enum class State {
    kHead,
    kBodyLength,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kBodyUntilClose,
    kResync,
    kStopped,
    kFailed,
  };

  size_t step_head(std::span<const uint8_t> in, uint64_t ts);
  size_t step_body(std::span<const uint8_t> in, uint64_t ts);
  size_t step_chunk_size(std::span<const uint8_t> in, uint64_t ts);
  size_t step_chunk_data_end(std::span<const uint8_t> in, uint64_t ts);
  size_t step_trailers(std::span<const uint8_t> in, uint64_t ts);
  size_t step_resync(std::span<const uint8_t> in, uint64_t ts);

  bool start_line_prefix_plausible() const;
  void complete_head(uint64_t ts);
  void begin_body(const Http1Head& head, Http1BodyHint hint, uint64_t ts);
  void end_message(bool complete, uint64_t ts);
  void fail(std::string why, uint64_t ts);
  void enter_resync(uint64_t ts, std::string seed);
  void scan_resync();
  bool candidate_start(std::string_view buf, size_t marker, size_t& start) const;
  void discard_resync_front(size_t n);

  Http1Mode mode_;
  Http1Sink& sink_;
  Http1Limits limits_;
  State state_ = State::kHead;
  std::string error_;

  std::string head_;        // head or trailer block being collected
  size_t line_start_ = 0;   // start of the current line within head_
  size_t field_count_ = 0;    // field lines in the current head or trailer block
  uint64_t head_first_ts_ = 0;
  std::string chunk_line_;
  bool chunk_line_cr_ = false;  // kChunkDataEnd: CR seen
  uint64_t remaining_ = 0;      // body or chunk bytes left

  bool message_open_ = false;   // head reported, end not yet
  bool message_gap_ = false;    // the open message lost bytes
  bool provisional_ = false;    // the current message was found by resync
  bool tunneled_ = false;

  std::string resync_buf_;
  size_t resync_scan_ = 0;      // resync_buf_ offset where the marker search resumes
  bool resync_waiting_ = false; // a candidate at resync_buf_[0] awaits the end of its line
  size_t resync_lf_from_ = 0;   // where the search for that line end resumes
  std::string handoff_;         // bytes from a located message start, replayed by feed()
  bool handoff_ready_ = false;

  Http1ParserStats stats_;
};

}  // namespace rein::proto
