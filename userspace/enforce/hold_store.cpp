#include "enforce/hold_store.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "process/proc_reader.h"

namespace rein::enforce {
namespace {
constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxRuleBytes = 256;

template <typename T>
bool parse_num(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Next space-separated field of `line`, consumed.
std::string_view field(std::string_view* line) {
  size_t sp = line->find(' ');
  std::string_view f = line->substr(0, sp);
  *line = sp == std::string_view::npos ? std::string_view() : line->substr(sp + 1);
  return f;
}

std::string safe_rule(std::string_view r) {
  std::string out(r.substr(0, kMaxRuleBytes));
  for (auto& c : out)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) c = '_';
  return out;
}
}  // namespace

std::string serialize_holds(const std::vector<SavedHold>& holds) {
  std::string out;
  for (const auto& h : holds)
    out += fmt::format("{} {} {} {} {}\n", h.pid, h.start_ticks, h.default_allow ? "allow" : "deny",
                       h.deadline_unix, safe_rule(h.rule));
  return out;
}

std::vector<SavedHold> parse_holds(std::string_view text, size_t* unreadable) {
  std::vector<SavedHold> out;
  size_t bad = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    SavedHold h;
    auto pid = field(&line), start = field(&line), def = field(&line), deadline = field(&line);
    if (!parse_num(pid, &h.pid) || h.pid <= 1 || !parse_num(start, &h.start_ticks) ||
        h.start_ticks == 0 || !parse_num(deadline, &h.deadline_unix) ||
        (def != "allow" && def != "deny")) {
      bad++;
      continue;
    }
    h.default_allow = def == "allow";
    h.rule = safe_rule(line);
    out.push_back(std::move(h));
  }
  if (unreadable) *unreadable = bad;
  return out;
}

Result<void> save_holds_file(const std::string& path, const std::vector<SavedHold>& holds) {
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (!f) return make_error(fmt::format("{}: {}", tmp, std::strerror(errno)));
  std::string text = serialize_holds(holds);
  bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = fflush(f) == 0 && ok;
  ok = fsync(fileno(f)) == 0 && ok;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return make_error(fmt::format("{}: {}", path, std::strerror(e)));
  }
  return {};
}

std::vector<SavedHold> load_holds_file(const std::string& path, size_t* unreadable) {
  if (unreadable) *unreadable = 0;
  auto text = process::read_file_bounded(path, kMaxFileBytes);
  return text ? parse_holds(*text, unreadable) : std::vector<SavedHold>{};
}

LeftoverAction decide_leftover(const SavedHold& h, const std::optional<process::ProcState>& now) {
  if (!now || now->start_ticks != h.start_ticks || !process::is_stopped_state(now->state))
    return LeftoverAction::kNone;
  return h.default_allow ? LeftoverAction::kResume : LeftoverAction::kKill;
}

std::vector<LeftoverResult> resolve_leftover_holds(const std::string& path, size_t* unreadable) {
  std::vector<LeftoverResult> out;
  for (auto& h : load_holds_file(path, unreadable)) {
    LeftoverResult r{h, decide_leftover(h, process::proc_state(h.pid)), ""};
    if (r.action == LeftoverAction::kNone) {
      r.detail = "left by an earlier run: the process is gone, running, or another one has its pid";
    } else if (auto p = process::Pidfd::open_exact(h.pid, h.start_ticks); !p) {
      r.action = LeftoverAction::kNone;
      r.detail = p.error().message;
    } else if (auto ok = p->send(r.action == LeftoverAction::kKill ? SIGKILL : SIGCONT); !ok) {
      r.action = LeftoverAction::kNone;
      r.detail = ok.error().message;
    } else {
      r.detail = fmt::format("left open by an earlier run of rein: default {} applied at start",
                             h.default_allow ? "allow" : "deny");
    }
    out.push_back(std::move(r));
  }
  unlink(path.c_str());
  return out;
}

}  // namespace rein::enforce
