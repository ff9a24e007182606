// The JSON of llm.unobserved: an agent's TLS connection whose plaintext was not decoded,
// with who, which peer and name, which TLS code, and why.
#pragma once
#include <cstdint>
#include <string>

#include "pipeline/event_builder.h"
#include "pipeline/tls_watch.h"

namespace rein::pipeline {

// cov: how the daemon's TLS hooks cover the process; coverage_known: false in replay (and
// wherever nothing reports coverage). partial: requests were sent before the hooks came.
const std::string& unobserved_event(EventBuilder& b, const ProcessView& v,
                                    const process::Agent* agent, const TlsConnection& c,
                                    const TlsCoverage& cov, bool coverage_known, bool partial,
                                    uint64_t now_ns);

}  // namespace rein::pipeline
