#include "ledger/usage_ledger.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/rfc3339.h"

namespace rein::ledger {

namespace {
constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kRetentionEveryNs = 3600 * kNsPerSec;
// A writer never waits long for a lock: the event loop must keep draining the rings.
constexpr int kWriterBusyMs = 50;
constexpr int kReaderBusyMs = 2000;

const char* kSchema = R"sql(
CREATE TABLE llm_calls (
  id INTEGER PRIMARY KEY,
  time_ns INTEGER NOT NULL,
  time TEXT NOT NULL,
  agent_id TEXT,
  agent_name TEXT,
  pid INTEGER,
  exe TEXT,
  container_id TEXT,
  k8s_namespace TEXT,
  k8s_pod TEXT,
  k8s_pod_uid TEXT,
  k8s_container TEXT,
  provider TEXT,
  model TEXT,
  request_model TEXT,
  api TEXT,
  status INTEGER,
  stream INTEGER NOT NULL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  cache_read_tokens INTEGER,
  cache_creation_tokens INTEGER,
  reasoning_tokens INTEGER,
  cost_usd REAL,
  key_fingerprint TEXT,
  response_id TEXT,
  latency_ms REAL,
  error INTEGER NOT NULL,
  error_type TEXT
);
CREATE INDEX llm_calls_time ON llm_calls (time_ns);
CREATE INDEX llm_calls_agent ON llm_calls (agent_id, time_ns);
)sql";

const char* kInsert =
    "INSERT INTO llm_calls (time_ns, time, agent_id, agent_name, pid, exe, container_id, "
    "k8s_namespace, k8s_pod, k8s_container, provider, model, request_model, api, status, "
    "stream, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, "
    "reasoning_tokens, cost_usd, key_fingerprint, response_id, latency_ms, error, error_type, "
    "k8s_pod_uid) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)";

std::optional<std::string> opt_str(std::string_view v) {
  if (v.empty()) return std::nullopt;
  return std::string(v);
}

// Checks the file is ours; reports what it is otherwise. A brand-new (empty) file has no
// id, no version and no tables: `fresh` says so and the caller creates the schema.
Result<void> check_identity(Db& db, bool* fresh) {
  auto app = db.scalar("PRAGMA application_id");
  if (!app) {
    const int code = db.errcode() & 0xff;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
      return make_error(
          fmt::format("{}: not a Rein usage ledger (not a SQLite database, or "
                      "corrupt)",
                      db.path()));
    return app.error();
  }
  auto version = db.scalar("PRAGMA user_version");
  if (!version) return version.error();
  auto tables = db.scalar("SELECT count(*) FROM sqlite_master");
  if (!tables) return tables.error();
  *fresh = *app == 0 && *version == 0 && *tables == 0;
  if (*fresh) return {};
  if (*app != kApplicationId)
    return make_error(
        fmt::format("{}: not a Rein usage ledger (a SQLite database of another "
                    "application)",
                    db.path()));
  if (*version > kSchemaVersion)
    return make_error(fmt::format("{}: ledger schema {} is newer than this Rein's ({})", db.path(),
                                  *version, kSchemaVersion));
  if (*version < 1)
    return make_error(fmt::format("{}: not a Rein usage ledger (no schema version)", db.path()));
  return {};
}

void bind_row(Statement& st, const LedgerRow& r) {
  st.bind(1, r.time_ns);
  st.bind(2, std::string_view(r.time));
  st.bind(3, r.agent_id);
  st.bind(4, r.agent_name);
  st.bind(5, r.pid);
  st.bind(6, r.exe);
  st.bind(7, r.container_id);
  st.bind(8, r.k8s_namespace);
  st.bind(9, r.k8s_pod);
  st.bind(10, r.k8s_container);
  st.bind(11, std::string_view(r.provider));
  st.bind(12, std::string_view(r.model));
  st.bind(13, std::string_view(r.request_model));
  st.bind(14, std::string_view(r.api));
  st.bind(15, r.status);
  st.bind(16, int64_t(r.stream));
  st.bind(17, r.input_tokens);
  st.bind(18, r.output_tokens);
  st.bind(19, r.cache_read_tokens);
  st.bind(20, r.cache_creation_tokens);
  st.bind(21, r.reasoning_tokens);
  st.bind(22, r.cost_usd);
  st.bind(23, r.key_fingerprint);
  st.bind(24, r.response_id);
  st.bind(25, r.latency_ms);
  st.bind(26, int64_t(r.error));
  st.bind(27, r.error_type);
  st.bind(28, r.k8s_pod_uid);
}
}  // namespace

int64_t realtime_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

Result<int64_t> parse_rfc3339_ns(std::string_view s) {
  if (auto t = rein::parse_rfc3339_ns(s)) return *t;
  if (rein::parse_rfc3339_ns(s, {.zone_optional = true}))
    return make_error(fmt::format("'{}' is not an RFC 3339 time (no time zone)", s));
  return make_error(fmt::format("'{}' is not an RFC 3339 time", s));
}

