#include "loader/uprobe_multi.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

// Never called: the feature probe places its uprobe here, in our own text.
extern "C" __attribute__((noinline, used)) void rein_uprobe_multi_probe_target() {
  asm volatile("" ::: "memory");
}

namespace rein::loader {
namespace {

// link_create's uprobe_multi member, 16 bytes into the command (after prog_fd, target_fd,
// attach_type and flags), as the kernel's uapi lays it out since 6.6.
struct UprobeMultiAttr {
  uint32_t prog_fd;
  uint32_t target_fd;
  uint32_t attach_type;
  uint32_t flags;
  uint64_t path;
  uint64_t offsets;
  uint64_t ref_ctr_offsets;
  uint64_t cookies;
  uint32_t cnt;
  uint32_t multi_flags;
  uint32_t pid;
  uint32_t pad;
};

int load_probe_program() {
  struct bpf_insn insns[2] = {};
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = 0
  insns[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_KPROBE;
  a.insns = reinterpret_cast<uint64_t>(insns);
  a.insn_cnt = 2;
  a.license = reinterpret_cast<uint64_t>("GPL");
  a.expected_attach_type = kAttachUprobeMulti;
  return int(syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
}

// The file offset of `addr` in our executable, from /proc/self/maps.
bool own_file_offset(uintptr_t addr, uint64_t* off) {
  FILE* f = fopen("/proc/self/maps", "re");
  if (!f) return false;
  char line[4096];
  bool found = false;
  while (fgets(line, sizeof(line), f)) {
    uintptr_t lo = 0, hi = 0;
    uint64_t pgoff = 0;
    char perms[8] = {};
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %" SCNx64, &lo, &hi, perms, &pgoff) != 4) continue;
    if (addr >= lo && addr < hi && perms[2] == 'x') {
      *off = addr - lo + pgoff;
      found = true;
      break;
    }
  }
  fclose(f);
  return found;
}

}  // namespace

int attach_uprobe_multi(int prog_fd, const std::string& path, const std::vector<uint64_t>& offsets,
                        const std::vector<uint64_t>& cookies, bool retprobe, uint32_t pid) {
  if (offsets.empty() || (!cookies.empty() && cookies.size() != offsets.size())) {
    errno = EINVAL;
    return -1;
  }
  // zeroed beyond our member: the kernel rejects unknown non-zero tail bytes
  alignas(8) unsigned char buf[sizeof(union bpf_attr) > 128 ? sizeof(union bpf_attr) : 128] = {};
  UprobeMultiAttr a{};
  a.prog_fd = uint32_t(prog_fd);
  a.attach_type = kAttachUprobeMulti;
  a.path = reinterpret_cast<uint64_t>(path.c_str());
  a.offsets = reinterpret_cast<uint64_t>(offsets.data());
  a.cookies = cookies.empty() ? 0 : reinterpret_cast<uint64_t>(cookies.data());
  a.cnt = uint32_t(offsets.size());
  a.multi_flags = retprobe ? kUprobeMultiReturn : 0;
  a.pid = pid;
  static_assert(sizeof(a) <= sizeof(buf));
  memcpy(buf, &a, sizeof(a));
  return int(syscall(__NR_bpf, BPF_LINK_CREATE, buf, sizeof(buf)));
}

bool uprobe_multi_supported() {
  static const bool supported = [] {
    int prog = load_probe_program();
    if (prog < 0) return false;
    uint64_t off = 0;
    bool ok = false;
    if (own_file_offset(reinterpret_cast<uintptr_t>(&rein_uprobe_multi_probe_target), &off)) {
      int link = attach_uprobe_multi(prog, "/proc/self/exe", {off}, {}, false, uint32_t(getpid()));
      ok = link >= 0;
      if (link >= 0) close(link);
    }
    close(prog);
    return ok;
  }();
  return supported;
}

}  // namespace rein::loader
