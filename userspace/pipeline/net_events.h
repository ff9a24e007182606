// The JSON of net.connect, net.dns (answered or timed out) and net.tls (a ClientHello).
#pragma once
#include <cstdint>
#include <string>

#include "decode/records.h"
#include "pipeline/connect_hold.h"
#include "pipeline/event_builder.h"
#include "pipeline/pipeline_state.h"
#include "proto/dns.h"
#include "proto/tls_hello.h"

namespace rein::pipeline {

// hostname: learned for the peer address (null: none).
const std::string& connect_event(EventBuilder& b, const ProcessView& v,
                                 const process::Agent* agent, const ReleasedConnect& c,
                                 const std::string* hostname);
// An answer to q; truncated: the message or the captured payload was cut.
const std::string& dns_answer_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                    const process::Agent* agent, const PendingDns& q,
                                    const proto::DnsMessage& msg, bool truncated, bool trusted);
// A question that got no answer in time.
const std::string& dns_timeout_event(EventBuilder& b, const ProcessView& v,
                                     const process::Agent* agent, const PendingDns& q);
const std::string& tls_event(EventBuilder& b, const ProcessView& v, const process::Agent* agent,
                             const decode::DataRec& r, const proto::TlsHello& hello);
// A raw or packet socket (REIN_MECH_RAW_SOCKET), killed at its creation under a network rule.
const std::string& raw_socket_event(EventBuilder& b, const ProcessView& v,
                                    const process::Agent* agent, const decode::MechanismRec& r);

}  // namespace rein::pipeline
