// What user-space decisions do to the world: signals (through pidfds), holds (ptrace, the
// kernel's `held` map, the holds file in --state-dir) and the kernel's policy maps.
#pragma once
#include <string>

#include "enforce/enforcer.h"
#include "enforce/process_holder.h"
#include "loader/bpf_sensor.h"

namespace rein::cli {

class BpfActuator : public enforce::Actuator {
 public:
  BpfActuator(loader::BpfSensor& bpf, std::string holds_file)
      : bpf_(bpf), holds_file_(std::move(holds_file)) {}
  bool signal(uint32_t pid, int sig, uint64_t seen_ns) override;
  enforce::HoldStart begin_hold(uint32_t pid, uint32_t rule, uint64_t seen_ns) override;
  bool end_hold(uint32_t pid, bool approve) override;
  void forget_hold(uint32_t pid) override;
  std::vector<enforce::KernelHold> kernel_holds() override;
  void holds_changed(const std::vector<enforce::Hold>& open, bool default_allow) override;
  void maintain() override { holder_.reap(); }
  void block_llm(uint32_t root, uint32_t budget_plus1) override;
  void add_llm_endpoint(const std::array<uint8_t, 16>& a, uint16_t port) override;
  void add_network_entry(const rein_net_key& k, const rein_rule& r) override;

 private:
  void report(const Result<void>& r);
  loader::BpfSensor& bpf_;
  std::string holds_file_;
  enforce::ProcessHolder holder_;
};

}  // namespace rein::cli
