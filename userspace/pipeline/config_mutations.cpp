#include "pipeline/config_mutations.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>
#include <set>

#include "process/path_normalize.h"

namespace rein::pipeline {

namespace {

constexpr size_t kMaxPendingOpens = 4096;
constexpr size_t kMaxEnvironBytes = 64 * 1024;

void put_state(sinks::JsonWriter& w, const FileState& s) {
  w.begin_object();
  w.key("sha256");
  if (s.sha256.empty())
    w.null();
  else
    w.string(s.sha256);
  w.key("size");
  w.number(s.size);
  w.key("lines");
  if (s.sha256.empty())
    w.null();
  else
    w.number(s.lines);
  w.key("binary");
  w.boolean(s.binary);
}

// Entries of a directory inside a process's root (not followed out of it), bounded.
std::vector<std::pair<std::string, bool>> list_dir(const std::string& root_dir,
                                                   const std::string& dir, size_t max) {
  std::vector<std::pair<std::string, bool>> out;
  if (max == 0) return out;
  int root = open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return out;
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  size_t first = dir.find_first_not_of('/');
  std::string rel = first == std::string::npos ? "." : dir.substr(first);
  int fd = static_cast<int>(syscall(SYS_openat2, root, rel.c_str(), &how, sizeof(how)));
  close(root);
  if (fd < 0) return out;
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return out;
  }
  while (out.size() < max) {
    dirent* e = readdir(d);
    if (!e) break;
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    if (e->d_type == DT_REG)
      out.emplace_back(std::string(n), false);
    else if (e->d_type == DT_DIR)
      out.emplace_back(std::string(n), true);
  }
  closedir(d);
  return out;
}

// What the cache holds and diffs: text with secrets already masked; nothing of binaries.
void redact_content(FileState& st) {
  if (!st.has_content) return;
  if (st.binary) {
    st.content.clear();
    st.has_content = false;
    return;
  }
  st.content = redact_config_text(st.content);
}

}  // namespace

ConfigMutationTracker::ConfigMutationTracker(SnapshotLimits snaps, DiffLimits diff,
                                             RecentCallLimits calls)
    : snaps_(snaps), diff_(diff), calls_(calls) {}

std::string ConfigMutationTracker::home_of(uint32_t pid, uint32_t uid) {
  int fd = open(fmt::format("/proc/{}/environ", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::string env(kMaxEnvironBytes, '\0');
    ssize_t n = read(fd, env.data(), env.size());
    close(fd);
    if (n > 0) {
      env.resize(size_t(n));
      size_t pos = 0;
      while (pos < env.size()) {
        size_t end = env.find('\0', pos);
        if (end == std::string::npos) end = env.size();
        std::string_view kv(env.data() + pos, end - pos);
        if (kv.substr(0, 5) == "HOME=" && kv.size() > 6 && kv[5] == '/')
          return std::string(kv.substr(5));
        pos = end + 1;
      }
    }
  }
  passwd pw{}, *res = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir &&
      res->pw_dir[0] == '/')
    return res->pw_dir;
  return {};
}

int64_t ConfigMutationTracker::realtime_of_boot(uint64_t boot_ns) {
  timespec rt{}, bt{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_BOOTTIME, &bt);
  int64_t off =
      (int64_t(rt.tv_sec) - int64_t(bt.tv_sec)) * 1'000'000'000 + (rt.tv_nsec - bt.tv_nsec);
  return int64_t(boot_ns) + off;
}

std::string ConfigMutationTracker::root_for(std::initializer_list<uint32_t> pids) const {
  for (uint32_t pid : pids) {
    if (!pid) continue;
    std::string root = fmt::format("/proc/{}/root", pid);
    struct stat st {};
    if (stat(root.c_str(), &st) == 0) return root;
  }
  return "/";
}

