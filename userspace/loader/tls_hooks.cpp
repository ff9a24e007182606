#include "loader/tls_hooks.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fstream>

#include "loader/uprobe_multi.h"
#include "rein/abi/events.h"

namespace rein::loader {
namespace {

constexpr size_t kMaxFiles = 512;
constexpr size_t kMaxProcesses = 4096;
constexpr off_t kMaxCacheBytes = 4 << 20;
constexpr uint64_t kForkGraceNs = 20'000'000;

// REIN_DEBUG_TLS=1: one stderr line per hooked process, for diagnosing missed first calls
// (the hook latency benchmark reads them too).
bool debug_tls() {
  static const bool on = getenv("REIN_DEBUG_TLS") != nullptr;
  return on;
}

std::string proc_path(uint32_t pid, const char* what) {
  return fmt::format("/proc/{}/{}", pid, what);
}

bool tls_library_name(std::string_view path) {
  auto slash = path.rfind('/');
  std::string_view b = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return b.substr(0, 9) == "libssl.so" || b.substr(0, 12) == "libgnutls.so";
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

TlsHooks::TlsHooks(TlsPrograms progs, Mode mode, std::string cache_file)
    : progs_(progs), mode_(mode), cache_file_(std::move(cache_file)) {
  load_cache();
  worker_ = std::thread([this] { worker_loop(); });
  reaper_ = std::thread([this] { reaper_loop(); });
  attacher_ = std::thread([this] { attacher_loop(); });
}

void TlsHooks::attacher_loop() {
  while (true) {
    AttachResult r{};
    {
      std::unique_lock<std::mutex> g(attach_mu_);
      attach_busy_ = false;
      attach_cv_.notify_all();
      attach_cv_.wait(g, [this] { return attach_stop_ || !attach_jobs_.empty(); });
      if (attach_jobs_.empty()) return;  // stopping, nothing left
      r.job = std::move(attach_jobs_.front());
      attach_jobs_.pop_front();
      attach_busy_ = true;
    }
    auto t0 = std::chrono::steady_clock::now();
    last_attach_.store(t0);
    if (progs_.multi) attach_multi(r);
    else attach_each(r);
    if (debug_tls())
      fprintf(stderr, "rein-debug: attach pid %u %s probes %zu in %.1f ms\n", r.job.pid,
              r.job.shown.c_str(), r.ok,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count());
    std::lock_guard<std::mutex> g(attach_mu_);
    attached_.push_back(std::move(r));
  }
}

// The attacher's results, on the event loop's thread: links of a process that is gone, or
// that exec'd since (another generation), are reaped.
void TlsHooks::take_attached() {
  std::deque<AttachResult> done;
  {
    std::lock_guard<std::mutex> g(attach_mu_);
    done.swap(attached_);
  }
  for (auto& r : done) {
    attaching_--;
    stats_.probes_attached += r.ok;
    stats_.attach_failed += r.failed;
    auto it = procs_.find(r.job.pid);
    if (it == procs_.end() || it->second.generation != r.job.generation) {
      std::lock_guard<std::mutex> g(reap_mu_);
      reap_.insert(reap_.end(), r.links.begin(), r.links.end());
      continue;
    }
    auto& ps = it->second;
    ps.attaching--;
    ps.links.insert(ps.links.end(), r.links.begin(), r.links.end());
    if (r.ok && !ps.hooked_at_ns) {
      ps.hooked_at_ns = r.job.now_ns;
      stats_.processes_hooked++;
    }
  }
}

// Removing a uprobe and attaching one contend in the kernel (the removal waits for a grace
// period while holding the probe's registration lock): links of exited processes are kept
// until attaching has been quiet for a while, then removed together, so a burst of short
// agent children is hooked without waiting behind the removals of the previous ones.
void TlsHooks::reaper_loop() {
  constexpr auto kQuiet = std::chrono::milliseconds(300);
  constexpr size_t kForce = 4096;
  while (true) {
    std::vector<Link> batch;
    {
      std::unique_lock<std::mutex> g(reap_mu_);
      reap_cv_.wait_for(g, kQuiet, [this] { return reap_stop_; });
      if (reap_stop_ && reap_.empty()) return;
      auto since = std::chrono::steady_clock::now() - last_attach_.load();
      if (!reap_stop_ && reap_.size() < kForce && since < kQuiet) continue;
      batch.swap(reap_);
    }
    for (const auto& l : batch) l.destroy();
  }
}

TlsHooks::~TlsHooks() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard<std::mutex> g(attach_mu_);
    attach_jobs_.clear();
    attach_stop_ = true;
  }
  attach_cv_.notify_all();
  if (attacher_.joinable()) attacher_.join();
  {
    std::lock_guard<std::mutex> g(reap_mu_);
    for (auto& [pid, p] : procs_) reap_.insert(reap_.end(), p.links.begin(), p.links.end());
    for (auto& r : attached_) reap_.insert(reap_.end(), r.links.begin(), r.links.end());
    reap_stop_ = true;
  }
  reap_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  for (auto& [k, f] : files_)
    if (f.fd >= 0) close(f.fd);
}

void TlsHooks::Link::destroy() const {
  if (perf) bpf_link__destroy(perf);
  if (fd >= 0) close(fd);
}

struct bpf_program* TlsHooks::program(binary::ProbeProgram p) const {
  switch (p) {
    case binary::ProbeProgram::TlsEnter: return progs_.tls_enter;
    case binary::ProbeProgram::TlsExit: return progs_.tls_exit;
    case binary::ProbeProgram::GcmSeal: return progs_.gcm_seal;
    case binary::ProbeProgram::GcmOpenEnter: return progs_.gcm_open_enter;
    case binary::ProbeProgram::GcmOpenExit: return progs_.gcm_open_exit;
    case binary::ProbeProgram::GoEnter: return progs_.go_enter;
    case binary::ProbeProgram::GoRet: return progs_.go_ret;
    case binary::ProbeProgram::AesniSeal: return progs_.aesni_seal;
    case binary::ProbeProgram::AesniOpen: return progs_.aesni_open;
    case binary::ProbeProgram::ChachaSeal: return progs_.chacha_seal;
    case binary::ProbeProgram::ChachaOpen: return progs_.chacha_open;
  }
  return nullptr;
}

void TlsHooks::load_cache() {
  if (cache_file_.empty()) return;
  std::ifstream in(cache_file_);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line) && ++n < 100000) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    auto plan = binary::parse_plan(std::string_view(line).substr(tab + 1));
    if (plan) disk_cache_[line.substr(0, tab)] = std::make_shared<binary::TlsPlan>(std::move(*plan));
  }
}

