#include "cli/top_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/top_source.h"
#include "common/result.h"
#include "top/agent_board.h"

namespace rein::cli {

namespace {

using top::AgentBoard;
using top::AgentStats;
using top::SortKey;

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_winch = 0;

void on_stop(int) {
  g_stop = 1;
}
void on_winch(int) {
  g_winch = 1;
}

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Follows the events file like `tail -F`: new lines as they are appended; a new file at
// the path (inode changed: logrotate's rename + create, or --output-max-mib rotation) or a
// shrunk one (copytruncate) is read from its start after the old one is drained.
class Follower : public TopSource {
 public:
  explicit Follower(std::string path) : path_(std::move(path)) {}

  Result<void> open() {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
    Fd f(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0)
      return make_error(fmt::format("cannot stat {}: {}", path_, std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) return make_error(fmt::format("cannot read {}: a directory", path_));
    fd_ = std::move(f);
    ino_ = st.st_ino;
    dev_ = st.st_dev;
    offset_ = 0;
    split_.reset();
    tail_.clear();
    return {};
  }

  // Reads what is there (at most `budget` bytes: the screen stays responsive while a large
  // file is caught up), then checks for rotation. Returns false on a read error.
  bool poll(AgentBoard& board, size_t budget) override {
    if (truncated()) {
      ::lseek(fd_.get(), 0, SEEK_SET);
      offset_ = 0;
      split_.reset();
      tail_.clear();
      ++rotations_;
    }
    if (!drain(board, budget)) return false;
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      status_ = "file missing (rotated?), waiting";
      return true;
    }
    status_.clear();
    if (st.st_ino != ino_ || st.st_dev != dev_) {
      if (!drain(board, SIZE_MAX)) return false;
      if (!open()) {
        status_ = "cannot reopen after rotation, waiting";
        return true;
      }
      ++rotations_;
      return drain(board, budget);
    }
    return true;
  }

  const std::string& status() const override { return status_; }
  uint64_t rotations() const { return rotations_; }
  const std::string& error() const override { return error_; }
  // The last poll stopped at its budget: there is more to read right away.
  bool behind() const override { return behind_; }

 private:
  // Truncated in place (copytruncate): shorter than what was read, or, when it was
  // rewritten past that point between two polls, the bytes last read are no longer there.
  bool truncated() {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return false;
    if (st.st_size < offset_) return true;
    if (tail_.empty()) return false;
    char buf[kTailBytes];
    ssize_t n = ::pread(fd_.get(), buf, tail_.size(), offset_ - static_cast<off_t>(tail_.size()));
    return n != static_cast<ssize_t>(tail_.size()) || std::string_view(buf, tail_.size()) != tail_;
  }

  bool drain(AgentBoard& board, size_t budget) {
    char buf[65536];
    size_t total = 0;
    behind_ = false;
    while (true) {
      if (total >= budget) {
        behind_ = true;
        break;
      }
      ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = fmt::format("read {}: {}", path_, std::strerror(errno));
        return false;
      }
      if (n == 0) break;
      offset_ += n;
      total += static_cast<size_t>(n);
      const size_t keep = std::min(static_cast<size_t>(n), kTailBytes);
      tail_.append(buf + n - keep, keep);
      if (tail_.size() > kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
      split_.feed(board, std::string_view(buf, static_cast<size_t>(n)));
    }
    return true;
  }

