// `rein usage`: showback tables from the usage ledger that `rein run --ledger` writes.
#pragma once
#include <string>

namespace rein::cli {

struct UsageOptions {
  std::string ledger = "/var/lib/rein/usage.db";
  std::string by = "agent";
  std::string since, until;  // empty: unbounded
  std::string format = "table";
};

// Prints the report on stdout; a clear message and 1 when the ledger or an option is bad.
int usage(const UsageOptions& opts);

}  // namespace rein::cli