std::string ConfigMutationTracker::read_agent_start(uint32_t pid, const std::string& cwd,
                                                    const std::string& home,
                                                    int64_t start_real_ns) const {
  std::string out;
  if (!classes_.enabled()) return out;
  const std::string root = root_for({pid});
  std::set<std::string> dirs;
  for (const auto& d : {cwd, home})
    if (!d.empty() && d.front() == '/') dirs.insert(process::normalize_path(d));
  const auto probes = classes_.probes();
  size_t budget = snaps_.limits().max_files;
  auto take = [&](const std::string& path) {
    if (!budget) return;
    auto cls = classes_.classify(path);
    if (!cls) return;
    auto key = snapshot_key(root, path);
    if (!key) return;
    // Read again even when cached: an untracked process (a human) may have edited it since,
    // and that edit must not show up as this agent's change.
    FileState st = read_file_state(root, path, !cls->credential, snaps_.limits());
    if (!st.exists) return;
    redact_content(st);
    // Changed after the agent started but before this read: possibly by the agent itself,
    // so not a trustworthy "before".
    const bool stale = start_real_ns && st.ctime_real_ns > start_real_ns;
    put_field(out, *key);
    put_field(out, stale ? "stale" : "agent_start");
    encode_file_state(out, st);
    budget--;
  };
  for (const auto& dir : dirs) {
    for (const auto& p : probes) {
      std::string path = process::join_path(dir, p.relative);
      if (!p.subtree) {
        take(path);
        continue;
      }
      // a covered directory: its files and those one level down
      for (const auto& [name, is_dir] : list_dir(root, path, snaps_.limits().max_dir_entries)) {
        std::string child = path + "/" + name;
        if (!is_dir) {
          take(child);
          continue;
        }
        for (const auto& [n2, d2] : list_dir(root, child, snaps_.limits().max_dir_entries))
          if (!d2) take(child + "/" + n2);
      }
    }
  }
  return out;
}

void ConfigMutationTracker::load_agent_start(std::string_view in, uint64_t ts_ns) {
  while (!in.empty()) {
    auto key = take_field(in);
    auto source = take_field(in);
    auto st = key && source ? decode_file_state(in) : std::nullopt;
    if (!st) return;  // malformed: keep what was read so far
    Snapshot s;
    s.state = std::move(*st);
    s.taken_boot_ns = ts_ns;
    s.source = std::string(*source);
    snaps_.put(std::string(*key), std::move(s));
    stats_.snapshots_taken++;
  }
}

void ConfigMutationTracker::on_open(uint64_t file_id, std::string_view op) {
  if (pending_opens_.size() >= kMaxPendingOpens && !pending_opens_.count(file_id)) {
    stats_.pending_opens_dropped += pending_opens_.size();
    pending_opens_.clear();
  }
  auto& v = pending_opens_[file_id];
  if (v.empty() || op == "create") v = std::string(op);  // created beats truncated
}

std::string ConfigMutationTracker::on_close(uint64_t file_id, uint64_t writes) {
  std::string op;
  if (auto it = pending_opens_.find(file_id); it != pending_opens_.end()) {
    op = std::move(it->second);
    pending_opens_.erase(it);
  }
  // A file this open created has no "before" by definition: say so; otherwise a write.
  if (writes && op != "create") return "write";
  return op;
}

ConfigMutationTracker::Target ConfigMutationTracker::target(const ConfigChange& c) const {
  Target t{c.path, classes_.classify(c.path), false};
  if (!t.cls && !c.old_path.empty()) {  // a config file renamed to a name outside every class
    t.cls = classes_.classify(c.old_path);
    t.path = c.old_path;
    t.moved_away = true;
  }
  return t;
}

std::string ConfigMutationTracker::read_after(const ConfigChange& c,
                                              std::initializer_list<uint32_t> pids) const {
  std::string out;
  Target t = target(c);
  if (!t.cls) return out;
  const std::string root = root_for(pids);
  const auto key = snapshot_key(root, t.path);
  const auto old_key = c.old_path.empty() ? std::nullopt : snapshot_key(root, c.old_path);
  FileState after;
  if (t.moved_away || c.op == "unlink" || c.op == "rmdir") {
    after.missing_reason = t.moved_away ? "renamed to " + c.path : "deleted";
  } else {
    after = read_file_state(root, t.path, !t.cls->credential, snaps_.limits());
    redact_content(after);
  }
  put_field(out, key ? *key : "");
  put_field(out, old_key ? *old_key : "");
  encode_file_state(out, after);
  return out;
}

