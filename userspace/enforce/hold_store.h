// Open holds on disk (--state-dir/holds), so a rein that died without ending them (SIGKILL,
// a crash) can end them when it starts again: a held process is never left stopped for good.
// One line per hold: "PID START_TICKS allow|deny DEADLINE_UNIX RULE".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "process/pidfd.h"

namespace rein::enforce {

struct SavedHold {
  uint32_t pid = 0;
  uint64_t start_ticks = 0;  // /proc/PID/stat field 22: which process this pid was
  bool default_allow = false;
  int64_t deadline_unix = 0;
  std::string rule;
};

std::string serialize_holds(const std::vector<SavedHold>& holds);
// Malformed lines are skipped (a torn or edited file must not stop rein from starting).
// `unreadable`, when given, counts the non-empty lines that were not a hold.
std::vector<SavedHold> parse_holds(std::string_view text, size_t* unreadable = nullptr);

// Written to a temporary file and renamed over `path`: a crash leaves the old or the new list.
Result<void> save_holds_file(const std::string& path, const std::vector<SavedHold>& holds);
std::vector<SavedHold> load_holds_file(const std::string& path, size_t* unreadable = nullptr);

enum class LeftoverAction { kNone, kKill, kResume };
// What to do with a hold left by an earlier run: only the same process (same start time),
// and only while it is still stopped, gets its default; anything else is left alone.
LeftoverAction decide_leftover(const SavedHold& h, const std::optional<process::ProcState>& now);

struct LeftoverResult {
  SavedHold hold;
  LeftoverAction action = LeftoverAction::kNone;
  std::string detail;
};
// Reads `path`, applies each leftover's default through a checked pidfd, removes the file.
// `unreadable`: lines of the file that were not a hold (their processes, if any, stay as
// they are: the caller says so).
std::vector<LeftoverResult> resolve_leftover_holds(const std::string& path, size_t* unreadable = nullptr);

}  // namespace rein::enforce