void TlsHooks::store_cache(const std::string& identity, const binary::TlsPlan& plan) {
  if (cache_file_.empty()) return;
  struct stat st {};
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (stat(cache_file_.c_str(), &st) == 0 && st.st_size > kMaxCacheBytes) flags |= O_TRUNC;
  int fd = open(cache_file_.c_str(), flags, 0600);
  if (fd < 0) return;
  std::string line = identity + "\t" + binary::serialize_plan(plan) + "\n";
  ssize_t w = write(fd, line.data(), line.size());
  (void)w;  // a lost cache line only costs a re-analysis next start
  close(fd);
}

void TlsHooks::worker_loop() {
  while (true) {
    std::pair<FileKey, std::string> job;
    {
      std::unique_lock<std::mutex> g(mu_);
      busy_ = false;
      cv_.notify_all();
      cv_.wait(g, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
    }
    auto plan = std::make_shared<binary::TlsPlan>();
    auto t0 = std::chrono::steady_clock::now();
    if (auto elf = binary::ElfFile::open(job.second))
      *plan = binary::plan_tls_hooks(**elf);
    if (debug_tls())
      fprintf(stderr, "rein-debug: analysed %s: %zu probes in %.1f ms\n", job.second.c_str(),
              plan->probes.size(),
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    std::lock_guard<std::mutex> g(mu_);
    done_.emplace_back(job.first, std::move(plan));
  }
}

void TlsHooks::drain_for_tests() {
  {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [this] { return jobs_.empty() && !busy_; });
  }
  std::unique_lock<std::mutex> g(attach_mu_);
  attach_cv_.wait(g, [this] { return attach_jobs_.empty() && !attach_busy_; });
}

void TlsHooks::add_file(uint32_t pid, const std::string& fs_path, const std::string& shown,
                        uint64_t now_ns) {
  if (!procs_.count(pid) && procs_.size() >= kMaxProcesses) {
    stats_.process_limit++;
    return;
  }
  int fd = open(fs_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // the process is gone, or the file with it
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 4096) {
    close(fd);
    return;
  }
  FileKey key{st.st_dev, st.st_ino};
  auto it = files_.find(key);
  if (it != files_.end()) {
    close(fd);
    if (it->second.ready) attach(pid, key, it->second, now_ns);
    else it->second.waiting.push_back(pid);
    return;
  }
  if (files_.size() >= kMaxFiles) {
    close(fd);
    log_.push_back(fmt::format("TLS hooks: more than {} files, {} not analyzed", kMaxFiles, shown));
    return;
  }
  FileState f;
  f.fd = fd;
  f.shown = shown;
  // The same build installed elsewhere (another user's npm prefix, a container layer) shares
  // its analysis: key by build id when the file has one, else by where and when it is.
  std::string build;
  if (auto elf = binary::ElfFile::open(fmt::format("/proc/self/fd/{}", fd))) build = (*elf)->build_id();
  f.identity = !build.empty() ? fmt::format("build:{}:{}", build, st.st_size)
                              : fmt::format("{}:{}:{}:{}.{}", st.st_dev, st.st_ino, st.st_size,
                                            st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  auto& slot = files_.emplace(key, std::move(f)).first->second;
  if (auto c = disk_cache_.find(slot.identity); c != disk_cache_.end()) {
    stats_.plan_cache_hits++;
    slot.plan = c->second;
    slot.ready = true;
    attach(pid, key, slot, now_ns);
    return;
  }
  slot.waiting.push_back(pid);
  {
    std::lock_guard<std::mutex> g(mu_);
    jobs_.emplace_back(key, fmt::format("/proc/self/fd/{}", slot.fd));
  }
  cv_.notify_all();
}

void TlsHooks::attach(uint32_t pid, const FileKey& key, FileState& f, uint64_t now_ns) {
  // System wide, every file is hooked once for everybody: the links live under pid 0.
  if (mode_ == Mode::SystemWide) pid = 0;
  if (!f.plan || f.plan->probes.empty()) {
    procs_[pid].files.insert(key);  // remembered for coverage: what it carries, undecodable
    return;
  }
  auto& ps = procs_[pid];
  if (!ps.files.insert(key).second) return;
  if (!ps.generation) ps.generation = next_generation_++;
  ps.attaching++;
  attaching_++;
  {
    std::lock_guard<std::mutex> g(attach_mu_);
    attach_jobs_.push_back(AttachJob{pid, ps.generation, key, f.fd, f.shown, f.plan, now_ns});
  }
  attach_cv_.notify_all();
}

namespace {
bool is_return(binary::ProbeProgram p) {
  return p == binary::ProbeProgram::TlsExit || p == binary::ProbeProgram::GcmOpenExit;
}

// Attach order. Hooks go in while the process runs, so a request may be caught and its
// response missed if the reading side is attached after the writing side. Entry hooks go
// first (they emit nothing alone), then those that report what was received, then those
// that report both directions, and what reports a sent request alone goes last: a request
// seen means the hooks for its response were already in.
int attach_rank(const binary::Probe& p) {
  using P = binary::ProbeProgram;
  const bool egress = ((p.cookie >> 8) & 1) == REIN_DIR_EGRESS;
  switch (p.program) {
    case P::TlsEnter:
    case P::GcmOpenEnter:
    case P::GoEnter:
      return 0;
    case P::GcmOpenExit:
      return 1;
    case P::TlsExit:
      return egress ? 3 : 2;  // per-offset links: readers' returns first
    case P::GoRet:
      return 3;
    case P::AesniOpen:
    case P::ChachaOpen:
      return 0;
    case P::GcmSeal:
    case P::AesniSeal:
    case P::ChachaSeal:
      return 4;
  }
  return 5;
}
}  // namespace

// One link per program: a handful of syscalls per file, whatever the number of offsets.
void TlsHooks::attach_multi(AttachResult& r) const {
  const uint32_t pid = r.job.pid;
  // one link per program, in attach_rank order (the lowest rank of its probes)
  std::map<std::pair<int, binary::ProbeProgram>,
           std::pair<std::vector<uint64_t>, std::vector<uint64_t>>>
      groups;
  std::map<binary::ProbeProgram, int> rank;
  for (const auto& p : r.job.plan->probes) {
    auto [it, fresh] = rank.emplace(p.program, attach_rank(p));
    if (!fresh) it->second = std::min(it->second, attach_rank(p));
  }
  for (const auto& p : r.job.plan->probes) {
    auto& g = groups[{rank[p.program], p.program}];
    g.first.push_back(p.offset);
    g.second.push_back(p.cookie);
  }
  std::string path = fmt::format("/proc/self/fd/{}", r.job.fd);
  uint32_t target = mode_ == Mode::SystemWide ? 0 : pid;
  for (const auto& [key, oc] : groups) {
    const binary::ProbeProgram prog = key.second;
    auto t0 = std::chrono::steady_clock::now();
    int fd = attach_uprobe_multi(bpf_program__fd(program(prog)), path, oc.first, oc.second,
                                 is_return(prog), target);
    if (debug_tls())
      fprintf(stderr, "rein-debug: link %s (%zu offsets) pid %u in %.2f ms\n",
              binary::probe_program_name(prog), oc.first.size(), pid,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                  .count());
    if (fd < 0) {
      r.failed += oc.first.size();
      if (errno == ESRCH) break;  // the process exited meanwhile
      continue;
    }
    r.links.push_back(Link{nullptr, fd});
    r.ok += oc.first.size();
  }
}

void TlsHooks::attach_each(AttachResult& r) const {
  std::string path = fmt::format("/proc/self/fd/{}", r.job.fd);
  int target = mode_ == Mode::SystemWide ? -1 : int(r.job.pid);
  std::vector<binary::Probe> order(r.job.plan->probes.begin(), r.job.plan->probes.end());
  std::stable_sort(order.begin(), order.end(), [](const binary::Probe& a, const binary::Probe& b) {
    return attach_rank(a) < attach_rank(b);
  });
  for (const auto& p : order) {
    LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = p.cookie, .retprobe = is_return(p.program));
    struct bpf_link* l =
        bpf_program__attach_uprobe_opts(program(p.program), target, path.c_str(), p.offset, &o);
    if (!l) {
      r.failed++;
      if (errno == ESRCH) break;  // the process exited meanwhile
      continue;
    }
    r.links.push_back(Link{l, -1});
    r.ok++;
  }
}

void TlsHooks::drop(uint32_t pid) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  if (!it->second.links.empty()) {
    std::lock_guard<std::mutex> g(reap_mu_);
    reap_.insert(reap_.end(), it->second.links.begin(), it->second.links.end());
  }
  procs_.erase(it);
}

