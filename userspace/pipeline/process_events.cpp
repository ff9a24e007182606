#include "pipeline/process_events.h"

#include "rein/abi/events.h"

namespace rein::pipeline {

const std::string& exec_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, bool existing, uint32_t flags) {
  auto& w = b.begin("process.exec", ts, v, agent);
  w.key("cwd");
  if (v.info && !v.info->cwd.empty()) w.string(v.info->cwd); else w.null();
  w.key("existing");
  w.boolean(existing);
  w.key("new_agent");
  w.boolean(flags & REIN_F_NEW_AGENT);
  w.key("args_truncated");
  w.boolean(flags & REIN_F_ARGS_TRUNCATED);
  w.key("exe_truncated");
  w.boolean(flags & REIN_F_PATH_TRUNCATED);
  w.key("fileless");
  w.boolean(flags & REIN_F_FILELESS);
  return b.finish();
}

const std::string& fork_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, uint32_t ppid) {
  auto& w = b.begin("process.fork", ts, v, agent);
  w.key("parent_pid");
  w.number(uint64_t(ppid));
  return b.finish();
}

const std::string& controlled_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                                    const process::Agent* agent, uint32_t flags,
                                    uint32_t controller, const std::string& cwd) {
  auto& w = b.begin("process.controlled", ts, v, agent);
  w.key("mechanism");
  w.string((flags & REIN_F_CONTROLLED_VM) ? "process_vm_writev" : "ptrace");
  w.key("controller_pid");
  w.number(uint64_t(controller));
  w.key("cwd");
  w.string(cwd);
  return b.finish();
}

const std::string& exit_event(EventBuilder& b, uint64_t ts, const ProcessView& v,
                              const process::Agent* agent, uint32_t status) {
  auto& w = b.begin("process.exit", ts, v, agent);
  uint32_t sig = status & 0x7f;
  w.key("exit_code");
  if (sig == 0) w.number(uint64_t((status >> 8) & 0xff)); else w.null();
  w.key("signal");
  if (sig) w.number(uint64_t(sig)); else w.null();
  w.key("core_dumped");
  w.boolean(status & 0x80);
  w.key("duration_ms");
  if (v.info && v.info->start_ns && ts >= v.info->start_ns)
    w.number(double(ts - v.info->start_ns) / 1e6);
  else
    w.null();
  return b.finish();
}

}  // namespace rein::pipeline
