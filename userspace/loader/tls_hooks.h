// TLS hooks where they are needed, and only there. By default uprobes are attached per
// process (perf's pid filter keeps the breakpoint out of every other address space), so a
// process Rein does not track pays nothing in its TLS library. A tracked process is hooked
// when it execs (its executable: node, Bun, Go, Rust), when it opens a TLS library (the
// kernel tells us at the open), when it forks, when it is adopted or discovered.
//
// Working out where to hook a file (a 400 MB Bun executable takes a while) happens on a
// worker thread, once per file, cached in memory and on disk by file identity. Attaching
// happens on a thread of its own too: a process's first uprobe link waits for an RCU grace
// period in the kernel (10-20 ms here), which in the event loop held up every other
// process's events once per hooked process. The links come back to the caller's thread in
// poll(); those of a process that exited or exec'd meanwhile go to the reaper.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "binary/tls_plan.h"
#include "loader/bpf_sensor.h"

struct bpf_link;

namespace rein::loader {

struct TlsHookStats {
  uint64_t files_analyzed = 0;
  uint64_t plan_cache_hits = 0;
  uint64_t processes_hooked = 0;
  uint64_t probes_attached = 0;
  uint64_t attach_failed = 0;
  uint64_t process_limit = 0;  // tracked processes not hooked: over the bound
};

class TlsHooks {
 public:
  enum class Mode {
    PerProcess,  // default: hooks only in tracked processes
    SystemWide,  // libssl/GnuTLS/node hooked for every process (discovery by the hooks)
  };
  TlsHooks(TlsPrograms progs, Mode mode, std::string cache_file);
  ~TlsHooks();
  TlsHooks(const TlsHooks&) = delete;
  TlsHooks& operator=(const TlsHooks&) = delete;

  // A tracked process started (exec), was adopted or discovered: hook its executable and
  // the TLS libraries it already maps.
  void on_process(uint32_t pid, uint64_t now_ns);
  // A tracked process opened a TLS library (path as the process sees it).
  void on_library(uint32_t pid, const std::string& path, uint64_t now_ns);
  // A tracked process forked: the child runs the parent's code until it execs.
  void on_fork(uint32_t child, uint32_t parent, uint64_t now_ns);
  void on_exit(uint32_t pid);
  // Attaches what the worker finished. Call from the event loop.
  void poll(uint64_t now_ns);
  // SystemWide mode: the usual library locations and running processes' libraries.
  void attach_system_wide(const std::vector<std::string>& paths);

  // What a process's TLS looks like to us (for llm.unobserved).
  struct Coverage {
    std::vector<std::string> hooked;       // libraries hooked in this process
    std::vector<std::string> undecodable;  // found but not hookable, with reasons
    bool pending = false;                  // analysis or attaching still running
    uint64_t hooked_at_ns = 0;             // first probe attached (0 = none)
  };
  Coverage coverage(uint32_t pid) const;

  // Lines for the start-up/health report since the last call.
  std::vector<std::string> take_log();
  const TlsHookStats& stats() const { return stats_; }
  // Files being analysed for processes that wait for their hooks: the event loop should
  // come back soon to attach them.
  bool attach_pending() const;
  // Wait until the worker is idle (tests and benchmarks).
  void drain_for_tests();

 private:
  struct FileKey {
    dev_t dev;
    ino_t ino;
    bool operator<(const FileKey& o) const { return dev != o.dev ? dev < o.dev : ino < o.ino; }
  };
  struct FileState {
    int fd = -1;           // kept open: uprobes are attached through /proc/self/fd/N
    std::string shown;     // path for reports
    std::string identity;  // build id (or dev:ino:size:mtime): the disk cache key
    bool ready = false;
    std::shared_ptr<const binary::TlsPlan> plan;
    std::vector<uint32_t> waiting;  // pids to hook when ready
  };
  // One attachment: a libbpf perf-uprobe link, or a uprobe_multi link fd.
  struct Link {
    struct bpf_link* perf = nullptr;
    int fd = -1;
    void destroy() const;
  };
  struct ProcState {
    std::set<FileKey> files;
    std::vector<Link> links;
    uint64_t hooked_at_ns = 0;
    uint64_t generation = 0;  // tells a process from a later one under the same pid
    size_t attaching = 0;     // attach jobs in flight
  };
  // One file's probes for one process, attached on the attacher thread.
  struct AttachJob {
    uint32_t pid;
    uint64_t generation;
    FileKey key;
    int fd;  // FileState::fd, open for as long as TlsHooks lives
    std::string shown;
    std::shared_ptr<const binary::TlsPlan> plan;
    uint64_t now_ns;  // when the attach was asked for (hooked_at_ns, as before)
  };
  struct AttachResult {
    AttachJob job;
    std::vector<Link> links;
    size_t ok = 0;
    size_t failed = 0;
  };

  struct PendingFork {
    uint32_t parent;
    uint64_t ts_ns;
  };
  void drop(uint32_t pid);
  void attach_forks(uint64_t now_ns);
  void add_file(uint32_t pid, const std::string& fs_path, const std::string& shown, uint64_t now_ns);
  void attach(uint32_t pid, const FileKey& key, FileState& f, uint64_t now_ns);
  void attach_multi(AttachResult& r) const;
  void attach_each(AttachResult& r) const;
  void attacher_loop();
  void take_attached();
  void worker_loop();
  void load_cache();
  void store_cache(const std::string& identity, const binary::TlsPlan& plan);
  struct bpf_program* program(binary::ProbeProgram p) const;

  TlsPrograms progs_;
  Mode mode_;
  std::string cache_file_;
  std::map<FileKey, FileState> files_;
  std::unordered_map<uint32_t, ProcState> procs_;
  std::unordered_map<uint32_t, PendingFork> forks_;  // children not hooked yet
  std::unordered_map<std::string, std::shared_ptr<const binary::TlsPlan>> disk_cache_;
  std::vector<std::string> log_;
  TlsHookStats stats_;

  // worker
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<FileKey, std::string>> jobs_;  // (file, path to open)
  std::deque<std::pair<FileKey, std::shared_ptr<const binary::TlsPlan>>> done_;
  std::string job_error_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread worker_;

  // Removing a uprobe waits for an RCU grace period (tens of ms per link on this kernel):
  // links of exited processes are destroyed on their own thread, never in the event loop.
  void reaper_loop();
  std::mutex reap_mu_;
  std::condition_variable reap_cv_;
  std::vector<Link> reap_;
  bool reap_stop_ = false;
  std::atomic<std::chrono::steady_clock::time_point> last_attach_{};
  std::thread reaper_;

  std::mutex attach_mu_;
  std::condition_variable attach_cv_;
  std::deque<AttachJob> attach_jobs_;
  std::deque<AttachResult> attached_;
  bool attach_busy_ = false;
  bool attach_stop_ = false;
  uint64_t next_generation_ = 1;
  size_t attaching_ = 0;  // jobs handed out and not taken back by poll()
  std::thread attacher_;
};

}  // namespace rein::loader
