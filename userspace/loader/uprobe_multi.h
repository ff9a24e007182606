// Multi-offset uprobe links (BPF_TRACE_UPROBE_MULTI, Linux 6.6+), made with the bpf syscall
// directly because Debian's libbpf 1.1 predates them. One link carries every offset of one
// program in one file for one process, and neither creating nor removing it takes the
// global trace-event mutex that per-offset perf uprobes serialize on: removing an exited
// agent's hooks (a grace-period wait) no longer delays hooking the next agent.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rein::loader {

// The expected_attach_type a program must be loaded with to be attached this way.
constexpr uint32_t kAttachUprobeMulti = 48;  // BPF_TRACE_UPROBE_MULTI
constexpr uint32_t kUprobeMultiReturn = 1;   // BPF_F_UPROBE_MULTI_RETURN

// Whether this kernel attaches uprobe_multi links: loads a two-instruction program and
// hooks a function of our own executable that is never called (then removes it).
bool uprobe_multi_supported();

// An owned link fd (-1 when attaching failed: errno says why).
int attach_uprobe_multi(int prog_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                        const std::vector<uint64_t>& cookies, bool retprobe, uint32_t pid);

}  // namespace rein::loader
