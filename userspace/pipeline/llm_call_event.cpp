#include "pipeline/llm_call_event.h"

#include "pipeline/llm_event.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
const char* source_name(uint8_t source) {
  switch (source) {
    case REIN_SRC_OPENSSL: return "openssl";
    case REIN_SRC_GNUTLS: return "gnutls";
    case REIN_SRC_SOCKET: return "socket";
    case REIN_SRC_BORINGSSL: return "boringssl";
    case REIN_SRC_RUSTLS: return "rustls";
    case REIN_SRC_GOTLS: return "go";
  }
  return "unknown";
}
}  // namespace

const std::string& llm_call_event(EventBuilder& b, const ProcessView& v,
                                  const process::Agent* agent, const CallContext& ctx,
                                  const llm::LlmCall& call, const std::string* hostname) {
  auto& w = b.begin("llm.call", ctx.ts_ns, v, agent);
  write_llm_call(w, call);
  w.key("source");
  w.string(source_name(ctx.source));
  w.key("protocol");
  w.string(ctx.protocol.empty() ? "http/1.1" : ctx.protocol);
  w.key("peer");
  if (!ctx.peer_address.empty()) {
    w.begin_object();
    w.key("address");
    w.string(ctx.peer_address);
    w.key("port");
    w.number(uint64_t(ctx.peer_port));
    w.key("hostname");
    if (hostname) w.string(*hostname);
    else w.null();
    w.end_object();
  } else {
    w.null();
  }
  return b.finish();
}

}  // namespace rein::pipeline
