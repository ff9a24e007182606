// Shared by the ledger unit tests: a temp directory and rows with chosen fields.
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "ledger/usage_ledger.h"

namespace rein::ledger::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/rein_ledger_XXXXXX";
    if (mkdtemp(tmpl)) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline LedgerRow make_row(int64_t time_ns, std::string agent, std::string model, int64_t in,
                          int64_t out, std::optional<double> cost) {
  LedgerRow r;
  r.time_ns = time_ns;
  r.time = "2026-11-30T00:00:00Z";
  r.agent_id = agent;
  r.agent_name = agent.substr(0, agent.find('-'));
  r.pid = 42;
  r.provider = "openai";
  r.model = model;
  r.api = "openai.chat";
  r.status = 200;
  r.input_tokens = in;
  r.output_tokens = out;
  r.cost_usd = cost;
  return r;
}

}  // namespace rein::ledger::testing