LedgerRow row_from(const pipeline::ObservedLlmCall& o) {
  LedgerRow r;
  r.time = std::string(o.time);
  if (auto ns = parse_rfc3339_ns(o.time))
    r.time_ns = *ns;
  else
    r.time_ns = realtime_now_ns();
  if (o.agent) {
    r.agent_id = o.agent->id;
    r.agent_name = o.agent->name;
  }
  r.pid = o.pid;
  r.exe = opt_str(o.exe);
  r.container_id = opt_str(o.container_id);
  r.k8s_namespace = opt_str(o.k8s_namespace);
  r.k8s_pod = opt_str(o.k8s_pod);
  r.k8s_pod_uid = opt_str(o.k8s_pod_uid);
  r.k8s_container = opt_str(o.k8s_container);
  if (const auto* c = o.call) {
    r.provider = c->provider;
    r.model = c->response_model.empty() ? c->request_model : c->response_model;
    r.request_model = c->request_model;
    r.api = c->api;
    if (c->status) r.status = c->status;
    r.stream = c->stream;
    r.input_tokens = c->usage.input_tokens;
    r.output_tokens = c->usage.output_tokens;
    r.cache_read_tokens = c->usage.cache_read_input_tokens;
    r.cache_creation_tokens = c->usage.cache_creation_input_tokens;
    r.reasoning_tokens = c->usage.reasoning_tokens;
    r.cost_usd = c->cost_usd;
    r.key_fingerprint = opt_str(c->api_key_fingerprint);
    r.response_id = opt_str(c->response_id);
    r.error_type = c->error_type;
    r.error = c->error_type.has_value() || c->status >= 400;
    r.latency_ms = c->latency_ms;
  }
  return r;
}

Result<Db> open_ledger_for_reading(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return make_error(
        fmt::format("{}: {} (no usage ledger there; `rein run --ledger FILE` "
                    "writes one)",
                    path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return make_error(fmt::format("{}: not a regular file", path));
  auto db = Db::open(path, SQLITE_OPEN_READONLY);
  if (!db) return db.error();
  sqlite3_busy_timeout(db->get(), kReaderBusyMs);
  bool fresh = false;
  if (auto ok = check_identity(*db, &fresh); !ok) return ok.error();
  if (fresh) return make_error(fmt::format("{}: not a Rein usage ledger (empty file)", path));
  return std::move(*db);
}

Result<std::unique_ptr<UsageLedger>> UsageLedger::open(const Options& opts) {
  // SQLite would create the file 0644: make it first, owner-only (the WAL and shared-memory
  // files SQLite adds take this file's mode).
  int fd = ::open(opts.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(fmt::format("--ledger {}: {}", opts.path, std::strerror(errno)));
  struct stat st {};
  const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return make_error(fmt::format("--ledger {}: not a regular file", opts.path));
  auto db = Db::open(opts.path, SQLITE_OPEN_READWRITE);
  if (!db) return make_error("--ledger " + db.error().message);
  sqlite3_busy_timeout(db->get(), kWriterBusyMs);
  bool fresh = false;
  if (auto ok = check_identity(*db, &fresh); !ok)
    return make_error("--ledger " + ok.error().message);
  auto mode = db->prepare("PRAGMA journal_mode=WAL");
  if (!mode || mode->step() != SQLITE_ROW || mode->text(0).value_or("") != "wal")
    return make_error(fmt::format("--ledger {}: cannot use WAL mode: {}", opts.path, db->errmsg()));
  mode = Statement();
  if (auto ok = db->exec("PRAGMA synchronous=NORMAL"); !ok)
    return make_error("--ledger " + ok.error().message);
  if (fresh) {
    const std::string init =
        fmt::format("BEGIN; {} PRAGMA application_id={}; PRAGMA user_version={}; COMMIT;", kSchema,
                    kApplicationId, kSchemaVersion);
    if (auto ok = db->exec(init); !ok) {
      (void)db->exec("ROLLBACK");
      return make_error("--ledger " + ok.error().message);
    }
  }
  auto insert = db->prepare(kInsert);
  if (!insert) return make_error("--ledger " + insert.error().message);
  std::unique_ptr<UsageLedger> l(new UsageLedger(std::move(*db), std::move(*insert), opts));
  const int64_t now = realtime_now_ns();
  if (auto n = l->apply_retention(now); !n) return make_error("--ledger " + n.error().message);
  l->last_retention_ns_ = now;
  return l;
}

UsageLedger::~UsageLedger() {
  flush();
}

void UsageLedger::on_llm_call(const pipeline::ObservedLlmCall& call) {
  add(row_from(call));
}

void UsageLedger::add(LedgerRow row) {
  pending_.push_back(std::move(row));
  if (pending_.size() >= opts_.batch_rows) flush();
}

void UsageLedger::tick(int64_t now_ns) {
  flush();
  if (opts_.retention_days && now_ns - last_retention_ns_ >= kRetentionEveryNs) {
    last_retention_ns_ = now_ns;
    (void)apply_retention(now_ns);  // a failure is retried in an hour; rows stay
  }
}

bool UsageLedger::flush() {
  if (pending_.empty()) return true;
  bool ok = bool(db_.exec("BEGIN IMMEDIATE"));
  for (size_t i = 0; ok && i < pending_.size(); i++) {
    bind_row(insert_, pending_[i]);
    ok = insert_.step() == SQLITE_DONE;
    insert_.reset();
  }
  if (ok) ok = bool(db_.exec("COMMIT"));
  if (ok) {
    rows_written_ += pending_.size();
  } else {
    // Disk full, locked past the busy timeout, I/O error: these rows are lost, counted.
    if (!sqlite3_get_autocommit(db_.get())) (void)db_.exec("ROLLBACK");
    write_errors_ += pending_.size();
  }
  pending_.clear();
  return ok;
}

Result<int64_t> UsageLedger::apply_retention(int64_t now_ns) {
  if (!opts_.retention_days) return int64_t(0);
  const int64_t cutoff = now_ns - int64_t(opts_.retention_days) * 86400 * kNsPerSec;
  auto del = db_.prepare("DELETE FROM llm_calls WHERE time_ns < ?1");
  if (!del) return del.error();
  del->bind(1, cutoff);
  if (del->step() != SQLITE_DONE) return make_error(fmt::format("{}: {}", path(), db_.errmsg()));
  return db_.changes();
}

}  // namespace rein::ledger
