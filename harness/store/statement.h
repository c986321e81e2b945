// Thin RAII helpers over the sqlite3 C API, shared by the store and report
// modules. Every failure throws Error(kDatabase) carrying SQLite's message and
// the SQL text. Objects are bound to one connection and, like it, are not
// thread-safe.
#pragma once

#include <cstdint>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace scalelock {

// Throws Error(kDatabase): "<action> failed: <sqlite message> [SQL: <sql>]".
[[noreturn]] void FailSqlite(sqlite3* db, const std::string& what,
                             const std::string& sql);

// Runs SQL that returns no rows (DDL, PRAGMA, BEGIN); may hold several statements.
void ExecSql(sqlite3* db, const std::string& sql);

// One prepared statement. Bind indexes start at 1, column indexes at 0.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) {
    return Bind(index, static_cast<int64_t>(value));
  }
  // NaN is stored as NULL, which is how SQLite represents a missing REAL.
  Statement& Bind(int index, double value);
  Statement& Bind(int index, const std::string& value);
  Statement& BindNull(int index);

  // Advances; returns true when a row is available, false when done.
  bool Step();
  // Steps a statement that returns no rows.
  void Run();
  // Clears bindings and rewinds so the statement can run again.
  void Reset();

  bool IsNull(int column) const;
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;

  sqlite3_stmt* get() const { return stmt_; }
  const std::string& sql() const { return sql_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

// Seconds since the Unix epoch, with sub-second resolution.
double UnixNow();

}  // namespace scalelock