  std::string path_;
  Fd fd_;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  off_t offset_ = 0;
  static constexpr size_t kTailBytes = 64;
  LineSplitter split_{/*sensor_notices=*/false};
  std::string tail_;
  bool behind_ = false;
  std::string status_, error_;
  uint64_t rotations_ = 0;
};

struct View {
  SortKey sort = SortKey::kCost;
  std::string selected_id;  // follows the agent across re-sorts
  size_t selected = 0;
  bool drill = false;
  size_t scroll = 0;
};

std::string clock_of(int64_t ns) {
  if (ns <= 0) return "--:--:--";
  time_t s = static_cast<time_t>(ns / 1000000000);
  struct tm tm {};
  gmtime_r(&s, &tm);
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string money(double usd) {
  return fmt::format("${:.6f}", usd);
}

// Cut to `width` columns. Event text is already valid UTF-8 with control characters escaped;
// a cut inside a multi-byte character is backed off to its start.
std::string fit(std::string s, size_t width) {
  if (s.size() <= width) return s;
  size_t n = width;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

std::string cell(std::string_view s, size_t width) {
  return fmt::format("{:<{}}", fit(std::string(s), width), width);
}

std::string opt_int(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : "-";
}

struct Frame {
  std::vector<std::string> lines;
  int highlight = -1;  // index of the selected row
};

Frame render_list(const AgentBoard& b, View& v, const std::vector<const AgentStats*>& rows,
                  size_t height) {
  Frame f;
  f.lines.push_back(
      fmt::format(" {} {:>7} {:>7} {:>5} {:>10} {:>10} {:>12} {:>10} {:>5} {:>6} {:>5} {:>5} {:>8}",
                  cell("AGENT", 24), "PID", "CALLS", "ERR", "IN TOK", "OUT TOK", "COST", "$/MIN",
                  "HOSTS", "FILES", "DENY", "HOLDS", "LAST"));
  if (rows.empty()) f.lines.push_back(" (no agent events yet)");
  // Keep the selected row on screen.
  size_t room = height > 0 ? height : rows.size();
  if (v.selected < v.scroll) v.scroll = v.selected;
  if (room > 0 && v.selected >= v.scroll + room) v.scroll = v.selected - room + 1;
  for (size_t i = v.scroll; i < rows.size() && i < v.scroll + room; ++i) {
    const AgentStats& a = *rows[i];
    if (i == v.selected) f.highlight = static_cast<int>(f.lines.size());
    f.lines.push_back(fmt::format(
        "{}{} {:>7} {:>7} {:>5} {:>10} {:>10} {:>12} {:>10} {:>5} {:>6} {:>5} {:>5} {:>8}",
        i == v.selected ? '>' : ' ', cell(a.name.empty() ? a.id : a.name, 24), opt_int(a.root_pid),
        a.calls, a.errors, a.input_tokens, a.output_tokens, money(a.cost_usd),
        fmt::format("${:.4f}", b.cost_per_min(a)),
        fmt::format("{}{}", a.hosts.size(), a.hosts_capped ? "+" : ""), a.files_changed, a.denials,
        a.holds_waiting.size(), clock_of(a.last_seen_ns)));
  }
  return f;
}

Frame render_drill(const AgentBoard& b, const AgentStats* a, size_t width) {
  Frame f;
  if (!a) {
    f.lines.push_back(" agent no longer on the board (evicted)");
    return f;
  }
  f.lines.push_back(fmt::format(" {}  pid {}  id {}", a->name, opt_int(a->root_pid), a->id));
  f.lines.push_back(fmt::format(
      " calls {}  errors {}  tokens in {} out {}  cost {}  {}/min  files {}  denials {}  "
      "holds waiting {}",
      a->calls, a->errors, a->input_tokens, a->output_tokens, money(a->cost_usd),
      fmt::format("${:.4f}", b.cost_per_min(*a)), a->files_changed, a->denials,
      a->holds_waiting.size()));
  std::string hosts;
  for (const auto& h : a->hosts) {
    if (hosts.size() > width) break;
    hosts += (hosts.empty() ? "" : ", ") + h;
  }
  f.lines.push_back(" hosts: " + (hosts.empty() ? std::string("-") : hosts));
  f.lines.emplace_back();
  f.lines.push_back(fmt::format(" LAST LLM CALLS ({})", a->recent_calls.size()));
  f.lines.push_back(fmt::format(" {:<8} {} {:>9} {:>9} {:>12} {:>10} {:>6}", "TIME",
                                cell("MODEL", 32), "IN", "OUT", "COST", "LATENCY", "STATUS"));
  for (auto it = a->recent_calls.rbegin(); it != a->recent_calls.rend(); ++it)
    f.lines.push_back(
        fmt::format(" {:<8} {} {:>9} {:>9} {:>12} {:>10} {:>6}{}", clock_of(it->time_ns),
                    cell(it->model.empty() ? "-" : it->model, 32), opt_int(it->input_tokens),
                    opt_int(it->output_tokens), it->cost_usd ? money(*it->cost_usd) : "-",
                    it->latency_ms ? fmt::format("{:.0f}ms", *it->latency_ms) : "-",
                    opt_int(it->status), it->error ? " error" : ""));
  f.lines.emplace_back();
  f.lines.push_back(fmt::format(" LAST FILES CHANGED ({} total)", a->files_changed));
  f.lines.push_back(fmt::format(" {:<8} {:<9} {}", "TIME", "OP", "PATH"));
  for (auto it = a->recent_files.rbegin(); it != a->recent_files.rend(); ++it)
    f.lines.push_back(
        fmt::format(" {:<8} {:<9} {}", clock_of(it->time_ns), fit(it->op, 9), it->path));
  return f;
}

// The whole screen as lines; `height` 0 means unbounded (--once).
Frame render(const AgentBoard& b, View& v, const TopSource& fl, const std::string& file,
             size_t width, size_t height) {
  auto rows = b.sorted(v.sort);
  if (!v.selected_id.empty()) {  // keep the same agent selected when the order changes
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i]->id == v.selected_id) v.selected = i;
  }
  if (v.selected >= rows.size()) v.selected = rows.empty() ? 0 : rows.size() - 1;
  v.selected_id = rows.empty() ? "" : rows[v.selected]->id;

  Frame f;
  f.lines.push_back(fmt::format(
      "rein top  {}  sensor: {}  agents: {}  lines: {}  skipped: {}  sort: {}  newest event: "
      "{} UTC{}",
      file, b.sensor_state().empty() ? "?" : b.sensor_state(), b.agents(), b.lines(), b.skipped(),
      top::sort_name(v.sort), clock_of(b.newest_ns()),
      fl.status().empty() ? "" : "  [" + fl.status() + "]"));
  const size_t chrome = 3;  // header, blank line, key help
  size_t body_room = height > chrome + 1 ? height - chrome - 1 : (height ? 1 : 0);
  Frame body =
      v.drill ? render_drill(b, b.find(v.selected_id), width) : render_list(b, v, rows, body_room);
  f.lines.emplace_back();
  if (body.highlight >= 0) f.highlight = body.highlight + static_cast<int>(f.lines.size());
  for (auto& l : body.lines) f.lines.push_back(std::move(l));
  if (height && f.lines.size() > height - 1) f.lines.resize(height - 1);
  if (height) {
    while (f.lines.size() < height - 1) f.lines.emplace_back();
    f.lines.push_back(v.drill ? " Esc/Backspace back   q quit"
                              : " q quit   s sort   up/down j/k select   Enter details");
  }
  for (auto& l : f.lines) l = fit(std::move(l), width);
  return f;
}

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Raw keys, alternate screen, hidden cursor; everything undone by the destructor, which runs
// on q, on SIGINT/SIGTERM/SIGHUP (they only set a flag) and when an error unwinds.
class Terminal {
 public:
  Result<void> enter() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0)
      return make_error(fmt::format("terminal: {}", std::strerror(errno)));
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG kept: Ctrl-C still stops us
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0)
      return make_error(fmt::format("terminal: {}", std::strerror(errno)));
    active_ = true;
    write_all(STDOUT_FILENO, "\x1b[?1049h\x1b[?25l\x1b[2J\x1b[H");
    return {};
  }
  ~Terminal() {
    if (!active_) return;
    write_all(STDOUT_FILENO, "\x1b[0m\x1b[?25h\x1b[?1049l");
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

void window_size(size_t& w, size_t& h) {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    w = ws.ws_col;
    h = ws.ws_row;
  }
}

