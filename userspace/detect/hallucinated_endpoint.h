// Hallucinated endpoint: the agent fails to reach something (NXDOMAIN, connection refused,
// a TLS connection that never carried data, HTTP 404, a package install that exits
// non-zero) that a recent LLM response of the same session named. The event links the
// response id and the span of its text. One event per (session, mention).
#pragma once
#include <deque>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/string_map.h"
#include "detect/detector_util.h"
#include "detect/mentions.h"

namespace rein::detect {

class HallucinatedEndpointDetector {
 public:
  void configure(const policy::HallucinatedEndpointConfig& c) { cfg_ = c; }
  void set_time_format(TimeFormat f) { time_ = std::move(f); }
  void on_llm(const LlmFact& f);
  void on_dns(const DnsFact& f, std::vector<Detection>& out);
  void on_connect(const ConnectFact& f, std::vector<Detection>& out);
  void on_http(const HttpFact& f, std::vector<Detection>& out);
  void on_tls_failure(const TlsFailureFact& f, std::vector<Detection>& out);
  void on_exec(const ExecFact& f);
  void on_exit(const ExitFact& f, std::vector<Detection>& out);
  void on_session_end(std::string_view session) { sessions_.erase(std::string(session)); }
  size_t tracked() const;
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
  Session* session(const Who& who, uint64_t now);
  void report(const Who& who, uint64_t ts, std::string_view failure, std::string_view what,
              const Recent& r, std::vector<Detection>& out);

  policy::HallucinatedEndpointConfig cfg_;
  TimeFormat time_;
  StringMap<Session> sessions_;
  std::unordered_map<uint32_t, PendingInstall> installs_;  // by pid
};

}  // namespace rein::detect
