#include "metrics/metrics_registry.h"

#include <algorithm>
#include <stdexcept>

#include "metrics/exposition.h"

namespace rein::metrics {

Registry::Registry(RegistryLimits limits) : limits_(std::move(limits)) {}

Registry::FamilyId Registry::add(Family f) {
  if (!valid_metric_name(f.name)) throw std::invalid_argument("bad metric name: " + f.name);
  for (const auto& l : f.labels)
    if (!valid_label_name(l) || l == "le" || l == "quantile")
      throw std::invalid_argument("bad label name: " + l);
  if (!std::is_sorted(f.buckets.begin(), f.buckets.end()))
    throw std::invalid_argument("histogram buckets must increase: " + f.name);
  std::lock_guard lock(mu_);
  families_.push_back(State{std::move(f), {}});
  return families_.size() - 1;
}

std::string Registry::admit(const std::string& label, std::string_view value) {
  std::string v = clean_label_value(value);
  auto& seen = admitted_[label];
  if (seen.count(v)) return v;
  auto lim = limits_.values_per_label.find(label);
  const size_t max = lim != limits_.values_per_label.end() ? lim->second : limits_.default_values;
  if (v == kOther || seen.size() >= max) return std::string(kOther);
  seen.insert(v);
  return v;
}

Registry::Series& Registry::series_for(State& s, std::initializer_list<std::string_view> values) {
  std::vector<std::string> key;
  key.reserve(s.desc.labels.size());
  auto it = values.begin();
  for (const auto& label : s.desc.labels) {
    key.push_back(admit(label, it != values.end() ? *it : std::string_view()));
    if (it != values.end()) ++it;
  }
  auto found = s.series.find(key);
  if (found != s.series.end()) return found->second;
  if (s.series.size() >= limits_.max_series)
    for (auto& k : key) k = std::string(kOther);
  auto& out = s.series[key];
  if (s.desc.kind == Kind::kHistogram && out.counts.empty())
    out.counts.resize(s.desc.buckets.size());
  return out;
}

void Registry::inc(FamilyId f, std::initializer_list<std::string_view> values, double by) {
  std::lock_guard lock(mu_);
  series_for(families_.at(f), values).value += by;
}

void Registry::set(FamilyId f, std::initializer_list<std::string_view> values, double v) {
  std::lock_guard lock(mu_);
  series_for(families_.at(f), values).value = v;
}

void Registry::observe(FamilyId f, std::initializer_list<std::string_view> values, double v) {
  std::lock_guard lock(mu_);
  auto& st = families_.at(f);
  auto& s = series_for(st, values);
  const auto& b = st.desc.buckets;
  // the first bound >= v: Prometheus buckets are "less than or equal"
  size_t i = std::lower_bound(b.begin(), b.end(), v) - b.begin();
  if (i < s.counts.size()) s.counts[i]++;
  s.count++;
  s.sum += v;
}

Registry::Cell Registry::cell(FamilyId f, std::initializer_list<std::string_view> values) {
  std::lock_guard lock(mu_);
  return Cell(&series_for(families_.at(f), values).value);  // std::map nodes do not move
}

void Registry::inc(Cell c, double by) {
  std::lock_guard lock(mu_);
  if (c.v_) *c.v_ += by;
}

size_t Registry::series(FamilyId f) const {
  std::lock_guard lock(mu_);
  return families_.at(f).series.size();
}

namespace {
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); i++) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}
}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& st : families_) {
    const auto& d = st.desc;
    out += "# HELP ";
    out += d.name;
    out += ' ';
    append_help(out, d.help);
    out += "\n# TYPE ";
    out += d.name;
    out += d.kind == Kind::kCounter ? " counter\n"
           : d.kind == Kind::kGauge ? " gauge\n"
                                    : " histogram\n";
    for (const auto& [key, s] : st.series) {
      if (d.kind != Kind::kHistogram) {
        out += d.name;
        append_labels(out, d.labels, key);
        out += ' ';
        append_value(out, s.value);
        out += '\n';
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < d.buckets.size(); i++) {
        cumulative += s.counts[i];
        std::string le;
        append_value(le, d.buckets[i]);
        out += d.name;
        out += "_bucket";
        append_labels(out, d.labels, key, le);
        out += ' ';
        append_value(out, double(cumulative));
        out += '\n';
      }
      out += d.name;
      out += "_bucket";
      append_labels(out, d.labels, key, "+Inf");
      out += ' ';
      append_value(out, double(s.count));
      out += '\n';
      out += d.name;
      out += "_sum";
      append_labels(out, d.labels, key);
      out += ' ';
      append_value(out, s.sum);
      out += '\n';
      out += d.name;
      out += "_count";
      append_labels(out, d.labels, key);
      out += ' ';
      append_value(out, double(s.count));
      out += '\n';
    }
  }
  return out;
}

}  // namespace rein::metrics