enum class Key { kNone, kQuit, kSort, kUp, kDown, kEnter, kBack };

std::vector<Key> parse_keys(std::string_view in) {
  std::vector<Key> keys;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\x1b') {
      if (i + 2 < in.size() && (in[i + 1] == '[' || in[i + 1] == 'O')) {
        if (in[i + 2] == 'A') keys.push_back(Key::kUp);
        if (in[i + 2] == 'B') keys.push_back(Key::kDown);
        i += 2;
      } else {
        keys.push_back(Key::kBack);  // a lone Esc
      }
      continue;
    }
    switch (c) {
      case 'q':
      case 'Q':
        keys.push_back(Key::kQuit);
        break;
      case 's':
      case 'S':
        keys.push_back(Key::kSort);
        break;
      case 'k':
        keys.push_back(Key::kUp);
        break;
      case 'j':
        keys.push_back(Key::kDown);
        break;
      case '\r':
      case '\n':
        keys.push_back(Key::kEnter);
        break;
      case 0x7f:
      case 0x08:
        keys.push_back(Key::kBack);
        break;
      default:
        break;
    }
  }
  return keys;
}

constexpr size_t kCatchUpBytes = size_t{16} << 20;  // per redraw while a big file is read

// The --output file, or with --socket a subscription to the running sensor.
Result<std::unique_ptr<TopSource>> open_source(const TopOptions& o) {
  if (!o.socket.empty()) {
    auto s = std::make_unique<SocketFollower>(o.socket);
    if (auto r = s->open(); !r) return r.error();
    return std::unique_ptr<TopSource>(std::move(s));
  }
  auto f = std::make_unique<Follower>(o.file);
  if (auto r = f->open(); !r) return r.error();
  return std::unique_ptr<TopSource>(std::move(f));
}