bool ConfigMutationTracker::write_event(sinks::JsonWriter& w, const ConfigChange& c,
                                        const std::optional<std::string>& encoded,
                                        const Clock& clock) {
  if (!classes_.enabled()) return false;
  Target t = target(c);
  if (!t.cls) return false;
  const std::string& path = t.path;
  const auto& cls = t.cls;
  const bool moved_away = t.moved_away;
  stats_.events++;
  std::optional<std::string> key, old_key;
  FileState after;
  {
    std::string_view in = encoded ? std::string_view(*encoded) : std::string_view{};
    auto k = take_field(in);
    auto ok = take_field(in);
    auto st = k && ok ? decode_file_state(in) : std::nullopt;
    if (st) {
      if (!k->empty()) key = std::string(*k);
      if (!ok->empty()) old_key = std::string(*ok);
      after = std::move(*st);
    } else {
      after.missing_reason = "not recorded in the capture";
    }
  }
  const bool gone = moved_away || c.op == "unlink" || c.op == "rmdir";

  const Snapshot* before = key ? snaps_.get(*key) : nullptr;
  std::string before_reason;
  if (before && before->source == "stale") {
    before_reason = "the file changed after the agent started and before the sensor could read it";
    before = nullptr;
  } else if (!before) {
    before_reason =
        c.op == "create" ? "the file was created"
        : key ? "no earlier content known: the file was not among the agent's cwd or home "
                "files at its start, or the snapshot bound evicted it"
              : "the process's root directory is gone";
  }
  if (!before) stats_.before_missing++;

  w.key("path");
  w.string(path);
  if (moved_away || (!c.old_path.empty() && c.op == "rename")) {
    w.key(moved_away ? "new_path" : "old_path");
    w.string(moved_away ? c.path : c.old_path);
  }
  w.key("class");
  w.string(cls->name);
  w.key("credential");
  w.boolean(cls->credential);
  w.key("op");
  w.string(c.op);
  w.key("before");
  if (before) {
    put_state(w, before->state);
    w.key("source");
    w.string(before->source);
    w.end_object();
  } else {
    w.null();
    w.key("before_reason");
    w.string(before_reason);
  }
  w.key("after");
  if (after.exists) {
    put_state(w, after);
    w.end_object();
  } else {
    w.null();
    w.key("after_reason");
    w.string(after.missing_reason);
  }
  w.key("changed");
  if (before && after.exists && !before->state.sha256.empty() && !after.sha256.empty())
    w.boolean(before->state.sha256 != after.sha256);
  else if (before && !after.exists)
    w.boolean(true);
  else
    w.null();

  // The diff: text on both sides, never for credentials.
  std::string omitted;
  if (cls->credential)
    omitted = "credential class: hashes, sizes and line counts only";
  else if (!before)
    omitted = "no earlier content";
  else if (!after.exists && !gone)
    omitted = "the file could not be read after the change";
  else if (before->state.binary || after.binary)
    omitted = "binary file";
  else if (!before->state.has_content || (!gone && !after.has_content))
    omitted = fmt::format("larger than {} bytes", snaps_.limits().max_content_bytes);
  w.key("diff");
  if (omitted.empty()) {
    TextDiff d =
        unified_diff(before->state.content, gone ? std::string_view{} : after.content, diff_);
    w.begin_object();
    w.key("format");
    w.string("unified");
    w.key("text");
    w.string(d.text);
    w.key("lines_added");
    w.number(d.lines_added);
    w.key("lines_removed");
    w.number(d.lines_removed);
    w.key("truncated");
    w.boolean(d.truncated);
    w.key("approximate");
    w.boolean(d.approximate);
    w.key("redacted_lines");
    w.number(d.redactions);
    w.end_object();
  } else {
    w.null();
    w.key("diff_omitted");
    w.string(omitted);
  }

  w.key("caused_by");
  auto cb = calls_.find(c.agent_id, c.ts_ns, path, c.cwd);
  if (!cb && moved_away) cb = calls_.find(c.agent_id, c.ts_ns, c.path, c.cwd);
  if (cb) {
    w.begin_object();
    w.key("response_id");
    if (cb->call->response_id.empty())
      w.null();
    else
      w.string(cb->call->response_id);
    w.key("model");
    if (cb->call->model.empty())
      w.null();
    else
      w.string(cb->call->model);
    w.key("provider");
    w.string(cb->call->provider);
    w.key("time");
    w.string(clock.rfc3339(cb->call->ts_ns));
    w.key("ms_before");
    w.number(double(c.ts_ns - cb->call->ts_ns) / 1e6);
    w.key("calls_back");
    w.number(uint64_t(cb->calls_back));
    w.key("tool_call");
    if (cb->tool) {
      w.begin_object();
      w.key("id");
      if (cb->tool->id.empty())
        w.null();
      else
        w.string(cb->tool->id);
      w.key("name");
      w.string(cb->tool->name);
      w.key("match");
      w.string(cb->match);
      w.end_object();
    } else {
      w.null();
    }
    w.end_object();
  } else {
    w.null();
  }

  // What the sensor now knows is the next change's "before".
  if (key) {
    if (gone || !after.exists) {
      snaps_.erase(*key);
    } else {
      Snapshot s;
      s.state = std::move(after);
      s.taken_boot_ns = c.ts_ns;
      s.source = "previous_mutation";
      snaps_.put(*key, std::move(s));
    }
  }
  if (old_key && !moved_away) snaps_.erase(*old_key);
  return true;
}

}  // namespace rein::pipeline
