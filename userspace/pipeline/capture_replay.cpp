#include "pipeline/capture_replay.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <fmt/format.h>
#include <simdjson.h>

#include "common/rfc3339.h"
#include "detect/detection_engine.h"
#include "enforce/enforcer.h"
#include "llm/price_table.h"
#include "pipeline/capture_detections.h"
#include "pipeline/proc_snapshot_source.h"
#include "pipeline/replay_kernel.h"
#include "policy/policy_parser.h"
#include "proto/decode_budget.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
// Bounds the memory an Adopt snapshot split over many entries can take in replay.
constexpr int kMaxAdoptFiles = 1 << 22;

// Nothing a replay decides reaches a process: every action "succeeds" and does nothing.
// Under --policy, what user space would have taught the kernel goes to the kernel model.
class ReplayActuator final : public enforce::Actuator {
 public:
  bool signal(uint32_t, int, uint64_t) override { return true; }
  void block_llm(uint32_t root, uint32_t budget_plus1) override {
    if (kernel) kernel->block_llm(root, budget_plus1);
  }
  void add_llm_endpoint(const std::array<uint8_t, 16>& a, uint16_t port) override {
    if (kernel) kernel->add_llm_endpoint(a, port);
  }
  void add_network_entry(const rein_net_key& k, const rein_rule& r) override {
    if (kernel) kernel->add_network_entry(k, r);
  }
  ReplayKernel* kernel = nullptr;
};

bool digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; i++)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}
int num(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

// "HH:MM[:SS[.frac]]" at pos: ns of the day; advances pos.
std::optional<int64_t> clock_part(std::string_view s, size_t& pos) {
  if (!digits(s, pos, 2) || pos + 2 >= s.size() || s[pos + 2] != ':' || !digits(s, pos + 3, 2))
    return std::nullopt;
  int h = num(s, pos, 2), m = num(s, pos + 3, 2), sec = 0;
  pos += 5;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2)) return std::nullopt;
    sec = num(s, pos + 1, 2);
    pos += 3;
    if (pos < s.size() && s[pos] == '.') {
      pos++;
      int64_t scale = 100'000'000;
      size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac += (s[pos] - '0') * scale;
        scale /= 10;
        pos++;
      }
      if (pos == start) return std::nullopt;
    }
  }
  if (h > 23 || m > 59 || sec > 60) return std::nullopt;
  return (int64_t(h) * 3600 + m * 60 + sec) * 1'000'000'000 + frac;
}

// A policy.action line with "replay":true,"would":<its outcome> before its closing brace.
std::string mark_would(std::string_view line) {
  std::string out(line.substr(0, line.size() - 1));
  std::string outcome = "null";
  size_t o = line.find("\"outcome\":\"");
  if (o != std::string_view::npos) {
    size_t start = o + 11;
    size_t end = line.find('"', start);
    if (end != std::string_view::npos) outcome = std::string(line.substr(start - 1, end - start + 2));
  }
  out += ",\"replay\":true,\"would\":" + outcome + "}";
  return out;
}
}  // namespace

std::optional<int64_t> parse_rfc3339_ns(std::string_view s) {
  // Typed on a command line: seconds and zone may be left out (no zone: UTC).
  return rein::parse_rfc3339_ns(s, {.seconds_optional = true, .zone_optional = true});
}

std::optional<TimeSpec> parse_time_spec(std::string_view text) {
  if (auto abs = parse_rfc3339_ns(text)) return TimeSpec{false, *abs};
  size_t pos = 0;
  auto tod = clock_part(text, pos);
  if (!tod || pos != text.size()) return std::nullopt;
  return TimeSpec{true, *tod};
}

int64_t resolve_time_spec(const TimeSpec& t, int64_t first_event_ns) {
  if (!t.time_of_day) return t.epoch_ns;
  constexpr int64_t kDay = 86400LL * 1'000'000'000;
  int64_t day = first_event_ns >= 0 ? first_event_ns / kDay : 0;
  return day * kDay + t.epoch_ns;
}

