#include "report/query.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace scalelock {
namespace {

struct StatementDeleter {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Authorizer that rejects ATTACH and DETACH, which sqlite3_stmt_readonly
// reports as read-only although ATTACH may create a file.
int DenyAttach(void* attach_seen, int action, const char*, const char*, const char*,
               const char*) {
  if (action == SQLITE_ATTACH || action == SQLITE_DETACH) {
    *static_cast<bool*>(attach_seen) = true;
    return SQLITE_DENY;
  }
  return SQLITE_OK;
}

StatementPtr Prepare(sqlite3* db, const char* sql, const char** tail, bool* attach_seen) {
  sqlite3_stmt* raw = nullptr;
  sqlite3_set_authorizer(db, DenyAttach, attach_seen);
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, tail);
  sqlite3_set_authorizer(db, nullptr, nullptr);
  StatementPtr statement(raw);
  if (*attach_seen) {
    Fail(
        ErrorCode::kInvalidInput,
        "query does not run ATTACH or DETACH; open the other database with its own --db");
  }
  if (rc != SQLITE_OK) {
    Fail(ErrorCode::kInvalidInput, "invalid SQL: {} [SQL: {}]", sqlite3_errmsg(db), sql);
  }
  return statement;
}

// Rejects SQL that contains a second statement after the first.
void CheckSingleStatement(sqlite3* db, const char* tail) {
  const char* rest = tail;
  bool attach_seen = false;
  sqlite3_stmt* raw = nullptr;
  sqlite3_set_authorizer(db, DenyAttach, &attach_seen);
  int rc = sqlite3_prepare_v2(db, tail, -1, &raw, &rest);
  sqlite3_set_authorizer(db, nullptr, nullptr);
  StatementPtr second(raw);
  if (rc == SQLITE_OK && !second && !attach_seen) return;  // only blanks and comments
  std::string text(tail);
  text.erase(0, text.find_first_not_of(" \t\r\n;"));
  Fail(ErrorCode::kInvalidInput,
       "query runs one statement, but the SQL continues after the first ';' with '{}'; "
       "run the statements one at a time",
       text);
}

Cell ReadCell(sqlite3_stmt* statement, int column) {
  switch (sqlite3_column_type(statement, column)) {
    case SQLITE_NULL:
      return std::monostate{};
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(statement, column));
    case SQLITE_FLOAT:
      return sqlite3_column_double(statement, column);
    default: {
      const unsigned char* text = sqlite3_column_text(statement, column);
      int bytes = sqlite3_column_bytes(statement, column);
      return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(bytes));
    }
  }
}

bool IsNumber(const Cell& cell) {
  return std::holds_alternative<int64_t>(cell) || std::holds_alternative<double>(cell);
}

std::string CellText(const Cell& cell) {
  if (std::holds_alternative<std::monostate>(cell)) return "NULL";
  if (const auto* integer = std::get_if<int64_t>(&cell)) return std::to_string(*integer);
  if (const auto* real = std::get_if<double>(&cell)) return FormatReal6(*real);
  return std::get<std::string>(cell);
}

// Number of UTF-8 code points, used as the display width.
size_t DisplayWidth(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void AppendPadded(std::string& line, const std::string& text, size_t width, bool right) {
  std::string padding(width - std::min(width, DisplayWidth(text)), ' ');
  line += right ? padding + text : text + padding;
}

void TrimRight(std::string& line) {
  line.erase(line.find_last_not_of(' ') + 1);
}

nlohmann::ordered_json CellJson(const Cell& cell) {
  if (const auto* integer = std::get_if<int64_t>(&cell)) return *integer;
  if (const auto* real = std::get_if<double>(&cell)) {
    if (!std::isfinite(*real)) return nullptr;
    return *real;
  }
  if (const auto* text = std::get_if<std::string>(&cell)) return *text;
  return nullptr;
}

}  // namespace

QueryResult ReadRows(sqlite3_stmt* statement, const std::string& sql) {
  QueryResult result;
  int columns = sqlite3_column_count(statement);
  for (int column = 0; column < columns; ++column) {
    result.columns.emplace_back(sqlite3_column_name(statement, column));
  }
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    std::vector<Cell> row;
    row.reserve(static_cast<size_t>(columns));
    for (int column = 0; column < columns; ++column)
      row.push_back(ReadCell(statement, column));
    result.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    Fail(ErrorCode::kInvalidInput, "query failed: {} [SQL: {}]",
         sqlite3_errmsg(sqlite3_db_handle(statement)), sql);
  }
  return result;
}

