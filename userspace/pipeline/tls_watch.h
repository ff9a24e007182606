// TLS that an agent opened and we could not read must not be silent. Every ClientHello of a
// tracked process opens a watch; plaintext decoded on the same connection (same process and
// socket fd, or same peer) closes it. A watch still open when the process exits, when its fd
// is reused by another connection, or after a quiet period becomes an `llm.unobserved` event
// with the reason user space knows (the TLS implementation found, what could not be hooked).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rein::pipeline {

// What the TLS hooks know about one process (filled by the daemon; empty in replay).
struct TlsCoverage {
  std::vector<std::string> hooked;       // TLS libraries hooked in the process
  std::vector<std::string> undecodable;  // TLS code found but not hookable, with reasons
  bool pending = false;                  // hooks still being prepared
  uint64_t hooked_at_ns = 0;             // when its first hook was attached (0: none)
};
using TlsCoverageFn = std::function<TlsCoverage(uint32_t pid)>;

struct TlsConnection {
  uint32_t tgid = 0;
  int32_t fd = -1;
  std::string sni, address;
  uint16_t port = 0;
  std::vector<std::string> alpn;
  uint64_t ts_ns = 0;  // the ClientHello
};

class TlsWatch {
 public:
  // partial: plaintext was decoded on the connection, but only after it had already sent
  // requests (the hooks came mid-connection): those requests were not seen.
  using OnUnobserved = std::function<void(const TlsConnection&, uint64_t now_ns, bool partial)>;
  explicit TlsWatch(OnUnobserved cb, uint64_t quiet_ns = 10'000'000'000ULL, size_t max = 4096)
      : cb_(std::move(cb)), quiet_ns_(quiet_ns), max_(max) {}

  void on_hello(TlsConnection c);
  // Plaintext of a TLS connection of `tgid` was decoded (fd -1 when unknown); late: it is
  // the connection's first and the socket already carried requests.
  void on_plaintext(uint32_t tgid, int32_t fd, const std::string& address, uint16_t port,
                    bool late, uint64_t ts_ns);
  void on_exit(uint32_t tgid, uint64_t now_ns);
  void tick(uint64_t now_ns);
  void finish(uint64_t now_ns);
  uint64_t reported() const { return reported_; }
  uint64_t evicted() const { return evicted_; }

 private:
  using Key = std::pair<uint32_t, int32_t>;  // tgid, fd
  void report(std::map<Key, TlsConnection>::iterator it, uint64_t now_ns, bool partial = false);
  OnUnobserved cb_;
  uint64_t quiet_ns_;
  size_t max_;
  std::map<Key, TlsConnection> open_;
  uint64_t reported_ = 0, evicted_ = 0;
};

}  // namespace rein::pipeline
