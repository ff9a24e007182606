#include "ledger/sqlite_db.h"

#include <fmt/format.h>

namespace rein::ledger {

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  if (s_) sqlite3_finalize(s_);
}

void Statement::bind_null(int i) {
  sqlite3_bind_null(s_, i);
}
void Statement::bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
}
void Statement::bind(int i, double v) {
  sqlite3_bind_double(s_, i, v);
}
void Statement::bind(int i, std::string_view v) {
  if (v.empty())
    bind_null(i);
  else
    sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
}
void Statement::bind(int i, const std::optional<int64_t>& v) {
  if (v)
    bind(i, *v);
  else
    bind_null(i);
}
void Statement::bind(int i, const std::optional<double>& v) {
  if (v)
    bind(i, *v);
  else
    bind_null(i);
}
void Statement::bind(int i, const std::optional<std::string>& v) {
  if (v)
    sqlite3_bind_text(s_, i, v->data(), int(v->size()), SQLITE_TRANSIENT);
  else
    bind_null(i);
}

int Statement::step() {
  return sqlite3_step(s_);
}

void Statement::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

std::optional<std::string> Statement::text(int col) const {
  if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
  const auto* p = sqlite3_column_text(s_, col);
  return std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(s_, col)));
}
int64_t Statement::int64(int col) const {
  return sqlite3_column_int64(s_, col);
}
double Statement::real(int col) const {
  return sqlite3_column_double(s_, col);
}
bool Statement::is_null(int col) const {
  return sqlite3_column_type(s_, col) == SQLITE_NULL;
}

Result<Db> Db::open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (db) sqlite3_close(db);
    return make_error(fmt::format("{}: {}", path, msg));
  }
  sqlite3_extended_result_codes(db, 1);
  return Db(db, path);
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close(db_);
    db_ = o.db_;
    path_ = std::move(o.path_);
    o.db_ = nullptr;
  }
  return *this;
}

Db::~Db() {
  // close_v2: statements still alive (a bug) do not leak the connection
  if (db_) sqlite3_close_v2(db_);
}

std::string Db::errmsg() const {
  return db_ ? sqlite3_errmsg(db_) : "closed";
}
int Db::errcode() const {
  return db_ ? sqlite3_extended_errcode(db_) : SQLITE_MISUSE;
}
int64_t Db::changes() const {
  return db_ ? sqlite3_changes64(db_) : 0;
}

Result<void> Db::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : errmsg();
    sqlite3_free(err);
    return make_error(fmt::format("{}: {}", path_, msg));
  }
  return {};
}

Result<Statement> Db::prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &s, nullptr) != SQLITE_OK)
    return make_error(fmt::format("{}: {}", path_, errmsg()));
  return Statement(s);
}

Result<int64_t> Db::scalar(const std::string& sql) {
  auto st = prepare(sql);
  if (!st) return st.error();
  int rc = st->step();
  if (rc == SQLITE_ROW) return st->int64(0);
  if (rc == SQLITE_DONE) return int64_t(0);
  return make_error(fmt::format("{}: {}", path_, errmsg()));
}

}  // namespace rein::ledger