void TlsHooks::on_process(uint32_t pid, uint64_t now_ns) {
  if (debug_tls()) fprintf(stderr, "rein-debug: process %u\n", pid);
  // a new image: the hooks of the one it replaced (or inherited at fork) are useless now
  forks_.erase(pid);
  if (mode_ == Mode::PerProcess) drop(pid);
  char exe[4096];
  ssize_t n = readlink(proc_path(pid, "exe").c_str(), exe, sizeof(exe) - 1);
  std::string shown = n > 0 ? std::string(exe, size_t(n)) : proc_path(pid, "exe");
  add_file(pid, proc_path(pid, "exe"), shown, now_ns);
  std::ifstream maps(proc_path(pid, "maps"));
  std::string line;
  int lines = 0;
  std::set<std::string> seen;
  while (std::getline(maps, line) && ++lines < 20000) {
    auto slash = line.find('/');
    if (slash == std::string::npos || line.find(" r-xp ") == std::string::npos) continue;
    std::string path = line.substr(slash);
    if (!tls_library_name(path) || !seen.insert(path).second) continue;
    add_file(pid, proc_path(pid, "root") + path, path, now_ns);
  }
}

void TlsHooks::on_library(uint32_t pid, const std::string& path, uint64_t now_ns) {
  if (path.empty() || path[0] != '/') return;
  add_file(pid, proc_path(pid, "root") + path, path, now_ns);
}