QueryResult RunQuery(sqlite3* db, const std::string& sql) {
  const char* tail = nullptr;
  bool attach_seen = false;
  StatementPtr statement = Prepare(db, sql.c_str(), &tail, &attach_seen);
  if (!statement) {
    Fail(ErrorCode::kInvalidInput,
         "the SQL is empty; pass one statement such as "
         "\"SELECT family, count(*) FROM run_summary GROUP BY family\"");
  }
  if (!sqlite3_stmt_readonly(statement.get())) {
    Fail(
        ErrorCode::kInvalidInput,
        "query only runs read-only statements (SELECT, WITH, EXPLAIN, read-only PRAGMA), "
        "but this one would modify the database [SQL: {}]",
        sql);
  }
  CheckSingleStatement(db, tail);
  return ReadRows(statement.get(), sql);
}

std::string FormatReal6(double value) {
  return fmt::format("{:.6g}", value);
}

std::string FormatTable(const QueryResult& result) {
  size_t columns = result.columns.size();
  std::vector<size_t> widths(columns);
  std::vector<bool> numeric(columns, true);
  std::vector<bool> has_value(columns, false);
  for (size_t c = 0; c < columns; ++c)
    widths[c] = DisplayWidth(result.columns[c]);
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < columns; ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(CellText(row[c])));
      if (std::holds_alternative<std::monostate>(row[c])) continue;
      has_value[c] = true;
      if (!IsNumber(row[c])) numeric[c] = false;
    }
  }

  // Header and rule: a header sits over its column's alignment.
  std::string out;
  std::string header, rule;
  for (size_t c = 0; c < columns; ++c) {
    if (c > 0) header += "  ", rule += "  ";
    AppendPadded(header, result.columns[c], widths[c], numeric[c] && has_value[c]);
    rule += std::string(widths[c], '-');
  }
  TrimRight(header);
  out += header + "\n" + rule + "\n";

  for (const auto& row : result.rows) {
    std::string line;
    for (size_t c = 0; c < columns; ++c) {
      if (c > 0) line += "  ";
      bool null_in_numbers =
          std::holds_alternative<std::monostate>(row[c]) && numeric[c] && has_value[c];
      bool right = IsNumber(row[c]) || null_in_numbers;
      AppendPadded(line, CellText(row[c]), widths[c], right);
    }
    TrimRight(line);
    out += line + "\n";
  }
  if (result.rows.empty()) out += "(0 rows)\n";
  return out;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string FormatCsv(const QueryResult& result) {
  std::string out;
  for (size_t c = 0; c < result.columns.size(); ++c) {
    if (c > 0) out += ',';
    out += CsvField(result.columns[c]);
  }
  out += '\n';
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out += ',';
      if (const auto* integer = std::get_if<int64_t>(&row[c])) {
        out += std::to_string(*integer);
      } else if (const auto* real = std::get_if<double>(&row[c])) {
        out += fmt::format("{}", *real);
      } else if (const auto* text = std::get_if<std::string>(&row[c])) {
        out += CsvField(*text);
      }
    }
    out += '\n';
  }
  return out;
}

nlohmann::ordered_json ToJson(const QueryResult& result) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (const auto& row : result.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t c = 0; c < row.size(); ++c)
      object[result.columns[c]] = CellJson(row[c]);
    array.push_back(std::move(object));
  }
  return array;
}

std::string DumpJson(const nlohmann::ordered_json& value) {
  return value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

std::string FormatJson(const QueryResult& result) {
  return DumpJson(ToJson(result));
}

std::string FormatResult(const QueryResult& result, const std::string& format) {
  if (format == "table") return FormatTable(result);
  if (format == "csv") return FormatCsv(result);
  if (format == "json") return FormatJson(result);
  Fail(ErrorCode::kInvalidInput, "invalid --format '{}': expected table, csv or json",
       format);
}

}  // namespace scalelock
