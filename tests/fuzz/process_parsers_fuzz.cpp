// /proc and mounts contents are partly chosen by other processes (comm, argv, cgroup names):
// the parsers must take anything without crashing and respect their bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "process/cgroup_resolver.h"
#include "process/proc_reader.h"

using namespace rein::process;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto st = parse_proc_stat(in)) {
    if (st->comm.size() > kMaxCommBytes) std::abort();
    (void)clock_ticks_to_ns(st->start_ticks, st->ppid % 1000);
  }
  (void)parse_status_real_uid(in);

  size_t total = 0;
  for (const auto& a : split_cmdline(in)) total += a.size();
  if (total > size) std::abort();

  if (auto cg = parse_cgroup_v2_path(in)) {
    if (cg->empty() || (*cg)[0] != '/' || cg->size() > size) std::abort();
  }
  if (auto m = find_cgroup2_mount(in)) {
    if (m->empty() || (*m)[0] != '/' || m->size() > size) std::abort();
  }
  (void)strip_deleted_suffix(std::string(in));
  return 0;
}
