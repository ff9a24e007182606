// The JSON of sensor.tamper: a tracked process reached for the sensor's kernel objects (a
// BPF program, map or link by id) or for its process (ptrace, process_vm_*, pidfd_getfd).
#pragma once
#include <string>

#include "decode/records.h"
#include "pipeline/event_builder.h"

namespace rein::pipeline {

// r: a REIN_MECH_SENSOR_TAMPER record (bpf/sensor_guard.bpf.h).
const std::string& sensor_tamper_event(EventBuilder& b, const ProcessView& v,
                                       const process::Agent* agent, const decode::MechanismRec& r);

// What the record says was attempted ("bpf MAP_GET_FD_BY_ID", "ptrace of the sensor", ...).
std::string tamper_attempt(const decode::MechanismRec& r);

}  // namespace rein::pipeline
