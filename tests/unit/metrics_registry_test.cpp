#include "metrics/metrics_registry.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace {

using namespace rein::metrics;

// Samples of a rendered exposition by their full name with labels ("a{b=\"c\"}" -> value);
// every line must be a comment or a sample.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    auto sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    if (sp == std::string::npos) continue;
    EXPECT_FALSE(out.count(line.substr(0, sp))) << "duplicate series " << line;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

TEST(MetricsRegistry, CountersAndGaugesRenderWithTypeAndHelp) {
  Registry r;
  auto c = r.add({"rein_x_total", "X things\nper line", Kind::kCounter, {"kind"}, {}});
  auto g = r.add({"rein_g", "G", Kind::kGauge, {}, {}});
  r.inc(c, {"a"});
  r.inc(c, {"a"}, 2.5);
  r.inc(c, {"b\"q"});
  r.set(g, {}, 7);
  auto text = r.render();
  EXPECT_NE(text.find("# HELP rein_x_total X things\\nper line\n# TYPE rein_x_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE rein_g gauge\nrein_g 7\n"), std::string::npos) << text;
  auto s = samples(text);
  EXPECT_EQ(s.at("rein_x_total{kind=\"a\"}"), 3.5);
  EXPECT_EQ(s.at("rein_x_total{kind=\"b\\\"q\"}"), 1);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeAndInclusive) {
  Registry r;
  auto h = r.add({"lat_seconds", "L", Kind::kHistogram, {"op"}, {0.01, 0.02, 0.04}});
  for (double v : {0.005, 0.01, 0.015, 0.04, 0.05, 100.0}) r.observe(h, {"chat"}, v);
  auto s = samples(r.render());
  EXPECT_EQ(s.at("lat_seconds_bucket{op=\"chat\",le=\"0.01\"}"), 2);  // le is "<="
  EXPECT_EQ(s.at("lat_seconds_bucket{op=\"chat\",le=\"0.02\"}"), 3);
  EXPECT_EQ(s.at("lat_seconds_bucket{op=\"chat\",le=\"0.04\"}"), 4);
  EXPECT_EQ(s.at("lat_seconds_bucket{op=\"chat\",le=\"+Inf\"}"), 6);
  EXPECT_EQ(s.at("lat_seconds_count{op=\"chat\"}"), 6);
  EXPECT_DOUBLE_EQ(s.at("lat_seconds_sum{op=\"chat\"}"),
                   0.005 + 0.01 + 0.015 + 0.04 + 0.05 + 100.0);
}

TEST(MetricsRegistry, HistogramWithoutLabelsHasOnlyLe) {
  Registry r;
  auto h = r.add({"h", "H", Kind::kHistogram, {}, {1}});
  r.observe(h, {}, 1);
  auto s = samples(r.render());
  EXPECT_EQ(s.at("h_bucket{le=\"1\"}"), 1);
  EXPECT_EQ(s.at("h_sum"), 1);
}

TEST(MetricsRegistry, LabelValuesFoldIntoOtherPastTheLimit) {
  Registry r(RegistryLimits{{{"agent", 2}}, 3, 1000});
  auto c = r.add({"c_total", "C", Kind::kCounter, {"agent", "status"}, {}});
  for (const char* a : {"a1", "a2", "a3", "a4", "a1"}) r.inc(c, {a, "200"});
  auto s = samples(r.render());
  EXPECT_EQ(s.at("c_total{agent=\"a1\",status=\"200\"}"), 2);
  EXPECT_EQ(s.at("c_total{agent=\"a2\",status=\"200\"}"), 1);
  EXPECT_EQ(s.at("c_total{agent=\"other\",status=\"200\"}"), 2);  // a3 and a4
  EXPECT_EQ(s.size(), 3u);
  // the default limit (3) applies to labels without their own
  for (const char* st : {"200", "201", "202", "203", "204"}) r.inc(c, {"a1", st});
  s = samples(r.render());
  EXPECT_EQ(s.at("c_total{agent=\"a1\",status=\"other\"}"), 2);
  // a value spelled "other" is the fold, not a new value
  r.inc(c, {"other", "200"});
  EXPECT_EQ(samples(r.render()).at("c_total{agent=\"other\",status=\"200\"}"), 3);
}

TEST(MetricsRegistry, AdmittedValuesAreSharedAcrossFamilies) {
  // an agent with its own series in one family has them in every family
  Registry r(RegistryLimits{{{"agent", 1}}, 100, 1000});
  auto a = r.add({"a_total", "A", Kind::kCounter, {"agent"}, {}});
  auto b = r.add({"b_total", "B", Kind::kCounter, {"agent"}, {}});
  r.inc(a, {"first"});
  r.inc(b, {"second"});
  r.inc(b, {"first"});
  auto s = samples(r.render());
  EXPECT_EQ(s.at("b_total{agent=\"other\"}"), 1);
  EXPECT_EQ(s.at("b_total{agent=\"first\"}"), 1);
}

TEST(MetricsRegistry, SeriesPerFamilyAreCapped) {
  Registry r(RegistryLimits{{}, 1000, 10});
  auto c = r.add({"c_total", "C", Kind::kCounter, {"a", "b"}, {}});
  for (int i = 0; i < 50; i++) r.inc(c, {std::to_string(i), std::to_string(i)});
  EXPECT_EQ(r.series(c), 11u);  // 10 + the all-"other" series
  auto s = samples(r.render());
  EXPECT_EQ(s.at("c_total{a=\"other\",b=\"other\"}"), 40);
}

TEST(MetricsRegistry, LabelValuesAreCleanedBeforeTheyCount) {
  Registry r;
  auto c = r.add({"c_total", "C", Kind::kCounter, {"model"}, {}});
  r.inc(c, {"bad\xff\nline"});
  auto text = r.render();
  EXPECT_NE(text.find("c_total{model=\"bad\xEF\xBF\xBD\\nline\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsRegistry, CellsUpdateTheirSeriesAndRenderingRunsAlongside) {
  Registry r(RegistryLimits{{}, 2, 1000});
  auto c = r.add({"events_total", "E", Kind::kCounter, {"type"}, {}});
  auto a = r.cell(c, {"a"});
  auto b = r.cell(c, {"b"});
  auto folded = r.cell(c, {"c"});  // past the limit: the "other" series
  std::thread scraper([&] {
    for (int i = 0; i < 200; i++) EXPECT_FALSE(r.render().empty());
  });
  for (int i = 0; i < 10000; i++) {
    r.inc(a);
    r.inc(b, 2);
    r.inc(folded);
  }
  scraper.join();
  r.inc(c, {"a"});
  auto s = samples(r.render());
  EXPECT_EQ(s.at("events_total{type=\"a\"}"), 10001);
  EXPECT_EQ(s.at("events_total{type=\"b\"}"), 20000);
  EXPECT_EQ(s.at("events_total{type=\"other\"}"), 10000);
  r.inc(Registry::Cell{});  // an empty cell is ignored
}

TEST(MetricsRegistry, RejectsBadNames) {
  Registry r;
  EXPECT_THROW(r.add({"gen_ai.client", "x", Kind::kCounter, {}, {}}), std::invalid_argument);
  EXPECT_THROW(r.add({"ok", "x", Kind::kCounter, {"le"}, {}}), std::invalid_argument);
  EXPECT_THROW(r.add({"ok", "x", Kind::kHistogram, {}, {2, 1}}), std::invalid_argument);
}

}  // namespace