// Most children exec at once (shells, git, tools) and would throw inherited hooks away:
// a child is given its parent's hooks only if it is still running the parent's image a
// moment later (worker processes that fork without exec).
void TlsHooks::on_fork(uint32_t child, uint32_t parent, uint64_t now_ns) {
  if (mode_ != Mode::PerProcess || !procs_.count(parent)) return;
  if (forks_.size() >= kMaxProcesses) return;
  forks_[child] = PendingFork{parent, now_ns};
}

void TlsHooks::attach_forks(uint64_t now_ns) {
  for (auto it = forks_.begin(); it != forks_.end();) {
    if (now_ns < it->second.ts_ns + kForkGraceNs) {
      ++it;
      continue;
    }
    uint32_t child = it->first, parent = it->second.parent;
    it = forks_.erase(it);
    auto p = procs_.find(parent);
    if (p == procs_.end() || kill(pid_t(child), 0) != 0) continue;
    std::vector<FileKey> keys(p->second.files.begin(), p->second.files.end());
    for (const auto& k : keys) {
      auto f = files_.find(k);
      if (f != files_.end() && f->second.ready) attach(child, k, f->second, now_ns);
    }
  }
}

void TlsHooks::on_exit(uint32_t pid) {
  if (getenv("REIN_DEBUG_TLS") && procs_.count(pid)) fprintf(stderr, "rein-debug: exit %u\n", pid);
  forks_.erase(pid);
  drop(pid);
}

