#include "cli/report_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "cli/replay_command.h"
#include "report/event_model.h"
#include "report/html_report.h"

namespace rein::cli {

namespace {

Result<void> write_file(const std::string& path, const std::string& data) {
  if (path == "-") {
    fwrite(data.data(), 1, data.size(), stdout);
    if (fflush(stdout) != 0) return make_error("writing the report to stdout failed");
    return {};
  }
  // The report names files, hosts and commands of the monitored machine: owner-only, like
  // the sensor's own output.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      return make_error(fmt::format("writing {}: {}", path, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    return make_error(fmt::format("writing {}: {}", path, std::strerror(errno)));
  return {};
}

// A capture directory: `rein replay` into a private temporary file (0700 directory, removed
// afterwards), then the report reads that like any events file.
class ReplayedCapture {
 public:
  ~ReplayedCapture() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  Result<std::string> run(const ReportOptions& o) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rein-report-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      return make_error(fmt::format("cannot make a temporary directory: {}", std::strerror(errno)));
    dir_ = tmpl;
    ReplayCommandOptions ro;
    ro.dir = o.input;
    ro.state_dir = o.state_dir;
    ro.output = dir_ + "/events.jsonl";
    if (replay(ro) != 0)
      return make_error(fmt::format("replaying the capture {} failed (see above)", o.input));
    return ro.output;
  }

 private:
  std::string dir_;
};

std::string now_rfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return report::format_time(int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec);
}

}  // namespace

int report(const ReportOptions& o) {
  auto fail = [](const std::string& msg) {
    fmt::print(stderr, "rein report: {}\n", msg);
    return 1;
  };
  report::Filter filter;
  filter.agent = o.agent;
  if (!o.from.empty()) {
    auto b = report::parse_time_bound(o.from);
    if (!b) return fail("--from " + b.error().message);
    filter.from = *b;
  }
  if (!o.to.empty()) {
    auto b = report::parse_time_bound(o.to);
    if (!b) return fail("--to " + b.error().message);
    filter.to = *b;
  }
  if (filter.from && filter.to && filter.from->abs_ns && filter.to->abs_ns &&
      *filter.from->abs_ns >= *filter.to->abs_ns)
    return fail("--from must be before --to");
  struct stat st {};
  if (::stat(o.input.c_str(), &st) != 0)
    return fail(fmt::format("cannot read {}: {}", o.input, std::strerror(errno)));
  std::string events_path = o.input;
  ReplayedCapture replayed;
  if (S_ISDIR(st.st_mode)) {
    auto p = replayed.run(o);
    if (!p) return fail(p.error().message);
    events_path = *p;
  }
  report::EventModel model(filter);
  if (auto r = report::read_events_file(events_path, model); !r) return fail(r.error().message);
  model.finish();
  const auto& stats = model.stats();
  if (stats.bad || stats.oversized)
    fmt::print(stderr, "rein report: skipped {} of {} lines of {} (not valid events{})\n",
               stats.bad + stats.oversized, stats.lines, o.input,
               stats.oversized ? fmt::format(", {} too long", stats.oversized) : "");
  if (model.summary().events == 0) {
    if (stats.lines == stats.blank) return fail(fmt::format("{} holds no events", o.input));
    if (stats.bad + stats.oversized + stats.blank == stats.lines)
      return fail(fmt::format("{} holds no valid event lines", o.input));
    return fail(fmt::format("no events in {} match the filters ({} lines read, {} outside them)",
                            o.input, stats.lines, stats.filtered_out));
  }
  report::RenderInfo info;
  info.source = o.input;
  info.generated = now_rfc3339();
#ifdef REIN_VERSION
  info.version = REIN_VERSION;
#endif
  auto html = report::render_html(model, info);
  if (auto w = write_file(o.output, html); !w) return fail(w.error().message);
  if (o.output != "-")
    fmt::print(stderr, "rein report: wrote {} ({} events, {} bytes)\n", o.output,
               model.summary().events, html.size());
  return 0;
}

}  // namespace rein::cli
