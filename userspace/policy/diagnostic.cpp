#include "policy/diagnostic.h"

#include <algorithm>
#include <fmt/format.h>

namespace rein::policy {

std::string Diagnostic::to_string() const {
  return fmt::format("{}:{}:{}: {}: {}", file, line, column, field, reason);
}

std::string format_diagnostics(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) {
    if (!out.empty()) out += '\n';
    out += d.to_string();
  }
  return out;
}

void DiagnosticSink::add(uint32_t line, uint32_t column, std::string field, std::string reason) {
  total_++;
  if (diags_.size() >= kMaxDiagnostics) return;
  diags_.push_back(Diagnostic{file_, std::max<uint32_t>(line, 1), std::max<uint32_t>(column, 1),
                              std::move(field), std::move(reason)});
}

std::vector<Diagnostic> DiagnosticSink::take() {
  std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  std::vector<Diagnostic> out = std::move(diags_);
  diags_.clear();
  if (total_ > out.size()) {
    uint32_t last_line = out.empty() ? 1 : out.back().line;
    out.push_back(Diagnostic{file_, last_line, 1, "policy",
                             fmt::format("{} more problems not shown", total_ - out.size())});
  }
  total_ = 0;
  return out;
}

}  // namespace rein::policy
