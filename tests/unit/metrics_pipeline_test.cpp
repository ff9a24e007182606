// The pipeline feeds the metrics as it emits: every event's type, agent sessions, health.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "abi_record_builder.h"
#include "metrics/metrics_feed.h"
#include "pipeline/sensor_pipeline.h"

namespace {

using namespace rein::testrec;
using rein::metrics::FeedOptions;
using rein::metrics::MetricsFeed;
using rein::pipeline::Clock;
using rein::pipeline::SelectorKind;
using rein::pipeline::SelectorSet;
using rein::pipeline::SensorPipeline;

class Lines : public rein::pipeline::LineSink {
 public:
  void write_line(std::string_view line) override { lines.emplace_back(line); }
  void flush() override {}
  std::vector<std::string> lines;
};

std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

TEST(MetricsPipeline, EmittedEventsAndAgentSessionsReachTheFeed) {
  auto sels = SelectorSet::build({{SelectorKind::Exe, "myagent", ""}});
  ASSERT_TRUE(sels.ok());
  Lines sink;
  SensorPipeline pipe(std::move(sels).value(), sink, {}, nullptr);
  MetricsFeed feed(FeedOptions{"t"});
  pipe.set_observer(&feed);

  const uint64_t t0 = Clock::boot_now_ns();
  Exec x;
  x.h = Hdr{.ts = t0, .tgid = 1000, .agent = 1000, .uid = 1000};
  x.ppid = 900;
  x.flags = REIN_F_NEW_AGENT;
  x.selector = 0;
  x.comm = "node";
  x.exe = "/opt/myagent/bin/myagent";
  x.args = {"myagent"};
  x.cwd = "/work";
  pipe.on_record(exec_rec(x));
  pipe.on_record(fork_rec(Hdr{.ts = t0 + 1, .tgid = 1001, .agent = 1000}, 1000, "node"));
  auto s = samples(feed.registry().render());
  EXPECT_EQ(s.at("rein_agents_active"), 1);
  EXPECT_EQ(s.at("rein_events_total{type=\"process.exec\"}"), 1);
  EXPECT_EQ(s.at("rein_events_total{type=\"process.fork\"}"), 1);

  pipe.on_record(exit_rec(Hdr{.ts = t0 + 2, .tgid = 1000, .agent = 1000}, 0, 900));
  pipe.emit_health(t0 + 3, "running", {});
  s = samples(feed.registry().render());
  EXPECT_EQ(s.at("rein_agents_active"), 0);  // the root exited
  EXPECT_EQ(s.at("rein_events_total{type=\"agent.summary\"}"), 1);
  EXPECT_EQ(s.at("rein_events_total{type=\"sensor.health\"}"), 1);
  // every line the sink got was counted once, under its type
  double total = 0;
  for (const auto& [k, v] : s)
    if (k.rfind("rein_events_total", 0) == 0) total += v;
  EXPECT_EQ(total, double(sink.lines.size()));

  pipe.set_observer(nullptr);  // no listener: the pipeline still works
  pipe.emit_health(t0 + 4, "running", {});
  EXPECT_EQ(samples(feed.registry().render()).at("rein_events_total{type=\"sensor.health\"}"), 1);
}

}  // namespace
