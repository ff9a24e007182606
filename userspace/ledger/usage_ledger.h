// The usage ledger: every llm.call kept in a SQLite file (`rein run --ledger FILE`) so
// showback (`rein usage`) survives restarts and output rotation. Rows are buffered on the
// pipeline thread and written in one transaction per event-loop tick (or per batch_rows);
// a write that fails (disk full, locked by another writer) loses those rows, counts them
// and never stops the sensor.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ledger/sqlite_db.h"
#include "pipeline/llm_call_observer.h"

namespace rein::ledger {

// Schema version (PRAGMA user_version) and the file's application_id ("REIN"): a file with
// another id is not a ledger and is never written to.
constexpr int64_t kSchemaVersion = 1;
constexpr int64_t kApplicationId = 0x5245494e;

struct LedgerRow {
  int64_t time_ns = 0;  // Unix epoch nanoseconds
  std::string time;     // RFC 3339, as in the event
  std::optional<std::string> agent_id, agent_name;
  int64_t pid = 0;
  std::optional<std::string> exe, container_id, k8s_namespace, k8s_pod, k8s_pod_uid, k8s_container;
  std::string provider, model, request_model, api;
  std::optional<int64_t> status;
  bool stream = false;
  std::optional<int64_t> input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
      reasoning_tokens;
  std::optional<double> cost_usd;
  std::optional<std::string> key_fingerprint, response_id, error_type;
  bool error = false;  // an error body or HTTP status >= 400
  std::optional<double> latency_ms;
};

LedgerRow row_from(const pipeline::ObservedLlmCall& call);

// "2026-11-01T12:00:00.123456789Z" (or a +HH:MM offset, fraction optional) -> epoch ns.
Result<int64_t> parse_rfc3339_ns(std::string_view text);
int64_t realtime_now_ns();

// Opens an existing ledger to read it: a clear error when the file is missing, is not a
// SQLite database, or is not a Rein ledger (or one from a newer Rein).
Result<Db> open_ledger_for_reading(const std::string& path);

class UsageLedger : public pipeline::LlmCallObserver {
 public:
  struct Options {
    std::string path;
    unsigned retention_days = 90;  // 0: keep everything
    size_t batch_rows = 256;       // commit early when this many rows wait
  };
  // Creates the file (0600) and schema, or reopens an existing ledger to append to it, then
  // deletes rows past the retention.
  static Result<std::unique_ptr<UsageLedger>> open(const Options& opts);
  ~UsageLedger() override;

  void on_llm_call(const pipeline::ObservedLlmCall& call) override;
  uint64_t write_errors() const override { return write_errors_; }

  void add(LedgerRow row);
  // Commits buffered rows; deletes expired rows once an hour. The event loop calls it.
  void tick(int64_t now_ns = realtime_now_ns());
  // Commits what is buffered: false when the write failed (rows counted, dropped).
  bool flush();
  Result<int64_t> apply_retention(int64_t now_ns);
  uint64_t rows_written() const { return rows_written_; }
  size_t pending() const { return pending_.size(); }
  const std::string& path() const { return db_.path(); }

 private:
  UsageLedger(Db db, Statement insert, Options opts)
      : db_(std::move(db)), insert_(std::move(insert)), opts_(std::move(opts)) {}

  Db db_;
  Statement insert_;
  Options opts_;
  std::vector<LedgerRow> pending_;
  uint64_t write_errors_ = 0, rows_written_ = 0;
  int64_t last_retention_ns_ = 0;
};

}  // namespace rein::ledger
