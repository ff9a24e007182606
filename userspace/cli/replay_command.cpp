#include "cli/replay_command.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "capture/capture_key.h"
#include "capture/capture_reader.h"
#include "cli/prices_path.h"
#include "pipeline/capture_replay.h"
#include "process/proc_reader.h"
#include "sinks/line_file_sink.h"

namespace rein::cli {

namespace {
int fail(const std::string& msg) {
  fmt::print(stderr, "rein replay: {}\n", msg);
  return 1;
}

}  // namespace

int replay(const ReplayCommandOptions& o) {
  // The directory first: a mistyped one would otherwise be reported as a missing key.
  struct stat st {};
  if (::stat(o.dir.c_str(), &st) != 0)
    return fail(fmt::format("{}: {}", o.dir, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return fail(fmt::format("{}: not a directory", o.dir));
  pipeline::ReplayOptions ro;
  if (!o.from.empty() && !(ro.from = pipeline::parse_time_spec(o.from)))
    return fail(fmt::format("--from {}: not RFC 3339 or HH:MM[:SS]", o.from));
  if (!o.to.empty() && !(ro.to = pipeline::parse_time_spec(o.to)))
    return fail(fmt::format("--to {}: not RFC 3339 or HH:MM[:SS]", o.to));
  ro.agent = o.agent;
  ro.no_detections = o.no_detections;
  ro.default_prices_path = default_prices_path();
  if (!o.policy.empty()) {
    bool cut = false;
    auto text = process::read_file_bounded(o.policy, 2u << 20, &cut);
    if (!text) return fail(fmt::format("--policy {}: {}", o.policy, std::strerror(errno)));
    if (cut) return fail(fmt::format("--policy {}: larger than 2 MiB", o.policy));
    ro.policy_path = o.policy;
    ro.policy_text = std::move(*text);
  }
  auto key = capture::load_capture_key(o.state_dir);
  if (!key)
    return fail(key.error().message +
                " (the --state-dir of the `rein run` that wrote the capture)");
  auto reader = capture::CaptureReader::open(o.dir, *key);
  if (!reader) return fail(reader.error().message);
  auto sink = sinks::LineFileSink::open(o.output);
  if (!sink) return fail(sink.error().message);
  pipeline::Replayer replayer(**sink, std::move(ro));
  FILE* dump = nullptr;
  if (!o.dump_entries.empty() && !(dump = fopen(o.dump_entries.c_str(), "we")))
    return fail(fmt::format("--dump-entries {}: {}", o.dump_entries, std::strerror(errno)));
  struct Closer {
    FILE* f;
    ~Closer() {
      if (f) fclose(f);
    }
  } closer{dump};
  capture::Entry e;  // reused: its buffers keep their capacity from record to record
  std::optional<std::string_view> record;  // a ring record, read without parsing an Entry
  for (;;) {
    // --dump-entries writes each Entry as parsed, so it takes the parsing path for all
    auto got = dump ? (*reader)->next_into(e) : (*reader)->next_fast(e, record);
    if (!got) {
      replayer.end();
      return fail(got.error().message);
    }
    if (!*got) break;
    if (dump) {
      std::string bytes = e.SerializeAsString();
      fwrite(bytes.data(), 1, bytes.size(), dump);
    }
    if (auto ok = record ? replayer.feed_record(*record) : replayer.feed(e); !ok) {
      replayer.end();
      return fail(ok.error().message);
    }
  }
  replayer.end();
  (*sink)->flush();
  if ((*reader)->truncated_tail())
    fmt::print(stderr, "rein replay: the last segment ends early (the sensor was stopped hard)\n");
  const auto& s = replayer.stats();
  fmt::print(stderr, "rein replay: {} entries, {} records, {} lookups, {} secrets\n", s.entries,
             s.records, s.lookups, s.secrets);
  return 0;
}

}  // namespace rein::cli
