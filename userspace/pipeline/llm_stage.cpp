#include "pipeline/llm_stage.h"

#include "llm/llm_analyzer.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

LlmStage::LlmStage(const llm::PriceTable* prices, const llm::Fingerprinter* fingerprinter,
                   OnCall on_call, size_t max_streams)
    : prices_(prices), fingerprinter_(fingerprinter), on_call_(std::move(on_call)),
      max_streams_(max_streams) {}

void LlmStage::on_exchange(const CallContext& ctx, proto::HttpExchange&& ex) {
  stats_.exchanges++;
  if (on_request_ && !ex.request.method.empty()) on_request_(ctx, ex.request);
  if (!prices_ || !fingerprinter_) return;
  auto call = llm::analyze(ex, *prices_, *fingerprinter_);
  if (!call) {
    stats_.not_llm++;
    return;
  }
  stats_.llm_calls++;
  CallContext c = ctx;
  c.ts_ns = ex.response ? ex.response->ts_end_ns : ex.request.ts_end_ns;
  on_call_(c, *call);
}

void LlmStage::on_data(const decode::DataRec& r) {
  Key key{r.h.tgid, r.conn};
  auto it = streams_.find(key);
  if (it == streams_.end()) {
    if (streams_.size() >= max_streams_) {  // the stalest stream makes room
      auto oldest = streams_.begin();
      for (auto s = streams_.begin(); s != streams_.end(); ++s)
        if (s->second.last_ns < oldest->second.last_ns) oldest = s;
      close_stream(oldest, r.h.ts_ns);
      stats_.streams_evicted++;
    }
    Stream s;
    s.ctx = CallContext{r.h.tgid, r.h.agent, r.fd, r.source, r.h.ts_ns, {}, 0};
    proto::Http1ConnectionLimits limits;
    // A stream we join late (the client was running before us) does not start at offset 0.
    limits.anchor_at_first_chunk = r.offset != 0;
    auto* ctx = &streams_.emplace(key, std::move(s)).first->second.ctx;
    it = streams_.find(key);
    it->second.http = std::make_unique<proto::Http1Connection>(
        [this, ctx](proto::HttpExchange&& ex, uint64_t) { on_exchange(*ctx, std::move(ex)); }, limits);
    stats_.streams_opened++;
  }
  auto& s = it->second;
  s.last_ns = r.h.ts_ns;
  if (r.fd >= 0) s.ctx.fd = r.fd;
  if (!r.peer_address.empty()) {
    s.ctx.peer_address = r.peer_address;
    s.ctx.peer_port = r.peer_port;
  }
  if (r.h.agent) s.ctx.agent = r.h.agent;
  int dir = r.dir == REIN_DIR_EGRESS ? proto::Http1Connection::kClientToServer
                                     : proto::Http1Connection::kServerToClient;
  s.http->feed(dir, r.offset, r.data, r.h.ts_ns);
}

void LlmStage::close_stream(std::map<Key, Stream>::iterator it, uint64_t ts_ns) {
  it->second.http->close(ts_ns);  // delivers what is left while the context is alive
  streams_.erase(it);
}

void LlmStage::on_process_exit(uint32_t tgid, uint64_t ts_ns) {
  auto it = streams_.lower_bound({tgid, 0});
  while (it != streams_.end() && it->first.first == tgid) {
    auto next = std::next(it);
    it->second.http->close(ts_ns);
    if (it->second.http->unparseable()) stats_.unparseable_streams++;
    streams_.erase(it);
    it = next;
  }
}

void LlmStage::expire(uint64_t now_ns, uint64_t idle_ns) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (now_ns > it->second.last_ns + idle_ns) {
      it->second.http->close(now_ns);
      streams_.erase(it);
    } else {
      it->second.http->expire(now_ns);
    }
    it = next;
  }
}

void LlmStage::close_all(uint64_t ts_ns) {
  for (auto& [k, s] : streams_) s.http->close(ts_ns);
  streams_.clear();
}

}  // namespace rein::pipeline
