// Counters, gauges and histograms with labels, rendered as Prometheus text. The event loop
// writes, the HTTP thread renders: every method takes the one mutex, so a scrape sees a
// consistent snapshot and never waits for more than one update.
//
// Cardinality is bounded twice: each label name admits at most a set number of distinct
// values (the first ones seen; later ones become "other", so no series ever moves and no
// counter goes backwards), and each family holds at most max_series series (past that, new
// label sets are folded into one series whose every label is "other").
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rein::metrics {

enum class Kind { kCounter, kGauge, kHistogram };

struct Family {
  std::string name;
  std::string help;
  Kind kind = Kind::kCounter;
  std::vector<std::string> labels;  // label names, in the order values are given
  std::vector<double> buckets;      // histograms: upper bounds, increasing (+Inf implied)
};

inline constexpr std::string_view kOther = "other";

struct RegistryLimits {
  // Distinct values per label name; names not listed get default_values.
  std::unordered_map<std::string, size_t> values_per_label;
  size_t default_values = 100;
  size_t max_series = 2000;
};

class Registry {
 public:
  using FamilyId = size_t;

  explicit Registry(RegistryLimits limits = {});
  // Declares a family; names are checked (a bad one is a programming error: throws).
  FamilyId add(Family f);

  // Label values in the family's label order; missing trailing values are "".
  void inc(FamilyId f, std::initializer_list<std::string_view> values, double by = 1);
  // Gauges, and counters mirrored from a monotonic source (kernel counters).
  void set(FamilyId f, std::initializer_list<std::string_view> values, double v);
  void observe(FamilyId f, std::initializer_list<std::string_view> values, double v);

  // A counter or gauge series found once and updated without building its labels again
  // (the per-event counters). Valid as long as the registry.
  class Cell {
   public:
    Cell() = default;

   private:
    friend class Registry;
    explicit Cell(double* v) : v_(v) {}
    double* v_ = nullptr;
  };
  Cell cell(FamilyId f, std::initializer_list<std::string_view> values);
  void inc(Cell c, double by = 1);

  // Holds the mutex across several updates that belong together (one llm.call's cost,
  // tokens and count), so no scrape sees half of them.
  [[nodiscard]] std::unique_lock<std::recursive_mutex> batch() const {
    return std::unique_lock<std::recursive_mutex>(mu_);
  }
  // The whole exposition, families in declaration order, series sorted by labels.
  std::string render() const;
  // Series count of a family (for tests and bounds).
  size_t series(FamilyId f) const;

 private:
  struct Series {
    double value = 0;              // counter/gauge
    std::vector<uint64_t> counts;  // histogram: per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  struct State {
    Family desc;
    std::map<std::vector<std::string>, Series> series;
  };

  Series& series_for(State& s, std::initializer_list<std::string_view> values);
  std::string admit(const std::string& label, std::string_view value);

  RegistryLimits limits_;
  mutable std::recursive_mutex mu_;
  std::vector<State> families_;
  std::unordered_map<std::string, std::set<std::string, std::less<>>> admitted_;
};

}  // namespace rein::metrics
