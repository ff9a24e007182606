/* The floor under rein's syscall hooks, for bench_overhead: programs on the same two
 * tracepoints that do nothing. Attaching them alone is what every process pays for having
 * syscall tracepoints at all, whatever the programs do. */
// clang-format off
#include "vmlinux.h"  /* before the libbpf headers, which use its types */
// clang-format on
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(bare_sys_enter, struct pt_regs *regs, long nr) {
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(bare_sys_exit, struct pt_regs *regs, long ret) {
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
