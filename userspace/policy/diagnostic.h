// Policy diagnostics: "FILE:LINE:COL: FIELD: REASON", one problem each, all of them
// collected (up to a bound) so one run of `rein policy check` shows every mistake.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rein::policy {

struct Diagnostic {
  std::string file;
  uint32_t line = 1;    // 1-based
  uint32_t column = 1;  // 1-based
  std::string field;    // e.g. "rules[2].network.cidrs[0]"; "yaml" / "file" for the document
  std::string reason;
  std::string to_string() const;
};

// One diagnostic per line, no trailing newline.
std::string format_diagnostics(const std::vector<Diagnostic>& diags);

class DiagnosticSink {
 public:
  // Beyond this many, problems are counted and summarised in one final line.
  static constexpr size_t kMaxDiagnostics = 200;

  explicit DiagnosticSink(std::string file) : file_(std::move(file)) {}

  void add(uint32_t line, uint32_t column, std::string field, std::string reason);
  bool empty() const { return total_ == 0; }
  size_t total() const { return total_; }
  // Sorted by position; ends with a summary diagnostic if any were dropped.
  std::vector<Diagnostic> take();

 private:
  std::string file_;
  std::vector<Diagnostic> diags_;
  size_t total_ = 0;
};

}  // namespace rein::policy
