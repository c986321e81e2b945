// Arithmetic expressions for derived grid values, such as
// "task.scale_ratio * task.lambda_min".
//
// Grammar: numbers, dotted paths, + - * / ^ (right-associative power),
// unary minus, parentheses, and the functions min(a, b), max(a, b),
// round(x), floor(x), ceil(x), log2(x), sqrt(x).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace scalelock {

class Expression {
 public:
  // Parses text; throws Error(kInvalidInput) with the column of the problem.
  static Expression Parse(const std::string& text);

  // Dotted paths the expression reads, in order of first use.
  const std::vector<std::string>& references() const { return references_; }

  // Evaluates with lookup(path) supplying each referenced value.
  double Evaluate(const std::function<double(const std::string&)>& lookup) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<std::string> references_;
};

}  // namespace scalelock
