#include "cli/capture_setup.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "capture/capture_key.h"
#include "policy/duration.h"
#include "rein/abi/events.h"

namespace rein::cli {

namespace {
int64_t clock_ns(clockid_t id) {
  struct timespec ts {};
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

capture::Entry basic_context(const RunOptions& o) {
  capture::Entry e;
  auto* c = e.mutable_context();
  c->set_abi_version(REIN_ABI_VERSION);
  c->set_rein_version(REIN_VERSION);
  c->set_realtime_minus_boottime_ns(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
  for (const auto& a : o.argv) c->add_argv(a);
  c->set_policy_path(o.policy);
  c->set_hooks_mode(o.tls_hooks);
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) c->set_hostname(host);
  return e;
}

Result<std::unique_ptr<capture::CaptureWriter>> open_run_capture(const RunOptions& o) {
  auto age = policy::parse_duration(o.capture_segment_age);
  if (!age)
    return make_error(
        fmt::format("--capture-segment-age {}: {}", o.capture_segment_age, age.error().message));
  if (age->count() < 10)  // each segment is a file with its own header, index and trailer
    return make_error(fmt::format("--capture-segment-age {}: at least 10s", o.capture_segment_age));
  auto key = capture::load_or_create_capture_key(o.state_dir);
  if (!key) return make_error("--capture: " + key.error().message);
  capture::CaptureWriterOptions wo;
  wo.max_segment_bytes =
      o.capture_segment_bytes ? o.capture_segment_bytes : uint64_t(o.capture_segment_mib) << 20;
  wo.max_segment_age_ns = int64_t(age->count()) * 1'000'000'000;
  wo.max_total_bytes = uint64_t(o.capture_max_mib) << 20;
  wo.max_segments = o.capture_keep;
  // small test segments: small blocks too, or one block would fill a segment
  if (wo.max_segment_bytes < (4u << 20))
    wo.block_bytes = std::min(wo.block_bytes, size_t(wo.max_segment_bytes / 4));
  auto w = capture::CaptureWriter::open(o.capture_dir, *key, std::move(wo));
  if (!w) return make_error(fmt::format("--capture {}: {}", o.capture_dir, w.error().message));
  (*w)->append(basic_context(o));
  return w;
}

}  // namespace rein::cli
