// Holds bare_syscalls.bpf.c's do-nothing programs attached until stdin closes, for
// bench_overhead's floor: prints "ready" once they are attached.
#include <unistd.h>

#include <cstdio>

#include "bare_syscalls.skel.h"

int main() {
  bare_syscalls_bpf* skel = bare_syscalls_bpf__open_and_load();
  if (!skel) {
    std::fprintf(stderr, "bare_hooks: cannot load the BPF programs\n");
    return 1;
  }
  if (bare_syscalls_bpf__attach(skel) != 0) {
    std::fprintf(stderr, "bare_hooks: cannot attach the BPF programs\n");
    bare_syscalls_bpf__destroy(skel);
    return 1;
  }
  std::puts("ready");
  std::fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  bare_syscalls_bpf__destroy(skel);
  return 0;
}
