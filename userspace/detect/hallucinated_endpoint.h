// Hallucinated endpoint: the agent fails to reach something (NXDOMAIN, connection refused,
// a TLS connection that never carried data, HTTP 404, a package install that exits
// non-zero) that a recent LLM response of the same session named. The event links the
// response id and the span of its text. One event per (session, mention).
//
// The answers are read lazily while there is room. A successful answer's body is kept
// unread (bounded: at most kMaxUnread answers and kMaxUnreadBytes of them, for at most the
// window); its text is walked and its mentions taken only when a failure of the same session
// could need them. Once the bounds are near, the engine hands over the next answers' text
// instead (walked on the LLM stage's parse, as before there was a lazy path): reading a kept
// body parses it again, dearer than that walk, so it pays only for answers no failure ever
// asks about. Each answer is read at most once, and a session's mentions are kept in the
// order of their answers however late they were read, so a failure is compared with what
// reading every answer at once gave (the same text, mentions, order and bounds). An agent
// whose failures are rarer than its LLM calls, at up to a few thousand answers per window,
// no longer pays for walking every streamed event of every answer.
#pragma once
#include <deque>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/string_map.h"
#include "detect/byte_ring.h"
#include "detect/detector_util.h"
#include "detect/llm_content.h"
#include "detect/mentions.h"

namespace rein::detect {

class HallucinatedEndpointDetector {
 public:
  // Unread answers across all sessions. 4 MiB holds the 600 s window of a few agents that
  // stream an answer every few seconds; beyond it the oldest are read, so no mention is lost.
  static constexpr size_t kMaxUnread = 4096;
  static constexpr size_t kMaxUnreadBytes = 4u << 20;
  static constexpr size_t kMaxUnreadBody = 1u << 20;  // a larger answer is read at once

  void configure(const policy::HallucinatedEndpointConfig& c) { cfg_ = c; }
  void set_time_format(TimeFormat f) { time_ = std::move(f); }
  void on_llm(const LlmFact& f);
  void on_dns(const DnsFact& f, std::vector<Detection>& out);
  void on_connect(const ConnectFact& f, std::vector<Detection>& out);
  void on_http(const HttpFact& f, std::vector<Detection>& out);
  void on_tls_failure(const TlsFailureFact& f, std::vector<Detection>& out);
  void on_exec(const ExecFact& f);
  void on_exit(const ExitFact& f, std::vector<Detection>& out);
  void on_session_end(std::string_view session);
  // Room to keep the next answer unread.
  bool has_room() const;
  size_t tracked() const;
  // Answers whose text was walked (a failure came, or they left the bounds), and those
  // dropped unread (past the window, or their session ended).
  uint64_t answers_read() const { return answers_read_; }
  uint64_t answers_dropped_unread() const { return answers_dropped_; }
  size_t state_bytes() const;  // estimate (detect/state_bytes.h)

 private:
  struct Recent {
    uint64_t ts = 0;
    std::string response_id, provider, model;
    Mention m;
  };
  struct Session {
    std::deque<Recent> mentions;
    std::set<std::string> reported;
    uint64_t last = 0;
  };
  struct PendingInstall {
    uint64_t ts = 0;
    std::string session, name, manager, package, command;
    uint32_t root = 0;
    Recent mention;
  };
  // An answer not read yet: its session, response id, provider, model, content type and
  // body, one after the other in the ring. Read or dropped, it stays (not live) until it is
  // the oldest, when its bytes go back to the ring.
  struct Unread {
    uint64_t ts = 0;
    size_t session_hash = 0;
    std::optional<llm::Api> api;
    uint32_t len[5] = {0, 0, 0, 0, 0};
    ByteRing::Slot slot;
    bool live = true;
  };
  // Part i of an unread answer (0-4 as above, 5: the body).
  std::string_view part(const Unread& u, size_t i) const;
  void settle(Unread& u, bool read_it);
  void keep(const LlmFact& f, const AnswerSource& a);
  void read(const Unread& u);
  void pop_unread(bool read_it);
  // Reads every unread answer of `session` (oldest first) when `read_them`, or drops them.
  void take_unread(std::string_view session, bool read_them);
  void add_mentions(std::string_view session, uint64_t ts, std::string_view response_id,
                    std::string_view provider, std::string_view model, std::string_view text);
  Session* session(const Who& who, uint64_t now);
  void report(const Who& who, uint64_t ts, std::string_view failure, std::string_view what,
              const Recent& r, std::vector<Detection>& out);

  policy::HallucinatedEndpointConfig cfg_;
  TimeFormat time_;
  StringMap<Session> sessions_;
  std::unordered_map<uint32_t, PendingInstall> installs_;  // by pid
  std::deque<Unread> unread_;                              // oldest first
  ByteRing ring_{kMaxUnreadBytes};
  std::unordered_map<size_t, uint32_t> unread_by_session_;  // live ones, by session_hash
  size_t unread_live_ = 0;
  uint64_t answers_read_ = 0, answers_dropped_ = 0;
  // Its own: the engine's extractor holds the content of the exchange in flight.
  LlmContentExtractor reader_;
};

}  // namespace rein::detect
