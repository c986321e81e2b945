#include "fit/points.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>

#include "util/error.h"

namespace scalelock {
namespace {

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"' && quoted && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::optional<size_t> FindColumn(const std::vector<std::string>& header,
                                 const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) return std::nullopt;
  return static_cast<size_t>(it - header.begin());
}

size_t RequireColumn(const std::vector<std::string>& header, const std::string& name,
                     const std::string& path, const std::string& expected) {
  const std::optional<size_t> column = FindColumn(header, name);
  if (!column) {
    Fail(ErrorCode::kInvalidInput, "{}: missing column '{}'; expected columns {}", path,
         name, expected);
  }
  return *column;
}

double ParseNumber(const std::vector<std::string>& fields, size_t column,
                   const std::string& path, int line) {
  const std::string text = column < fields.size() ? fields[column] : "";
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  Fail(ErrorCode::kInvalidInput, "{}:{}: column {} has '{}', expected a number", path,
       line, column + 1, text);
}

}  // namespace

std::vector<ScalingPoint> ReadPointsCsv(const std::string& path, Form form) {
  std::ifstream in(path);
  if (!in) {
    Fail(ErrorCode::kNotFound, "points file {} not found or unreadable; check --points",
         path);
  }
  std::string line;
  if (!std::getline(in, line)) {
    Fail(ErrorCode::kInvalidInput, "{}: empty file, expected a header row", path);
  }
  const std::vector<std::string> header = SplitCsvLine(line);

  // Column layout: x (N), optional d (D) or compute C, and loss.
  const bool chinchilla = form == Form::kChinchilla;
  const bool epoch =
      chinchilla && !FindColumn(header, "N") && FindColumn(header, "Model Size");
  if (!chinchilla && FindColumn(header, "Model Size") &&
      FindColumn(header, "Training FLOP")) {
    Fail(ErrorCode::kInvalidInput,
         "{}: this is the Epoch AI Chinchilla layout, whose x column is an SVG "
         "coordinate; "
         "fit it with --form chinchilla",
         path);
  }
  const std::string expected =
      !chinchilla ? "x, loss" : "N, D, loss (or Model Size, Training FLOP, loss)";
  const size_t x_column = RequireColumn(header,
                                        !chinchilla ? "x"
                                        : epoch     ? "Model Size"
                                                    : "N",
                                        path, expected);
  const size_t d_column =
      chinchilla ? RequireColumn(header, epoch ? "Training FLOP" : "D", path, expected)
                 : 0;
  const size_t loss_column = RequireColumn(header, "loss", path, expected);

  std::vector<ScalingPoint> points;
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> fields = SplitCsvLine(line);
    ScalingPoint point;
    point.x = ParseNumber(fields, x_column, path, line_number);
    if (chinchilla) {
      const double value = ParseNumber(fields, d_column, path, line_number);
      point.d = epoch ? value / (6.0 * point.x) : value;
    }
    point.loss = ParseNumber(fields, loss_column, path, line_number);
    point.group = "row " + std::to_string(line_number);
    points.push_back(point);
  }
  return points;
}

std::vector<ScalingPoint> DropHighestLoss(std::vector<ScalingPoint> points, int count) {
  if (count < 0 || static_cast<size_t>(count) >= points.size()) {
    Fail(ErrorCode::kInvalidInput,
         "--drop-highest {} must be at least 0 and below the number of points ({})",
         count, points.size());
  }
  std::stable_sort(
      points.begin(), points.end(),
      [](const ScalingPoint& a, const ScalingPoint& b) { return a.loss < b.loss; });
  points.resize(points.size() - count);
  return points;
}

}  // namespace scalelock
