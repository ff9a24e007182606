#include "detect/cost_anomaly.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "detect/state_bytes.h"
#include "llm/cost.h"

namespace rein::detect {

namespace {
constexpr size_t kMaxNames = 4096;
constexpr size_t kMaxSessions = 4096;
constexpr size_t kMaxModelsPerSession = 16;
}  // namespace

void Ewma::add(double x, double alpha) {
  if (n++ == 0) {
    mean = x;
    var = 0;
    return;
  }
  const double diff = x - mean;
  const double incr = alpha * diff;
  mean += incr;
  var = (1 - alpha) * (var + diff * incr);
}

double Ewma::sd() const {
  return var > 0 ? std::sqrt(var) : 0;
}

bool CostAnomalyDetector::anomalous(const Ewma& e, double x) const {
  return e.n >= cfg_.min_samples && x >= cfg_.min_usd && x > cfg_.ratio * e.mean &&
         x > e.mean + cfg_.sigmas * e.sd();
}

void CostAnomalyDetector::close_bucket(Name& n) {
  if (n.bucket_usd > 0) n.per_bucket.add(n.bucket_usd, cfg_.alpha);
  n.bucket_usd = 0;
  n.bucket_calls = 0;
  n.bucket_fired = false;
}

void CostAnomalyDetector::tick(uint64_t now) {
  const uint64_t bucket = uint64_t(cfg_.bucket.count()) * 1'000'000'000ULL;
  for (auto& [k, n] : names_)
    if (n.bucket_calls && now >= n.bucket_start + bucket) {
      close_bucket(n);
      n.bucket_start = now;
    }
}

void CostAnomalyDetector::on_session_end(std::string_view session) {
  if (auto it = runs_.find(session); it != runs_.end()) runs_.erase(it);
}

size_t CostAnomalyDetector::tracked() const {
  size_t n = names_.size();
  for (const auto& [k, s] : runs_) n += s.models.size();
  return n;
}

size_t CostAnomalyDetector::state_bytes() const {
  size_t n = mem::nodes(names_) + mem::nodes(runs_);
  for (const auto& [k, v] : names_) n += mem::str(k);
  for (const auto& [k, s] : runs_) {
    n += mem::str(k) + mem::vec(s.models);
    for (const auto& m : s.models) n += mem::str(m.model);
  }
  return n;
}

void CostAnomalyDetector::on_llm(const LlmFact& f, std::vector<Detection>& out) {
  if (!cfg_.enabled || !f.call || f.who.name.empty()) return;
  const auto& c = *f.call;
  auto evidence_base = [&](sinks::JsonWriter& w) {
    w.key("provider");
    w.string(c.provider);
    w.key("model");
    w.string(c.request_model);
    w.key("response_id");
    if (c.response_id.empty())
      w.null();
    else
      w.string(c.response_id);
    w.key("time");
    w.string(time_ ? time_(f.ts_ns) : fmt::format("{}", f.ts_ns));
  };
  // Context growth: per session and model (side calls to a small model do not break it).
  if (auto in = llm::total_input_tokens(c); in && !f.who.session.empty() && c.status < 400) {
    auto [sit, fresh_session] = find_or_emplace(runs_, f.who.session);
    SessionRuns& sr = sit->second;
    sr.last = f.ts_ns;
    auto& models = sr.models;
    auto mit = std::find_if(models.begin(), models.end(),
                            [&](const ModelRun& m) { return m.model == c.request_model; });
    const bool fresh = mit == models.end();
    if (fresh) {
      if (models.size() >= kMaxModelsPerSession) {  // the model called least recently goes
        mit = std::min_element(models.begin(), models.end(), [](const ModelRun& a, const ModelRun& b) {
          return a.run.last < b.run.last;
        });
        mit->model = c.request_model;
      } else {
        mit = models.insert(models.end(), ModelRun{c.request_model, {}});
      }
    }
    Run& r = mit->run;
    if (!fresh && *in > r.last_tokens) {
      r.length++;
    } else {
      r = Run{*in, *in, 1, false, f.ts_ns, 0};
    }
    r.last_tokens = *in;
    r.last = f.ts_ns;
    if (!r.fired && r.length >= cfg_.growth_calls && r.first > 0 &&
        double(*in) >= cfg_.growth_factor * double(r.first)) {
      r.fired = true;
      auto d = make_detection(
          "cost_anomaly", f.who, f.ts_ns, cfg_.action,
          fmt::format("context growth: input tokens rose {} calls in a row, {} -> {}", r.length,
                      r.first, *in),
          [&](sinks::JsonWriter& w) {
            w.key("statistic");
            w.string("context_growth");
            evidence_base(w);
            w.key("calls");
            w.number(uint64_t(r.length));
            w.key("first_input_tokens");
            w.number(r.first);
            w.key("last_input_tokens");
            w.number(*in);
            w.key("since");
            w.string(time_ ? time_(r.first_ts) : fmt::format("{}", r.first_ts));
            w.key("growth_factor");
            w.number(double(*in) / double(r.first));
          });
      d.cost_usd = call_usd(c);
      d.tokens = call_tokens(c);
      out.push_back(std::move(d));
    }
    if (fresh_session && runs_.size() > kMaxSessions) bound_by_last(runs_, kMaxSessions);
  }
  // Only priced, successful calls make the history: a run of free 429s would drag the mean
  // to zero and make the next ordinary call look like an anomaly.
  if (!c.cost_usd || *c.cost_usd <= 0 || call_failed(c)) return;
  const double usd = *c.cost_usd;
  auto [it, fresh] = find_or_emplace(names_, f.who.name);
  Name& n = it->second;
  n.last = f.ts_ns;
  // Per-call cost against this name's history.
  const bool call_fired = anomalous(n.per_call, usd);
  if (call_fired) {
    auto d = make_detection("cost_anomaly", f.who, f.ts_ns, cfg_.action,
                            fmt::format("call cost {:.4f} USD vs an average of {:.4f} USD for {}",
                                        usd, n.per_call.mean, f.who.name),
                            [&](sinks::JsonWriter& w) {
                              w.key("statistic");
                              w.string("call_cost");
                              evidence_base(w);
                              w.key("value_usd");
                              w.number(usd);
                              w.key("ewma_usd");
                              w.number(n.per_call.mean);
                              w.key("ewma_sd_usd");
                              w.number(n.per_call.sd());
                              w.key("samples");
                              w.number(n.per_call.n);
                              w.key("tokens");
                              w.number(call_tokens(c));
                            });
    d.cost_usd = usd;
    d.tokens = call_tokens(c);
    out.push_back(std::move(d));
  }
  n.per_call.add(usd, cfg_.alpha);
  // Spend rate: the open bucket against the history of non-empty buckets.
  const uint64_t bucket = uint64_t(cfg_.bucket.count()) * 1'000'000'000ULL;
  if (n.bucket_calls == 0 || f.ts_ns >= n.bucket_start + bucket) {
    if (n.bucket_calls) close_bucket(n);
    n.bucket_start = f.ts_ns;
  }
  n.bucket_usd += usd;
  n.bucket_calls++;
  n.bucket_fired |= call_fired;  // one spike is one event
  if (!n.bucket_fired && anomalous(n.per_bucket, n.bucket_usd)) {
    n.bucket_fired = true;
    auto d = make_detection(
        "cost_anomaly", f.who, f.ts_ns, cfg_.action,
        fmt::format("spend {:.4f} USD in {}s vs an average of {:.4f} USD for {}", n.bucket_usd,
                    cfg_.bucket.count(), n.per_bucket.mean, f.who.name),
        [&](sinks::JsonWriter& w) {
          w.key("statistic");
          w.string("spend_rate");
          evidence_base(w);
          w.key("bucket_s");
          w.number(int64_t(cfg_.bucket.count()));
          w.key("bucket_start");
          w.string(time_ ? time_(n.bucket_start) : fmt::format("{}", n.bucket_start));
          w.key("value_usd");
          w.number(n.bucket_usd);
          w.key("calls");
          w.number(uint64_t(n.bucket_calls));
          w.key("ewma_usd");
          w.number(n.per_bucket.mean);
          w.key("ewma_sd_usd");
          w.number(n.per_bucket.sd());
          w.key("samples");
          w.number(n.per_bucket.n);
        });
    d.cost_usd = n.bucket_usd;
    out.push_back(std::move(d));
  }
  if (fresh && names_.size() > kMaxNames) bound_by_last(names_, kMaxNames);
}

}  // namespace rein::detect