void ReplayFilter::write_line(std::string_view line) {
  if (o_.from || o_.to) {
    size_t t = line.find("\"time\":\"");
    std::optional<int64_t> ns;
    if (t != std::string_view::npos) {
      size_t start = t + 8, end = line.find('"', start);
      if (end != std::string_view::npos) ns = parse_rfc3339_ns(line.substr(start, end - start));
    }
    if (!ns) return;
    if (!first_ns_) first_ns_ = *ns;
    if (o_.from && *ns < resolve_time_spec(*o_.from, *first_ns_)) return;
    if (o_.to && *ns > resolve_time_spec(*o_.to, *first_ns_)) return;
  }
  if (!o_.agent.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(line.data(), line.size()).get(doc)) return;
    simdjson::dom::object agent;
    if (doc["agent"].get(agent)) return;  // null or missing: not this agent's
    std::string_view id, name;
    bool match = (!agent["id"].get(id) && id == o_.agent) || (!agent["name"].get(name) && name == o_.agent);
    if (!match) return;
  }
  written_++;
  if (o_.policy_text && line.find("\"type\":\"policy.action\"") != std::string_view::npos &&
      !line.empty() && line.back() == '}') {
    out_.write_line(mark_would(line));
    return;
  }
  out_.write_line(line);
}

struct Replayer::Built {
  std::optional<llm::PriceTable> prices;
  std::optional<llm::Fingerprinter> fingerprinter;
  std::vector<uint32_t> selector_classes;  // by selector index, for the kernel model's scopes
  std::unique_ptr<ReplayKernel> kernel;    // --policy: the kernel's verdicts under it
  ReplayActuator actuator;
  std::unique_ptr<enforce::Enforcer> enforcer;
  // the live engine's inputs from the capture; baselines in a temp dir, not --state-dir
  ReplayDetectionState detect_state;
  detect::DetectionEngine detections;
  std::unique_ptr<SensorPipeline> pipe;  // last: destroyed before what it points to
};

Replayer::Replayer(LineSink& out, ReplayOptions o) : o_(std::move(o)), filter_(out, o_) {}
Replayer::~Replayer() = default;

Result<void> Replayer::install_policy(const std::string& text, const std::string& path) {
  auto p = policy::parse_policy(text, path);
  if (!p) return p.error();
  b_->detections.configure(p->detections);  // as the live install_policy
  if (o_.policy_text && !b_->kernel) {
    auto k = ReplayKernel::build(*p, b_->selector_classes);
    if (!k) return k.error();
    b_->kernel = std::move(*k);
    b_->actuator.kernel = b_->kernel.get();
  }
  auto next = std::make_unique<enforce::Enforcer>(std::move(*p), b_->actuator);
  if (b_->enforcer) next->adopt(std::move(*b_->enforcer));
  b_->enforcer = std::move(next);
  b_->pipe->set_enforcer(b_->enforcer.get());
  return {};
}