std::string source_name(const TopOptions& o) {
  return o.socket.empty() ? o.file : "sensor " + o.socket;
}

int run_once(const TopOptions& o) {
  auto src = open_source(o);
  if (!src) {
    fmt::print(stderr, "rein top: {}\n", src.error().message);
    return 1;
  }
  TopSource& fl = **src;
  AgentBoard board;
  // A file is read whole; a subscription shows what the sensor writes during one interval.
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.interval_s);
  do {
    if (!fl.poll(board, SIZE_MAX)) {
      fmt::print(stderr, "rein top: {}\n", fl.error());
      return 1;
    }
    if (o.socket.empty()) break;
    ::usleep(50'000);
  } while (std::chrono::steady_clock::now() < until);
  size_t w = 160, rows = 0;
  if (::isatty(STDOUT_FILENO)) window_size(w, rows);
  View v;
  Frame f = render(board, v, fl, source_name(o), w, 0);  // every agent: no height limit
  std::string out;
  for (auto& l : f.lines) out += l + "\n";
  return write_all(STDOUT_FILENO, out) ? 0 : 1;
}

}  // namespace

int top(const TopOptions& o) {
  if (o.once) return run_once(o);
  auto fail = [](const std::string& msg) {
    fmt::print(stderr, "rein top: {}\n", msg);
    return 1;
  };
  if (!std::isfinite(o.interval_s) || o.interval_s < 0.05) return fail("--interval below 0.05 s");
  if (!::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO))
    return fail("needs a terminal; use --once for a plain frame");
  auto src = open_source(o);
  if (!src) return fail(src.error().message);
  TopSource& fl = **src;

  struct sigaction sa {};
  sa.sa_handler = on_stop;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  sa.sa_handler = on_winch;
  ::sigaction(SIGWINCH, &sa, nullptr);

  AgentBoard board;
  View v;
  size_t w = 80, h = 24;
  window_size(w, h);
  std::optional<Terminal> term;
  term.emplace();
  if (auto r = term->enter(); !r) return fail(r.error().message);

  using Clock = std::chrono::steady_clock;
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval_s));
  auto next_tick = Clock::now();
  bool dirty = true;
  while (!g_stop) {
    if (Clock::now() >= next_tick) {
      if (!fl.poll(board, kCatchUpBytes)) {
        // The destructor restores the terminal before the message is printed.
        term.reset();
        return fail(fl.error());
      }
      next_tick = fl.behind() ? Clock::now() : Clock::now() + interval;
      dirty = true;
    }
    if (g_winch) {
      g_winch = 0;
      window_size(w, h);
      write_all(STDOUT_FILENO, "\x1b[2J");
      dirty = true;
    }
    if (dirty) {
      Frame f = render(board, v, fl, source_name(o), w, h);
      std::string out = "\x1b[H";
      for (size_t i = 0; i < f.lines.size(); ++i) {
        if (static_cast<int>(i) == f.highlight)
          out += "\x1b[7m" + f.lines[i] + "\x1b[0m";
        else
          out += f.lines[i];
        out += "\x1b[K";
        if (i + 1 < f.lines.size()) out += "\r\n";
      }
      out += "\x1b[J";
      write_all(STDOUT_FILENO, out);
      dirty = false;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (rc <= 0) continue;  // timeout, or a signal: the flags are checked above
    if (p.revents & (POLLHUP | POLLERR)) break;
    char buf[64];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) continue;
    for (Key k : parse_keys(std::string_view(buf, static_cast<size_t>(n)))) {
      dirty = true;
      switch (k) {
        case Key::kQuit:
          g_stop = 1;
          break;
        case Key::kSort:
          v.sort = top::next_sort(v.sort);
          break;
        case Key::kUp:
          if (!v.drill && v.selected > 0) {
            --v.selected;
            v.selected_id.clear();
          }
          break;
        case Key::kDown:
          if (!v.drill) {
            ++v.selected;
            v.selected_id.clear();
          }
          break;
        case Key::kEnter:
          if (!v.selected_id.empty()) v.drill = true;
          break;
        case Key::kBack:
          v.drill = false;
          break;
        case Key::kNone:
          break;
      }
    }
  }
  return 0;
}

}  // namespace rein::cli
