// Read-only SQL queries on the results database and their output formats.
//
// RunQuery runs exactly one statement: text after the first statement other
// than whitespace, ';' and comments raises Error(kInvalidInput), and so does a
// statement that could write (sqlite3_stmt_readonly false) or ATTACH/DETACH.
// SQL errors raise Error(kInvalidInput) quoting SQLite's message and the SQL.
// Formatting is pure and thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace scalelock {

// One result value: NULL, INTEGER, REAL or TEXT (a BLOB is read as TEXT).
using Cell = std::variant<std::monostate, int64_t, double, std::string>;

struct QueryResult {
  std::vector<std::string> columns;     // column names in SELECT order
  std::vector<std::vector<Cell>> rows;  // each row has columns.size() cells
};

QueryResult RunQuery(sqlite3* db, const std::string& sql);

// Steps a prepared statement to its end and collects the rows; sql names the
// statement in the Error(kInvalidInput) raised when a step fails.
QueryResult ReadRows(sqlite3_stmt* statement, const std::string& sql);

// Aligned columns under a header and a dashed rule. Numbers are right-aligned,
// text left-aligned, REALs printed with up to 6 significant digits and NULL as
// "NULL". An empty result prints the header and "(0 rows)".
std::string FormatTable(const QueryResult& result);

// A header line, then one line per row. Fields are quoted as RFC 4180 says:
// only a field with a comma, quote, CR or LF is quoted, and quotes are doubled.
// Lines end in LF. REALs use the shortest text that reads back to the same
// double, and NULL is the empty field.
std::string FormatCsv(const QueryResult& result);

// A JSON array with one object per row, keys in column order, native types;
// NULL, NaN and infinities become null.
std::string FormatJson(const QueryResult& result);

// The array FormatJson prints, for callers that nest it in a larger document.
nlohmann::ordered_json ToJson(const QueryResult& result);

// Prints JSON with 2-space indent and a final newline; invalid UTF-8 in TEXT
// is replaced by U+FFFD.
std::string DumpJson(const nlohmann::ordered_json& value);

// Dispatches on format: "table", "csv" or "json" (else Error(kInvalidInput)).
std::string FormatResult(const QueryResult& result, const std::string& format);

// Quotes one CSV field when RFC 4180 requires it.
std::string CsvField(const std::string& text);

// Formats a REAL with up to 6 significant digits, as the table format does.
std::string FormatReal6(double value);

}  // namespace scalelock
