#include "pipeline/tls_watch.h"

namespace rein::pipeline {

void TlsWatch::report(std::map<Key, TlsConnection>::iterator it, uint64_t now_ns, bool partial) {
  reported_++;
  TlsConnection c = std::move(it->second);
  open_.erase(it);
  cb_(c, now_ns, partial);
}

void TlsWatch::on_hello(TlsConnection c) {
  Key k{c.tgid, c.fd};
  // the fd now names a new connection: the old one's fate is decided
  if (auto it = open_.find(k); it != open_.end()) report(it, c.ts_ns);
  if (open_.size() >= max_) {  // the oldest watch goes unreported, but counted
    auto oldest = open_.begin();
    for (auto it = open_.begin(); it != open_.end(); ++it)
      if (it->second.ts_ns < oldest->second.ts_ns) oldest = it;
    open_.erase(oldest);
    evicted_++;
  }
  open_.emplace(k, std::move(c));
}

void TlsWatch::on_plaintext(uint32_t tgid, int32_t fd, const std::string& address,
                            uint16_t port, bool late, uint64_t ts_ns) {
  auto it = fd >= 0 ? open_.find(Key{tgid, fd}) : open_.end();
  if (it == open_.end() && !address.empty()) {
    for (auto a = open_.lower_bound(Key{tgid, INT32_MIN}); a != open_.end() && a->first.first == tgid; ++a)
      if (a->second.address == address && a->second.port == port) {
        it = a;
        break;
      }
  }
  if (it != open_.end()) {
    if (late) report(it, ts_ns, true);
    else open_.erase(it);
    return;
  }
  if (late) {  // no ClientHello seen for it, but requests were missed all the same
    reported_++;
    TlsConnection c;
    c.tgid = tgid;
    c.fd = fd;
    c.address = address;
    c.port = port;
    c.ts_ns = ts_ns;
    cb_(c, ts_ns, true);
  }
}

void TlsWatch::on_exit(uint32_t tgid, uint64_t now_ns) {
  auto it = open_.lower_bound(Key{tgid, INT32_MIN});
  while (it != open_.end() && it->first.first == tgid) {
    auto next = std::next(it);
    report(it, now_ns);
    it = next;
  }
}

void TlsWatch::tick(uint64_t now_ns) {
  for (auto it = open_.begin(); it != open_.end();) {
    auto next = std::next(it);
    if (now_ns > it->second.ts_ns && now_ns - it->second.ts_ns >= quiet_ns_) report(it, now_ns);
    it = next;
  }
}

void TlsWatch::finish(uint64_t now_ns) {
  while (!open_.empty()) report(open_.begin(), now_ns);
}

}  // namespace rein::pipeline
