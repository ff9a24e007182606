#include "pipeline/capture_detections.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <time.h>

#include <charconv>
#include <cstdio>

#include "capture/capture.pb.h"
#include "pipeline/capture_inputs.h"
#include "process/proc_reader.h"

namespace rein::pipeline {

namespace {
// A capture entry holds at most 4 MiB (capture_writer.h): a larger baselines file is not
// recorded and replay starts with empty baselines (docs/capture.md).
constexpr size_t kMaxBaselinesBytes = 4u << 20;
constexpr int kMaxFindings = 4096;

int64_t parse_seconds(const std::optional<std::string>& v) {
  int64_t t = 0;
  if (!v || std::from_chars(v->data(), v->data() + v->size(), t).ec != std::errc()) return -1;
  return t;
}
}  // namespace

std::string encode_scan(const detect::SecretScanResult& r) {
  capture::SecretScan s;
  for (const auto& f : r.findings) {
    auto* o = s.add_findings();
    o->set_type(uint32_t(f.type));
    o->set_count(f.count);
    o->set_fingerprint(f.fingerprint);
    for (const auto& l : f.locations) o->add_locations(l);
    o->set_message_index(f.message_index);
    o->set_escaped(f.escaped);
  }
  s.set_bytes_scanned(r.bytes_scanned);
  s.set_truncated(r.truncated);
  return s.SerializeAsString();
}

std::optional<detect::SecretScanResult> decode_scan(std::string_view bytes) {
  capture::SecretScan s;
  if (bytes.size() > kMaxBaselinesBytes || !s.ParseFromArray(bytes.data(), int(bytes.size())) ||
      s.findings_size() > kMaxFindings)
    return std::nullopt;
  detect::SecretScanResult r;
  for (const auto& f : s.findings()) {
    if (f.type() >= detect::kSecretTypeCount) return std::nullopt;
    detect::SecretFinding o;
    o.type = detect::SecretType(f.type());
    o.count = f.count();
    o.fingerprint = f.fingerprint();
    for (const auto& l : f.locations()) o.locations.push_back(l);
    o.message_index = f.message_index();
    o.escaped = f.escaped();
    r.findings.push_back(std::move(o));
  }
  r.bytes_scanned = s.bytes_scanned();
  r.truncated = s.truncated();
  return r;
}

void journal_detections(detect::DetectionEngine& d, InputJournal& journal,
                        const std::string& state_dir) {
  for (std::string_view file : kDetectStateFiles)
    journal.lookup(fmt::format("detect.state/{}", file), [&]() -> std::optional<std::string> {
      return process::read_file_bounded(fmt::format("{}/{}", state_dir, file), kMaxBaselinesBytes);
    });
  d.set_wall_clock([&journal]() {
    int64_t t = parse_seconds(
        journal.lookup(kDetectWallKey, [] { return std::to_string(int64_t(::time(nullptr))); }));
    return t >= 0 ? t : int64_t(::time(nullptr));
  });
  d.set_scan_hook([&journal](const std::function<detect::SecretScanResult()>& scan) {
    detect::SecretScanResult r;
    journal.lookup(kDetectScanKey, [&]() -> std::optional<std::string> {
      r = scan();
      return encode_scan(r);
    });
    return r;
  });
}

bool detections_recorded(const ReplayInputJournal& journal) {
  return journal.recorded(fmt::format("detect.state/{}", kDetectStateFiles[0]));
}

ReplayDetectionState::~ReplayDetectionState() {
  if (!dir_.empty()) remove_tree(dir_);
}

Result<void> ReplayDetectionState::attach(detect::DetectionEngine& d, InputJournal& journal) {
  auto dir = make_scratch_dir("rein-replay-detect");
  if (!dir) return make_error("replay: " + dir.error().message);
  dir_ = std::move(*dir);
  for (std::string_view file : kDetectStateFiles) {
    auto text = journal.lookup(fmt::format("detect.state/{}", file), {});
    if (!text) continue;
    const std::string path = fmt::format("{}/{}", dir_, file);
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wbe"), &std::fclose);
    if (!f || std::fwrite(text->data(), 1, text->size(), f.get()) != text->size())
      return make_error(fmt::format("replay: {}: {}", path, strerror(errno)));
  }
  // the same message the live sensor printed when the file did not parse: not an error here
  (void)d.set_state_dir(dir_);
  d.set_wall_clock([&journal]() {
    int64_t t = parse_seconds(journal.lookup(kDetectWallKey, {}));
    return t >= 0 ? t : int64_t(::time(nullptr));  // a capture made before "detect.wall"
  });
  d.set_scan_answers([&journal](const std::function<detect::SecretScanResult()>&) {
    auto v = journal.lookup(kDetectScanKey, {});
    auto r = v ? decode_scan(*v) : std::nullopt;
    return r ? std::move(*r) : detect::SecretScanResult{};
  });
  return {};
}

}  // namespace rein::pipeline
