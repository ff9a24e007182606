#include "pipeline/unobserved_event.h"

namespace rein::pipeline {

namespace {
std::string reason_for(const TlsConnection& c, const TlsCoverage& cov, bool coverage_known,
                       bool partial) {
  std::string reason;
  if (partial) {
    reason = "TLS hooks were attached after this connection had sent requests: those were not "
             "decoded, later ones are";
  } else if (cov.hooked_at_ns && cov.hooked_at_ns > c.ts_ns) {
    reason = "TLS hooks were attached after this connection started";
  } else if (!cov.undecodable.empty()) {
    for (const auto& u : cov.undecodable) reason += (reason.empty() ? "" : "; ") + u;
  } else if (cov.pending) {
    reason = "the process's TLS hooks were still being worked out or attached";
  } else if (!cov.hooked.empty()) {
    reason = "no plaintext from the hooked TLS library on this connection";
  } else if (coverage_known) {
    reason = "no TLS library Rein can hook in this process";
  } else {
    reason = "no plaintext was captured for this connection";
  }
  return reason;
}
}  // namespace

const std::string& unobserved_event(EventBuilder& b, const ProcessView& v,
                                    const process::Agent* agent, const TlsConnection& c,
                                    const TlsCoverage& cov, bool coverage_known, bool partial,
                                    uint64_t now) {
  const std::string reason = reason_for(c, cov, coverage_known, partial);
  auto& w = b.begin("llm.unobserved", c.ts_ns, v, agent);
  w.key("sni");
  if (c.sni.empty()) w.null(); else w.string(c.sni);
  w.key("address");
  if (c.address.empty()) w.null(); else w.string(c.address);
  w.key("port");
  if (c.port) w.number(uint64_t(c.port)); else w.null();
  w.key("alpn");
  w.begin_array();
  for (const auto& a : c.alpn) w.string(a);
  w.end_array();
  w.key("fd");
  w.number(int64_t(c.fd));
  w.key("library");
  w.begin_array();
  for (const auto& l : cov.hooked) w.string(l);
  w.end_array();
  w.key("reason");
  w.string(reason);
  w.key("partial");
  w.boolean(partial);
  w.key("decided_ms");
  w.number(now >= c.ts_ns ? double(now - c.ts_ns) / 1e6 : 0.0);
  return b.finish();
}

}  // namespace rein::pipeline