Result<void> Replayer::on_context(const capture::Context& c) {
  if (b_) return {};  // the pipeline is built once; later contexts (restarts) are not replayed
  if (c.abi_version() != 0 && c.abi_version() != REIN_ABI_VERSION)
    return make_error(fmt::format("capture: kernel ABI {} but this rein decodes ABI {}",
                                  c.abi_version(), REIN_ABI_VERSION));
  b_ = std::make_unique<Built>();
  std::vector<Selector> sels;
  for (const auto& s : c.selector_specs()) {
    sels.push_back({SelectorKind(s.kind()), s.value(), s.name(), s.agent_class()});
    b_->selector_classes.push_back(s.agent_class());
  }
  auto selectors = SelectorSet::build(std::move(sels));
  if (!selectors) return selectors.error();
  std::string prices_path = c.prices_path();
  if (prices_path.empty() || access(prices_path.c_str(), R_OK) != 0) prices_path = o_.default_prices_path;
  std::string override_path = c.prices_override_size() ? c.prices_override(0) : std::string();
  if (!override_path.empty() && access(override_path.c_str(), R_OK) != 0) override_path.clear();
  auto prices = llm::PriceTable::load(prices_path, override_path);
  if (!prices) return prices.error();
  b_->prices.emplace(std::move(*prices));
  // Fingerprints come from the capture (placeholders); a credential it did not map gets a
  // fingerprint under a key of zeros, which cannot match the live one.
  b_->fingerprinter.emplace(std::array<uint8_t, 32>{});
  b_->fingerprinter->set_observer(&creds_);
  if (c.decode_budget_bytes()) proto::DecodeBudget::global().set_limit(c.decode_budget_bytes());
  auto track = [this](uint32_t tgid, uint32_t root, uint32_t sel, uint64_t start) -> Result<void> {
    if (journal_.lookup(track_key(tgid, root, sel, start), {})) {
      if (b_->kernel && tgid == root) b_->kernel->on_track(root, sel);
      return {};
    }
    return make_error("not tracked live");
  };
  b_->pipe = std::make_unique<SensorPipeline>(std::move(*selectors), filter_, track, nullptr,
                                              LlmConfig{&*b_->prices, &*b_->fingerprinter});
  b_->pipe->set_input_journal(&journal_);
  b_->pipe->set_clock_offset(c.realtime_minus_boottime_ns());
  b_->pipe->set_tls_coverage([this](uint32_t pid) {
    auto v = journal_.lookup(fmt::format("tls.coverage/{}", pid), {});
    return v ? decode_coverage(*v) : TlsCoverage{};
  });
  // The detection engine, as `rein run` builds it (its scans and clock answered by the
  // capture), when the live sensor ran one
  if (!o_.no_detections && detections_recorded(journal_)) {
    if (auto ok = b_->detect_state.attach(b_->detections, journal_); !ok) return ok;
    b_->detections.set_timing(false);  // replay prints no detection time
    b_->pipe->set_detections(&b_->detections);
  }
  if (o_.policy_text) return install_policy(*o_.policy_text, o_.policy_path.value_or("--policy"));
  if (!c.policy_text().empty()) return install_policy(c.policy_text(), c.policy_path());
  return {};
}

