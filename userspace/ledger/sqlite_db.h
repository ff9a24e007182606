// The SQLite handles the ledger needs, owned (RAII), errors as values with the file name.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rein::ledger {

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  Statement(Statement&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  sqlite3_stmt* get() const { return s_; }
  // Binds by 1-based index; an empty optional or string_view binds NULL where noted.
  void bind_null(int i);
  void bind(int i, int64_t v);
  void bind(int i, double v);
  void bind(int i, std::string_view v);  // empty: NULL
  void bind(int i, const std::optional<int64_t>& v);
  void bind(int i, const std::optional<double>& v);
  void bind(int i, const std::optional<std::string>& v);
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  void reset();

  std::optional<std::string> text(int col) const;  // NULL: nullopt
  int64_t int64(int col) const;
  double real(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3_stmt* s_ = nullptr;
};

class Db {
 public:
  // flags: SQLITE_OPEN_READONLY or SQLITE_OPEN_READWRITE (never CREATE: the caller makes
  // the file with the mode it wants).
  static Result<Db> open(const std::string& path, int flags);
  Db(Db&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  Result<void> exec(const std::string& sql);
  Result<Statement> prepare(const std::string& sql);
  // The first column of the first row as an integer (PRAGMA user_version, counts).
  Result<int64_t> scalar(const std::string& sql);
  std::string errmsg() const;
  int errcode() const;
  int64_t changes() const;
  const std::string& path() const { return path_; }
  sqlite3* get() const { return db_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace rein::ledger
