// Any bytes as a policy file: never crash, hang or leak, every diagnostic is well formed
// and bounded, and a policy with no diagnostics parses into something within the limits.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/policy_parser.h"

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rein::policy;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto diags = check_policy(text, "fuzz.yaml");
  check(diags.size() <= DiagnosticSink::kMaxDiagnostics + 1);
  for (const auto& d : diags) {
    check(d.file == "fuzz.yaml");
    check(d.line >= 1 && d.column >= 1);
    check(!d.field.empty() && !d.reason.empty());
    check(d.to_string().find('\n') == std::string::npos);  // one diagnostic per line
  }
  auto r = parse_policy(text, "fuzz.yaml");
  check(r.ok() == diags.empty());
  if (!r.ok()) return 0;
  const Policy& p = *r;
  check(p.rules.size() <= kMaxRules && p.allow.size() <= kMaxRules);
  check(p.agents.size() <= kMaxAgents && p.budgets.size() <= kMaxBudgets);
  for (const auto& rule : p.rules) {
    check(!rule.name.empty() && rule.name.size() <= 64);
    for (const auto& a : rule.scope.agents) check(p.find_agent(a) != nullptr);
    if (const auto* fm = std::get_if<FileMatch>(&rule.match)) {
      check(!fm->paths.empty() && fm->ops != 0);
      for (const auto& g : fm->paths) (void)g.match("/root/.ssh/id_rsa");
    }
  }
  for (const auto& b : p.budgets) {
    check(b.usd.has_value() || b.tokens.has_value());
    check(b.warn_at > 0 && b.warn_at <= 1);
    check(b.window.count() >= 60 && b.window.count() <= 30 * 86400);
  }
  check(p.holds.timeout.count() >= 1);
  return 0;
}