namespace {
std::span<const uint8_t> record_span(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
}  // namespace

void Replayer::on_record(std::string_view bytes) {
  if (bytes.size() < sizeof(rein_hdr)) {
    b_->pipe->on_record(record_span(bytes));
    return;
  }
  rein_hdr h{};
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (h.kind == REIN_REC_HOLD && bytes.size() >= sizeof(rein_hold_event) && bytes[1] == 0) {
    rein_hold_event e{};
    std::memcpy(&e, bytes.data(), sizeof(e));
    if (b_->enforcer) b_->enforcer->on_hold_event(e, e.h.ts_ns);
    return;
  }
  if (!o_.policy_text) {
    b_->pipe->on_record(record_span(bytes));  // as captured: no copy
    return;
  }
  // The kernel decided under the captured policy: its verdicts name that policy's rules.
  // Under --policy they are dropped and user space decides (docs/capture.md), on a copy.
  std::string rec(bytes);
  auto clear = [&](size_t off, size_t size) {
    if (rec.size() >= size) std::memset(rec.data() + off, 0, sizeof(uint32_t) + 2);
  };
  switch (h.kind) {
    case REIN_REC_EXEC: clear(offsetof(rein_exec, rule), sizeof(rein_exec)); break;
    case REIN_REC_FILE: clear(offsetof(rein_file, rule), sizeof(rein_file)); break;
    case REIN_REC_FILE_OPEN: clear(offsetof(rein_file_open, rule), sizeof(rein_file_open)); break;
    case REIN_REC_MECHANISM: clear(offsetof(rein_mechanism, rule), sizeof(rein_mechanism)); break;
    case REIN_REC_POLICY_NET: return;
    default: break;
  }
  // ...and the kernel model says what the kernel would have decided under --policy
  if (b_->kernel)
    if (auto pn = b_->kernel->judge(rec)) b_->pipe->on_record(record_span(*pn));
  if (h.kind == REIN_REC_MECHANISM && rec.size() >= sizeof(rein_mechanism)) {
    // the kernel sends an exec map record only when a rule acts: none acts under --policy
    rein_mechanism m{};
    std::memcpy(&m, rec.data(), sizeof(m));
    if (m.mechanism == REIN_MECH_EXEC_MAP && !m.rule) return;
  }
  b_->pipe->on_record(record_span(rec));
}

void Replayer::on_adopt(const capture::Adopt& a) {
  if (auto snap = ProcSnapshotSource::from(a.proc_snapshot()); snap)
    b_->pipe->adopt_existing(*snap);
}

Result<void> Replayer::ensure_built() {
  if (b_) return {};
  if (!have_context()) return make_error("capture: an entry before the Context (not a capture's start)");
  return on_context(context_);
}

Result<void> Replayer::feed_record(std::string_view data) {
  stats_.entries++;
  if (auto ok = ensure_built(); !ok) return ok;
  stats_.records++;
  on_record(data);
  return {};
}

Result<void> Replayer::feed(const capture::Entry& e) {
  stats_.entries++;
  // The writer's Context (versions, argv, host) and the pipeline's (selectors, policy, the
  // pipeline's clock offset) are merged; the pipeline is built at the first input.
  if (e.has_context()) {
    if (!b_) context_.MergeFrom(e.context());
    return {};
  }
  if (e.has_lookup()) {
    stats_.lookups++;
    journal_.on_lookup(e.lookup());
    return {};
  }
  if (e.has_secret()) {
    stats_.secrets++;
    creds_.add(e.secret().placeholder(), e.secret().fingerprint());
    return {};
  }
  if (auto ok = ensure_built(); !ok) return ok;
  if (e.has_record()) {
    stats_.records++;
    on_record(e.record().data());
  } else if (e.has_tick()) {
    stats_.ticks++;
    b_->pipe->tick(e.tick().now_boot_ns());
  } else if (e.has_health()) {
    stats_.health++;
    std::vector<std::pair<std::string, uint64_t>> kernel;
    for (const auto& k : e.health().kernel()) kernel.emplace_back(k.name(), k.value());
    HealthFields fields;
    for (const auto& f : e.health().extra()) fields.emplace_back(f.key(), f.json());
    b_->pipe->emit_health(e.health().now_boot_ns(), e.health().state(), kernel,
                          write_health_fields(fields));
  } else if (e.has_adopt()) {
    // a snapshot split over entries is adopted whole, at its last part
    if (e.adopt().continued() || adopt_parts_.proc_snapshot_size()) {
      if (adopt_parts_.proc_snapshot_size() + e.adopt().proc_snapshot_size() > kMaxAdoptFiles)
        return make_error("capture: an adoption snapshot of more than 2^22 files");
      adopt_parts_.MergeFrom(e.adopt());
      if (e.adopt().continued()) return {};
      adopt_parts_.set_continued(false);
      on_adopt(adopt_parts_);
      adopt_parts_.Clear();
    } else {
      on_adopt(e.adopt());
    }
  } else if (e.has_policy_reload()) {
    if (e.policy_reload().ok() && !o_.policy_text)
      if (auto ok = install_policy(e.policy_reload().policy_text(), e.policy_reload().policy_path()); !ok)
        return ok;
  } else if (e.has_finish()) {
    b_->pipe->finish(e.finish().now_boot_ns());
    finished_ = true;
  } else {
    stats_.unknown++;
  }
  return {};
}

void Replayer::end() {
  if (b_ && !finished_) {
    // killed live: no Finish entry. Deliver what open streams hold at the last time seen.
    finished_ = true;
  }
  filter_.flush();
}

}  // namespace rein::pipeline
