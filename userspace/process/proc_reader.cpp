#include "process/proc_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <limits>

namespace rein::process {
namespace {

template <typename T>
std::optional<T> parse_uint(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Splits on runs of blanks; stops after `max` tokens so a huge line costs nothing extra.
std::vector<std::string_view> tokens(std::string_view s, size_t max) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size() && out.size() < max) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat st;
  st.comm = std::string(text.substr(open + 1, std::min(close - open - 1, kMaxCommBytes)));
  // After ')': state(3) ppid(4) ... starttime(22), i.e. token indexes 0, 1 and 19.
  auto t = tokens(text.substr(close + 1), 20);
  if (t.size() < 20 || t[0].size() != 1) return std::nullopt;
  auto ppid = parse_uint<uint32_t>(t[1]);
  auto start = parse_uint<uint64_t>(t[19]);
  if (!ppid || !start) return std::nullopt;
  st.state = t[0][0];
  st.ppid = *ppid;
  st.start_ticks = *start;
  return st;
}

std::optional<uint32_t> parse_status_real_uid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.substr(0, 4) == "Uid:") {
      auto t = tokens(line.substr(4), 1);
      if (t.empty()) return std::nullopt;
      return parse_uint<uint32_t>(t[0]);
    }
    pos = eol + 1;
  }
  return std::nullopt;
}

std::vector<std::string> split_cmdline(std::string_view raw) {
  std::vector<std::string> args;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t nul = raw.find('\0', pos);
    if (nul == std::string_view::npos) nul = raw.size();
    args.emplace_back(raw.substr(pos, nul - pos));
    pos = nul + 1;
  }
  return args;
}

std::optional<std::string> parse_cgroup_v2_path(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (line.substr(0, 3) == "0::") {
      std::string_view path = line.substr(3);
      if (path.empty() || path[0] != '/') return std::nullopt;
      return std::string(path);
    }
    pos = eol + 1;
  }
  return std::nullopt;
}

uint64_t clock_ticks_to_ns(uint64_t ticks, long ticks_per_sec) {
  constexpr uint64_t kNsPerSec = 1'000'000'000;
  const uint64_t hz = ticks_per_sec > 0 ? static_cast<uint64_t>(ticks_per_sec) : 100;
  uint64_t whole = 0;
  if (__builtin_mul_overflow(ticks / hz, kNsPerSec, &whole)) {
    return std::numeric_limits<uint64_t>::max();
  }
  // (ticks % hz) < hz, and hz is a small kernel constant, so this product cannot overflow
  // for any hz below ~1.8e10.
  uint64_t frac = (ticks % hz) * kNsPerSec / hz;
  uint64_t sum = 0;
  if (__builtin_add_overflow(whole, frac, &sum)) return std::numeric_limits<uint64_t>::max();
  return sum;
}

std::string strip_deleted_suffix(std::string path) {
  constexpr std::string_view kSuffix = " (deleted)";
  if (path.size() >= kSuffix.size() &&
      std::string_view(path).substr(path.size() - kSuffix.size()) == kSuffix) {
    path.resize(path.size() - kSuffix.size());
  }
  return path;
}

std::optional<std::string> read_file_bounded(const std::string& path, size_t max, bool* truncated) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  std::string buf;
  // /proc files report size 0, so read until EOF rather than trusting fstat.
  buf.resize(max + 1);  // one extra byte tells "exactly max" from "more than max"
  size_t n = 0;
  bool failed = false;
  while (n < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + n, buf.size() - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      failed = true;
      break;
    }
    if (r == 0) break;
    n += static_cast<size_t>(r);
  }
  ::close(fd);
  if (failed) return std::nullopt;
  const bool cut = n > max;
  if (truncated) *truncated = cut;
  buf.resize(cut ? max : n);
  return buf;
}

std::optional<std::string> read_link_bounded(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

std::optional<ProcRecord> read_proc_pid(const std::string& proc_root, uint32_t pid,
                                        long ticks_per_sec) {
  return read_proc_pid(ProcDirSource(proc_root), pid, ticks_per_sec);
}

std::optional<ProcRecord> read_proc_pid(const ProcSource& src, uint32_t pid, long ticks_per_sec) {
  auto stat_text = src.read(pid, "stat", kMaxSmallProcFileBytes);
  if (!stat_text) return std::nullopt;
  auto st = parse_proc_stat(*stat_text);
  if (!st) return std::nullopt;

  if (ticks_per_sec <= 0) ticks_per_sec = ::sysconf(_SC_CLK_TCK);

  ProcRecord rec;
  ProcessInfo& p = rec.info;
  p.pid = pid;
  p.ppid = st->ppid;
  p.comm = std::move(st->comm);
  p.start_ns = clock_ticks_to_ns(st->start_ticks, ticks_per_sec);
  p.from_proc = true;
  // A zombie already exited; its exit record (if any) predates us and will not come again.
  p.exited = st->state == 'Z' || st->state == 'X';

  std::optional<uint32_t> uid;
  if (auto status = src.read(pid, "status", kMaxSmallProcFileBytes)) {
    uid = parse_status_real_uid(*status);
  }
  // The directory is owned by the effective uid: a fallback better than claiming root.
  if (!uid) uid = src.owner(pid);
  p.uid = uid.value_or(0);

  if (auto cmd = src.read(pid, "cmdline", kMaxCmdlineBytes, &rec.cmdline_truncated)) {
    p.args = split_cmdline(*cmd);
  }
  if (auto exe = src.read_link(pid, "exe")) p.exe = strip_deleted_suffix(std::move(*exe));
  if (auto cwd = src.read_link(pid, "cwd")) p.cwd = strip_deleted_suffix(std::move(*cwd));
  if (auto cg = src.read(pid, "cgroup", kMaxSmallProcFileBytes)) {
    rec.cgroup_path = parse_cgroup_v2_path(*cg).value_or("");
  }
  return rec;
}

}  // namespace rein::process
