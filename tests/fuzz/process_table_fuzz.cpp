// Drives the process table with arbitrary fork/exec/exit/gc sequences (a replayed or corrupt
// event stream) and checks the invariants the enrichment path relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "process/process_table.h"

using namespace rein::process;

namespace {

struct Reader {
  const uint8_t* p;
  size_t n;
  template <typename T>
  T get() {
    T v{};
    size_t k = n < sizeof(T) ? n : sizeof(T);
    std::memcpy(&v, p, k);
    p += k;
    n -= k;
    return v;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMax = 16;
  ProcessTable t(kMax, 50);
  Reader r{data, size};
  uint64_t ts = 0;
  while (r.n > 0) {
    const uint8_t op = r.get<uint8_t>();
    // Small pid space so reuse, cycles and self-parenting happen often.
    const uint32_t pid = r.get<uint8_t>() % 24;
    const uint32_t ppid = r.get<uint8_t>() % 24;
    const uint8_t agent = r.get<uint8_t>();
    ts += r.get<uint8_t>();
    const uint32_t agent_root = agent & 1 ? (agent & 2 ? pid : ppid) : 0;
    switch (op % 6) {
      case 0:
        t.on_fork(pid, ppid, "f", ts, agent_root, ts);
        break;
      case 1:
        t.on_exec(pid, ppid, op, "e", "/bin/e", {"e", std::to_string(pid)}, "/", agent, ts,
                  agent_root, ts);
        break;
      case 2:
        t.on_exit(pid, op, ts);
        break;
      case 3:
        t.gc(ts);
        break;
      case 4: {
        auto chain = t.ancestry(pid, agent % 70);
        if (chain.size() > agent % 70 || chain.size() > t.size()) std::abort();
        if (!chain.empty() && chain[0] != pid) std::abort();
        break;
      }
      case 5: {
        auto kids = t.descendants(pid);
        if (kids.size() > t.size()) std::abort();
        for (uint32_t k : kids) {
          const ProcessInfo* p = t.find(k);
          if (p == nullptr || p->exited || k == pid) std::abort();
        }
        break;
      }
    }
    if (t.size() > kMax) std::abort();
    if (const ProcessInfo* p = t.find(pid); p != nullptr && p->pid != pid) std::abort();
  }
  return 0;
}