void TlsHooks::poll(uint64_t now_ns) {
  take_attached();
  attach_forks(now_ns);
  std::deque<std::pair<FileKey, std::shared_ptr<const binary::TlsPlan>>> done;
  {
    std::lock_guard<std::mutex> g(mu_);
    done.swap(done_);
  }
  for (auto& [key, plan] : done) {
    auto it = files_.find(key);
    if (it == files_.end()) continue;
    auto& f = it->second;
    f.plan = plan;
    f.ready = true;
    stats_.files_analyzed++;
    store_cache(f.identity, *plan);
    if (!plan->libraries.empty() || !plan->undecodable.empty())
      log_.push_back(fmt::format("TLS {}: {}{}{} (analysed in {:.0f} ms)", f.shown,
                                 plan->libraries.empty() ? "nothing hookable" : join(plan->libraries),
                                 plan->undecodable.empty() ? "" : "; not decoded: ",
                                 join(plan->undecodable), plan->analysis_ms));
    auto waiting = std::move(f.waiting);
    f.waiting.clear();
    for (uint32_t pid : waiting) attach(pid, key, f, now_ns);
  }
}

void TlsHooks::attach_system_wide(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    add_file(0, p, p, 0);
  }
}

bool TlsHooks::attach_pending() const {
  if (!forks_.empty() || attaching_ > 0) return true;
  for (const auto& [k, f] : files_)
    if (!f.ready && !f.waiting.empty()) return true;
  return false;
}

TlsHooks::Coverage TlsHooks::coverage(uint32_t pid) const {
  Coverage c;
  auto add = [&c](const FileState& f) {
    if (!f.plan) return;
    for (const auto& l : f.plan->libraries) c.hooked.push_back(l);
    for (const auto& u : f.plan->undecodable) c.undecodable.push_back(u);
  };
  if (auto it = procs_.find(pid); it != procs_.end()) {
    c.hooked_at_ns = it->second.hooked_at_ns;
    c.pending = it->second.attaching > 0;
    for (const auto& k : it->second.files)
      if (auto f = files_.find(k); f != files_.end()) add(f->second);
  }
  if (mode_ == Mode::SystemWide)
    if (auto it = procs_.find(0); it != procs_.end())
      for (const auto& k : it->second.files)
        if (auto f = files_.find(k); f != files_.end()) add(f->second);
  for (const auto& [k, f] : files_)
    for (uint32_t w : f.waiting)
      if (w == pid) c.pending = true;
  return c;
}

std::vector<std::string> TlsHooks::take_log() {
  std::vector<std::string> out;
  out.swap(log_);
  return out;
}

}  // namespace rein::loader
