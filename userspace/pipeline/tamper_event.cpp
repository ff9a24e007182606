#include "pipeline/tamper_event.h"

#include <fmt/format.h>

#include "rein/abi/events.h"

namespace rein::pipeline {

std::string tamper_attempt(const decode::MechanismRec& r) {
  const uint32_t what = r.flags & 0xffff;
  if (r.flags & REIN_TAMPER_AT_SENSOR) {
    switch (what) {
      case 101:
        return "ptrace of the sensor";
      case 310:
        return "process_vm_readv of the sensor";
      case 311:
        return "process_vm_writev of the sensor";
      case 438:
        return "pidfd_getfd of the sensor";
      default:
        return fmt::format("syscall {} aimed at the sensor", what);
    }
  }
  switch (what) {
    case 13:
      return "bpf PROG_GET_FD_BY_ID";
    case 14:
      return "bpf MAP_GET_FD_BY_ID";
    case 30:
      return "bpf LINK_GET_FD_BY_ID";
    default:
      return fmt::format("bpf command {}", what);
  }
}

const std::string& sensor_tamper_event(EventBuilder& b, const ProcessView& v,
                                       const process::Agent* agent, const decode::MechanismRec& r) {
  auto& w = b.begin("sensor.tamper", r.h.ts_ns, v, agent);
  w.key("attempt");
  w.string(tamper_attempt(r));
  w.key("enforcement");
  if (r.policy.outcome == REIN_OUT_KILLED)
    w.string("killed");
  else
    w.null();
  w.key("reason");
  w.string(r.flags & REIN_TAMPER_AT_SENSOR ? "a tracked process reached for the sensor's process"
           : r.policy.outcome ? "a BPF object taken by id under a file or network rule: the "
                                "sensor's maps and links enforce them"
                              : "a BPF object taken by id");
  return b.finish();
}

}  // namespace rein::pipeline
