#include "cli/bpf_actuator.h"

#include <fmt/format.h>
#include <time.h>

#include "enforce/hold_store.h"

namespace rein::cli {
namespace {
uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}
}  // namespace

bool BpfActuator::signal(uint32_t pid, int sig, uint64_t seen_ns) {
  return holder_.signal(pid, sig, seen_ns);
}

enforce::HoldStart BpfActuator::begin_hold(uint32_t pid, uint32_t rule, uint64_t seen_ns) {
  auto s = holder_.hold(pid, seen_ns);
  if (!s.alive) {
    bpf_.delete_held(pid);
    return {false, false, "", 0};
  }
  // Seized: the kernel leaves it alone. Not seized: the kernel stops it again whenever it runs.
  rein_held v{rule, s.seized ? uint32_t(REIN_HELD_SEIZED) : uint32_t(REIN_HELD_SIGNAL),
              clock_ns(CLOCK_BOOTTIME), s.start_ticks};
  if (auto ok = bpf_.set_held(pid, v); !ok) {
    s.how += "; " + ok.error().message;
    report(ok);
  }
  return {true, s.seized, s.how, s.start_ticks};
}

bool BpfActuator::end_hold(uint32_t pid, bool approve) {
  bpf_.delete_held(pid);  // first: the kernel must not stop it again once it is resumed
  return holder_.release(pid, approve);
}

void BpfActuator::forget_hold(uint32_t pid) {
  bpf_.delete_held(pid);
  holder_.forget(pid);
}

std::vector<enforce::KernelHold> BpfActuator::kernel_holds() {
  std::vector<enforce::KernelHold> out;
  for (const auto& [pid, v] : bpf_.held()) out.push_back({pid, v.rule, v.since_ns, v.state});
  return out;
}

void BpfActuator::holds_changed(const std::vector<enforce::Hold>& open, bool default_allow) {
  std::vector<enforce::SavedHold> saved;
  uint64_t boot = clock_ns(CLOCK_BOOTTIME);
  int64_t real_s = int64_t(clock_ns(CLOCK_REALTIME) / 1'000'000'000ULL);
  for (const auto& h : open) {
    if (!h.start_ticks) continue;  // nothing to tell the process apart by after a restart
    int64_t left = h.deadline_ns > boot ? int64_t((h.deadline_ns - boot) / 1'000'000'000ULL) : 0;
    saved.push_back({h.pid, h.start_ticks, default_allow, real_s + left, h.rule});
  }
  report(enforce::save_holds_file(holds_file_, saved));
}

void BpfActuator::block_llm(uint32_t root, uint32_t budget_plus1) {
  report(bpf_.block_llm(root, budget_plus1));
}

void BpfActuator::add_llm_endpoint(const std::array<uint8_t, 16>& a, uint16_t port) {
  report(bpf_.add_llm_endpoint(a, port));
}

void BpfActuator::add_network_entry(const rein_net_key& k, const rein_rule& r) {
  report(bpf_.add_network_entry(k, r));
}

void BpfActuator::report(const Result<void>& r) {
  if (!r) fmt::print(stderr, "rein: policy: {}\n", r.error().message);
}

}  // namespace rein::cli
