#include "pipeline/net_events.h"

#include <errno.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "pipeline/event_fields.h"

namespace rein::pipeline {

namespace {
void write_question(sinks::JsonWriter& w, const PendingDns& q) {
  w.key("query");
  w.string(q.name);
  w.key("query_type");
  w.string(proto::dns_type_name(q.type));
  w.key("server");
  w.string(q.server);
  w.key("server_port");
  w.number(uint64_t(q.port));
}
}  // namespace

const std::string& connect_event(EventBuilder& b, const ProcessView& v,
                                 const process::Agent* agent, const ReleasedConnect& c,
                                 const std::string* hostname) {
  const auto& r = c.rec;
  auto& w = b.begin("net.connect", r.h.ts_ns, v, agent);
  w.key("family");
  switch (r.family) {
    case AF_INET: w.string("ipv4"); break;
    case AF_INET6: w.string("ipv6"); break;
    case AF_UNIX: w.string("unix"); break;
    default: w.string(fmt::format("af{}", r.family));
  }
  w.key("address");
  if (r.family == AF_UNIX) w.string(r.unix_path);
  else if (!r.address.empty()) w.string(r.address);
  else w.null();
  w.key("port");
  if (r.family == AF_INET || r.family == AF_INET6) w.number(uint64_t(r.port)); else w.null();
  w.key("hostname");
  if (hostname) w.string(*hostname); else w.null();
  w.key("fd");
  w.number(int64_t(r.fd));
  put_result(w, c.outcome ? c.outcome->result : r.result);
  w.key("in_progress");
  w.boolean(r.result == -EINPROGRESS);
  w.key("connect_ms");
  if (c.outcome) w.number(double(c.outcome->latency_ns) / 1e6); else w.null();
  return b.finish();
}

const std::string& dns_answer_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                    const process::Agent* agent, const PendingDns& q,
                                    const proto::DnsMessage& msg, bool truncated, bool trusted) {
  auto& w = b.begin("net.dns", ts, v, agent);
  write_question(w, q);
  w.key("rcode");
  w.number(uint64_t(msg.rcode));
  w.key("answers");
  w.begin_array();
  for (const auto& a : msg.answers) {
    w.begin_object();
    w.key("name");
    w.string(a.name);
    w.key("type");
    w.string(proto::dns_type_name(a.type));
    w.key("ttl");
    w.number(uint64_t(a.ttl));
    w.key("data");
    w.string(a.data);
    w.end_object();
  }
  w.end_array();
  w.key("latency_ms");
  w.number(ts >= q.ts_ns ? double(ts - q.ts_ns) / 1e6 : 0.0);
  w.key("truncated");
  w.boolean(truncated);
  w.key("trusted");
  w.boolean(trusted);
  return b.finish();
}

const std::string& dns_timeout_event(EventBuilder& b, const ProcessView& v,
                                     const process::Agent* agent, const PendingDns& q) {
  auto& w = b.begin("net.dns", q.ts_ns, v, agent);
  write_question(w, q);
  w.key("rcode");
  w.null();
  w.key("answers");
  w.null();
  w.key("latency_ms");
  w.null();
  w.key("truncated");
  w.boolean(false);
  return b.finish();
}

const std::string& tls_event(EventBuilder& b, const ProcessView& v, const process::Agent* agent,
                             const decode::DataRec& r, const proto::TlsHello& hello) {
  auto& w = b.begin("net.tls", r.h.ts_ns, v, agent);
  w.key("sni");
  if (hello.sni.empty()) w.null(); else w.string(hello.sni);
  w.key("alpn");
  w.begin_array();
  for (const auto& a : hello.alpn) w.string(a);
  w.end_array();
  w.key("address");
  if (r.peer_address.empty()) w.null(); else w.string(r.peer_address);
  w.key("port");
  if (r.peer_port) w.number(uint64_t(r.peer_port)); else w.null();
  w.key("fd");
  w.number(int64_t(r.fd));
  w.key("truncated");
  w.boolean(hello.truncated);
  return b.finish();
}

const std::string& raw_socket_event(EventBuilder& b, const ProcessView& v,
                                    const process::Agent* agent, const decode::MechanismRec& r) {
  const uint32_t family = r.flags >> 16, type = r.flags & 0xffff;
  auto& w = b.begin("net.mechanism", r.h.ts_ns, v, agent);
  w.key("mechanism");
  w.string("raw_socket");
  w.key("family");
  switch (family) {
    case AF_INET: w.string("inet"); break;
    case AF_INET6: w.string("inet6"); break;
    case AF_PACKET: w.string("packet"); break;
    case AF_XDP: w.string("xdp"); break;
    default: w.number(uint64_t(family)); break;
  }
  w.key("socket_type");
  switch (type) {
    case SOCK_RAW: w.string("raw"); break;
    case SOCK_DGRAM: w.string("dgram"); break;
    case SOCK_PACKET: w.string("packet"); break;
    default: w.number(uint64_t(type)); break;
  }
  w.key("enforcement");
  if (r.policy.outcome == REIN_OUT_KILLED) w.string("killed"); else w.null();
  w.key("reason");
  w.string(r.policy.rule ? "raw socket under a network rule: its packets bypass the network hooks"
                         : "raw socket: its packets are not seen by the network hooks");
  return b.finish();
}

}  // namespace rein::pipeline
