#include "pipeline/capture_inputs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <openssl/crypto.h>

#include "common/thread_cpu.h"
#include "pipeline/arg_redaction.h"
#include "pipeline/proc_snapshot_source.h"
#include "process/proc_reader.h"
#include "rein/abi/events.h"

namespace rein::pipeline {

namespace {
bool all_digits(const char* s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// The argv of an exec record (its tail: exe, then args, then cwd), masked as process.args
// masks it. Returns whether a byte changed.
bool mask_exec_argv(std::string& record) {
  rein_exec e{};
  if (record.size() < sizeof(e)) return false;
  std::memcpy(&e, record.data(), sizeof(e));
  const size_t at = sizeof(e) + e.exe_len;
  if (at + e.args_len > record.size()) return false;  // decode_record rejects it too
  return mask_argv_secrets(record.data() + at, e.args_len);
}

void put_u64(std::string& out, uint64_t v) { (out += std::to_string(v)) += '\0'; }
void put_str(std::string& out, std::string_view v) { (out += v) += '\0'; }

// Splits a JSON object our JsonWriter made into its top-level members.
HealthFields split_object(std::string_view obj) {
  HealthFields out;
  if (obj.size() < 2 || obj.front() != '{') return out;
  size_t i = 1;
  while (i < obj.size() && obj[i] == '"') {
    size_t k = i + 1;
    while (k < obj.size() && obj[k] != '"') k += obj[k] == '\\' ? 2 : 1;
    std::string key(obj.substr(i + 1, k - i - 1));
    size_t v = k + 2;  // past '":'
    int depth = 0;
    bool in_str = false;
    size_t e = v;
    for (; e < obj.size(); e++) {
      char c = obj[e];
      if (in_str) {
        if (c == '\\') e++;
        else if (c == '"') in_str = false;
        continue;
      }
      if (c == '"') in_str = true;
      else if (c == '{' || c == '[') depth++;
      else if (c == '}' || c == ']') {
        if (depth == 0) break;
        depth--;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    if (e > obj.size()) break;
    out.emplace_back(std::move(key), std::string(obj.substr(v, e - v)));
    i = e + 1;
  }
  return out;
}
}  // namespace

std::optional<std::string> RecordingInputJournal::lookup(
    std::string_view key, const std::function<std::optional<std::string>()>& compute) {
  auto v = compute();
  auto it = last_.find(key);
  if (it != last_.end() && it->second == v) return v;
  if (it != last_.end()) {
    it->second = v;
  } else {
    if (last_.size() >= 65536) last_.clear();  // a bound: the same answers get recorded again
    last_.try_emplace(std::string(key), v);
  }
  capture::Entry e;
  auto* l = e.mutable_lookup();
  l->set_key(std::string(key));
  l->set_found(v.has_value());
  if (v) l->set_value(*v);
  sink_.append(std::move(e));
  return v;
}

void ReplayInputJournal::on_lookup(const capture::Lookup& l) {
  answers_[l.key()] = l.found() ? std::optional<std::string>(l.value()) : std::nullopt;
}

std::optional<std::string> ReplayInputJournal::lookup(
    std::string_view key, const std::function<std::optional<std::string>()>&) {
  auto it = answers_.find(std::string(key));
  return it == answers_.end() ? std::nullopt : it->second;
}

std::vector<capture::ProcFile> snapshot_proc(const std::string& proc_root, SecretScrubber* scrubber,
                                             std::vector<SecretMapping>* mappings) {
  std::vector<capture::ProcFile> out;
  DIR* dir = ::opendir(proc_root.c_str());
  if (!dir) return out;
  while (const dirent* de = ::readdir(dir)) {
    if (!all_digits(de->d_name)) continue;
    const std::string pid = de->d_name;
    const std::string base = proc_root + "/" + pid;
    auto add = [&](const char* name, std::string content, bool link) {
      capture::ProcFile f;
      f.set_path(pid + "/" + name);
      f.set_content(std::move(content));
      f.set_symlink(link);
      out.push_back(std::move(f));
    };
    auto stat = process::read_file_bounded(base + "/stat", process::kMaxSmallProcFileBytes);
    if (!stat) continue;  // gone: seed_from_proc would skip it too
    add("stat", std::move(*stat), false);
    if (auto status = process::read_file_bounded(base + "/status", process::kMaxSmallProcFileBytes)) {
      size_t u = status->find("\nUid:");
      if (u != std::string::npos) {
        size_t e = status->find('\n', u + 1);
        add("status", status->substr(u + 1, e == std::string::npos ? e : e - u), false);
      }
    }
    bool cut = false;
    if (auto cmd = process::read_file_bounded(base + "/cmdline", process::kMaxCmdlineBytes, &cut)) {
      if (scrubber) {
        auto m = scrubber->scrub(*cmd, true);
        if (mappings) mappings->insert(mappings->end(), m.begin(), m.end());
        mask_argv_secrets(cmd->data(), cmd->size());
      }
      add("cmdline", std::move(*cmd), false);
    }
    if (auto exe = process::read_link_bounded(base + "/exe")) add("exe", std::move(*exe), true);
    if (auto cwd = process::read_link_bounded(base + "/cwd")) add("cwd", std::move(*cwd), true);
    if (auto cg = process::read_file_bounded(base + "/cgroup", process::kMaxSmallProcFileBytes))
      add("cgroup", std::move(*cg), false);
  }
  ::closedir(dir);
  return out;
}

Result<std::string> make_scratch_dir(std::string_view name) {
  std::vector<std::string> roots = {"/dev/shm"};
  if (const char* t = std::getenv("TMPDIR"); t && *t == '/') roots.emplace_back(t);
  roots.emplace_back("/tmp");
  int err = 0;
  for (const auto& root : roots) {
    std::string tmpl = fmt::format("{}/{}-XXXXXX", root, name);
    if (const char* dir = ::mkdtemp(tmpl.data())) return std::string(dir);
    err = errno;
  }
  return make_error(fmt::format("a temporary directory for {}: {}", name, std::strerror(err)));
}

void remove_tree(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* de = ::readdir(d)) {
    std::string name = de->d_name;
    if (name == "." || name == "..") continue;
    std::string p = dir + "/" + name;
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(p);
    else ::unlink(p.c_str());
  }
  ::closedir(d);
  ::rmdir(dir.c_str());
}

HealthFields render_health_fields(const std::function<void(sinks::JsonWriter&)>& extra) {
  if (!extra) return {};
  sinks::JsonWriter w;
  w.begin_object();
  extra(w);
  w.end_object();
  return split_object(w.str());
}

std::function<void(sinks::JsonWriter&)> write_health_fields(const HealthFields& fields) {
  if (fields.empty()) return {};
  return [&fields](sinks::JsonWriter& w) {
    for (const auto& [k, v] : fields) {
      w.key(k);
      w.raw(v);
    }
  };
}

std::string encode_coverage(const TlsCoverage& c) {
  std::string out;
  put_u64(out, c.pending ? 1 : 0);
  put_u64(out, c.hooked_at_ns);
  put_u64(out, c.hooked.size());
  for (const auto& h : c.hooked) put_str(out, h);
  put_u64(out, c.undecodable.size());
  for (const auto& u : c.undecodable) put_str(out, u);
  return out;
}

TlsCoverage decode_coverage(std::string_view s) {
  const std::vector<std::string> parts = process::split_cmdline(s);  // NUL-separated, like argv
  TlsCoverage c;
  size_t p = 0;
  auto num = [&]() -> uint64_t { return p < parts.size() ? std::strtoull(parts[p++].c_str(), nullptr, 10) : 0; };
  c.pending = num() != 0;
  c.hooked_at_ns = num();
  for (uint64_t n = num(); n > 0 && p < parts.size(); n--) c.hooked.push_back(parts[p++]);
  for (uint64_t n = num(); n > 0 && p < parts.size(); n--) c.undecodable.push_back(parts[p++]);
  return c;
}

std::string track_key(uint32_t tgid, uint32_t root, uint32_t selector, uint64_t start_ns) {
  return fmt::format("track/{}/{}/{}/{}", tgid, root, selector, start_ns);
}

CaptureRecorder::CaptureRecorder(JournalSink& sink, llm::Fingerprinter& fingerprinter)
    : out_(sink), sink_(sink), fingerprinter_(fingerprinter), scrubber_(fingerprinter), inputs_(sink_) {
  fingerprinter_.set_observer(&scrubber_);
}

CaptureRecorder::~CaptureRecorder() {
  flush();
  fingerprinter_.set_observer(nullptr);
}

void CaptureRecorder::append_secrets(JournalSink& to, std::vector<SecretMapping>&& m) {
  for (auto& s : m) {
    capture::Entry e;
    e.mutable_secret()->set_placeholder(std::move(s.placeholder));
    e.mutable_secret()->set_fingerprint(std::move(s.fingerprint));
    to.append(std::move(e));
  }
}

void CaptureRecorder::flush() {
  if (sink_.empty()) return;
  // This thread's CPU clock is a system call (about a microsecond on this VM's class), and a
  // turn's flush is often a few microseconds: timing every one cost about a tenth of what it
  // measured. A random 1 in 8 is timed and counts 8 times.
  const bool timed = timed_flush_.next();
  const uint64_t t0 = timed ? thread_cpu_ns() : 0;
  sink_.drain(
      [this](std::span<char> record) {
        scratch_.assign(record.data(), record.size());
        uint16_t kind = 0;
        if (record.size() >= sizeof(kind)) std::memcpy(&kind, record.data(), sizeof(kind));
        // A credential the pipeline saw in a later record of the turn is known here already:
        // scrubbing late only ever finds more.
        append_secrets(out_, scrubber_.scrub(scratch_, kind == REIN_REC_DATA || kind == REIN_REC_EXEC));
        const bool masked = kind == REIN_REC_EXEC && mask_exec_argv(scratch_);
        // the held raw copy is not left in a buffer the next turns reuse
        if (scrubber_.modified() || masked) OPENSSL_cleanse(record.data(), record.size());
        out_.append_record(scratch_);
      });
  if (timed) cpu_ns_ += (thread_cpu_ns() - t0) * decltype(timed_flush_)::kN;
}

void CaptureRecorder::context(capture::Context c) {
  capture::Entry e;
  *e.mutable_context() = std::move(c);
  sink_.append(std::move(e));
}

void CaptureRecorder::record(std::span<const uint8_t> bytes) {
  sink_.append_record({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  if (sink_.record_bytes() >= kMaxStagedBytes) flush();
}

void CaptureRecorder::tick(uint64_t now) {
  capture::Entry e;
  e.mutable_tick()->set_now_boot_ns(now);
  sink_.append(std::move(e));
  flush();
}

void CaptureRecorder::health(SensorPipeline& pipe, uint64_t now, std::string_view state,
                             const std::vector<std::pair<std::string, uint64_t>>& kernel,
                             const std::function<void(sinks::JsonWriter&)>& extra) {
  HealthFields fields = render_health_fields(extra);
  pipe.emit_health(now, state, kernel, write_health_fields(fields));
  capture::Entry e;
  auto* h = e.mutable_health();
  h->set_now_boot_ns(now);
  h->set_state(std::string(state));
  for (const auto& [k, v] : kernel) {
    (*h->mutable_kernel_counters())[k] = v;
    auto* c = h->add_kernel();
    c->set_name(k);
    c->set_value(v);
  }
  for (auto& [k, v] : fields) {
    auto* f = h->add_extra();
    f->set_key(k);
    f->set_json(v);
  }
  sink_.append(std::move(e));
}

size_t CaptureRecorder::adopt(SensorPipeline& pipe, const std::string& proc_root) {
  std::vector<SecretMapping> secrets;
  auto files = snapshot_proc(proc_root, &scrubber_, &secrets);
  capture::Entry e;
  auto* a = e.mutable_adopt();
  for (auto& f : files) *a->add_proc_snapshot() = std::move(f);
  size_t n = 0;
  if (auto snap = ProcSnapshotSource::from(a->proc_snapshot()); snap) {
    n = pipe.adopt_existing(*snap);
  } else {
    n = pipe.adopt_existing(proc_root);  // the capture then differs: replay says so
    a->clear_proc_snapshot();
  }
  append_secrets(sink_, std::move(secrets));
  // Split so that no entry passes the writer's limit; replay joins them again.
  capture::Entry chunk;
  size_t bytes = 0;
  for (auto& f : *a->mutable_proc_snapshot()) {
    const size_t size = f.path().size() + f.content().size() + 16;
    if (bytes && bytes + size > adopt_chunk_bytes_) {
      chunk.mutable_adopt()->set_continued(true);
      sink_.append(std::move(chunk));
      chunk = capture::Entry();
      bytes = 0;
    }
    *chunk.mutable_adopt()->add_proc_snapshot() = std::move(f);
    bytes += size;
  }
  chunk.mutable_adopt();  // the last (or only, maybe empty) part
  sink_.append(std::move(chunk));
  return n;
}

void CaptureRecorder::policy_reload(const std::string& path, const std::string& text, bool ok) {
  capture::Entry e;
  auto* p = e.mutable_policy_reload();
  p->set_policy_path(path);
  p->set_policy_text(text);
  p->set_ok(ok);
  sink_.append(std::move(e));
}

void CaptureRecorder::finish(uint64_t now) {
  capture::Entry e;
  e.mutable_finish()->set_now_boot_ns(now);
  sink_.append(std::move(e));
  flush();
}

TrackFn CaptureRecorder::wrap(TrackFn live) {
  return [this, live = std::move(live)](uint32_t tgid, uint32_t root, uint32_t sel,
                                         uint64_t start) -> Result<void> {
    std::string error;
    auto v = inputs_.lookup(track_key(tgid, root, sel, start), [&]() -> std::optional<std::string> {
      auto ok = live ? live(tgid, root, sel, start) : Result<void>();
      if (ok) return std::string();
      error = ok.error().message;
      return std::nullopt;
    });
    if (v) return {};
    return make_error(error.empty() ? "not tracked" : error);
  };
}

TlsCoverageFn CaptureRecorder::wrap(TlsCoverageFn live) {
  return [this, live = std::move(live)](uint32_t pid) {
    auto v = inputs_.lookup(fmt::format("tls.coverage/{}", pid), [&]() -> std::optional<std::string> {
      return encode_coverage(live ? live(pid) : TlsCoverage{});
    });
    return v ? decode_coverage(*v) : TlsCoverage{};
  };
}

void emit_health_maybe_captured(CaptureRecorder* rec, SensorPipeline& pipe, uint64_t now,
                                std::string_view state,
                                const std::vector<std::pair<std::string, uint64_t>>& kernel,
                                const std::function<void(sinks::JsonWriter&)>& extra) {
  if (rec) rec->health(pipe, now, state, kernel, extra);
  else pipe.emit_health(now, state, kernel, extra);
}

}  // namespace rein::pipeline

namespace rein::pipeline {

TrackFn capture_track(CaptureRecorder* rec, TrackFn live) {
  return rec ? rec->wrap(std::move(live)) : live;
}

TlsCoverageFn capture_coverage(CaptureRecorder* rec, TlsCoverageFn live) {
  return rec ? rec->wrap(std::move(live)) : live;
}

capture::Context pipeline_context(const SensorPipeline& pipe, const std::vector<Selector>& selectors,
                                  const std::string& policy_path, const std::string& prices_path,
                                  const std::string& prices_override, uint64_t decode_budget_bytes) {
  capture::Context c;
  c.set_abi_version(REIN_ABI_VERSION);
  c.set_realtime_minus_boottime_ns(pipe.clock_offset());
  for (const auto& s : selectors) {
    auto* spec = c.add_selector_specs();
    spec->set_kind(uint32_t(s.kind));
    spec->set_value(s.value);
    spec->set_name(s.name);
    spec->set_agent_class(s.agent_class);
    c.add_selectors(fmt::format("{}={}{}", int(s.kind), s.value, s.name.empty() ? "" : " (" + s.name + ")"));
  }
  if (!policy_path.empty()) {
    c.set_policy_path(policy_path);
    if (auto text = process::read_file_bounded(policy_path, 2u << 20)) c.set_policy_text(*text);
  }
  c.set_prices_path(prices_path);
  if (!prices_override.empty()) c.add_prices_override(prices_override);
  c.set_decode_budget_bytes(decode_budget_bytes);
  return c;
}

}  // namespace rein::pipeline
