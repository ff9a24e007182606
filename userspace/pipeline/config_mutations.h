// config.mutation events: a tracked agent changed a file of a known class (agent
// instructions, shell startup, git, CI, dependencies, scheduled jobs, credentials). Each
// says what the file was before and after (SHA-256, size, lines), a bounded redacted diff
// (none for credentials), and which LLM response preceded the change, with the tool call
// that named the file when there was one. See docs/events.md for the schema.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <unordered_map>

#include "llm/llm_call.h"
#include "pipeline/config_classes.h"
#include "pipeline/config_diff.h"
#include "pipeline/config_snapshots.h"
#include "pipeline/event_builder.h"
#include "pipeline/recent_llm_calls.h"
#include "sinks/json_writer.h"

namespace rein::pipeline {

struct ConfigChange {
  std::string op;        // file.mutation op: write, create, truncate, rename, unlink, chmod, ...
  std::string path;      // the changed file (rename: the new name)
  std::string old_path;  // rename: the name it had; empty otherwise
  std::string agent_id;
  std::string cwd;  // the process's cwd, for relative names in tool calls
  uint64_t ts_ns = 0;
};

struct ConfigMutationStats {
  uint64_t events = 0;
  uint64_t snapshots_taken = 0;
  uint64_t before_missing = 0;
  uint64_t pending_opens_dropped = 0;
};

class ConfigMutationTracker {
 public:
  ConfigMutationTracker(SnapshotLimits snaps = {}, DiffLimits diff = {},
                        RecentCallLimits calls = {});
  // The policy's config_files section; null: the built-in classes.
  void configure(const policy::ConfigFilesConfig* cfg) { classes_.configure(cfg); }
  bool enabled() const { return classes_.enabled(); }
  std::optional<ConfigClassMatch> classify(std::string_view path) const {
    return classes_.classify(path);
  }

  void on_llm_call(const std::string& agent_id, uint64_t ts_ns, const llm::LlmCall& call) {
    calls_.add(agent_id, ts_ns, call);
  }
  void forget_agent(const std::string& agent_id) { calls_.forget(agent_id); }
  // A new agent: known-class files in its cwd and home become the "before" of later changes.
  // start_real_ns: when it started (CLOCK_REALTIME), to discard files changed since.
  void on_agent_started(uint32_t pid, const std::string& cwd, const std::string& home,
                        uint64_t ts_ns, int64_t start_real_ns) {
    load_agent_start(read_agent_start(pid, cwd, home, start_real_ns), ts_ns);
  }
  // The same in two steps: the live reads (encoded), then the state they feed. Capture
  // records the first's result and replay feeds it back without touching any file.
  std::string read_agent_start(uint32_t pid, const std::string& cwd, const std::string& home,
                               int64_t start_real_ns) const;
  void load_agent_start(std::string_view encoded, uint64_t ts_ns);
  // The changed file as it is now (encoded), for write_event.
  std::string read_after(const ConfigChange& c, std::initializer_list<uint32_t> pids) const;

  // Opens for writing that created or truncated the file: reported with the close.
  void on_open(uint64_t file_id, std::string_view op);
  // The op to report at the close of `file_id`: "create" when that open created the file,
  // else "write" when it wrote, else "truncate"; empty: nothing changed.
  std::string on_close(uint64_t file_id, uint64_t writes);

  // Writes the event's own fields (after the common ones) and refreshes the snapshot.
  // False when the path is not of a known class (nothing written). `pids`: whose root
  // directory to read the file through (the first that still exists; else the host's).
  bool write_event(sinks::JsonWriter& w, const ConfigChange& c,
                   std::initializer_list<uint32_t> pids, const Clock& clock) {
    return write_event(w, c, std::optional<std::string>(read_after(c, pids)), clock);
  }
  // With read_after's result; nullopt: not known (a replay without it in the capture).
  bool write_event(sinks::JsonWriter& w, const ConfigChange& c,
                   const std::optional<std::string>& after, const Clock& clock);

  const ConfigMutationStats& stats() const { return stats_; }
  ConfigSnapshots& snapshots() { return snaps_; }

  // The home directory of a process: HOME from /proc/PID/environ, else the passwd entry.
  static std::string home_of(uint32_t pid, uint32_t uid);
  // CLOCK_BOOTTIME nanoseconds as CLOCK_REALTIME nanoseconds (file times are realtime).
  static int64_t realtime_of_boot(uint64_t boot_ns);

 private:
  std::string root_for(std::initializer_list<uint32_t> pids) const;
  // Which file an event is about: the path, or for a rename away, the old path.
  struct Target {
    std::string path;
    std::optional<ConfigClassMatch> cls;
    bool moved_away = false;
  };
  Target target(const ConfigChange& c) const;

  ConfigClassifier classes_;
  ConfigSnapshots snaps_;
  DiffLimits diff_;
  RecentLlmCalls calls_;
  std::unordered_map<uint64_t, std::string> pending_opens_;
  ConfigMutationStats stats_;
};

}  // namespace rein::pipeline
