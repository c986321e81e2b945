#include "spec/expression.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "util/error.h"

namespace scalelock {

struct Expression::Node {
  enum class Kind { kNumber, kPath, kUnaryMinus, kBinary, kCall } kind;
  double number = 0.0;
  std::string name;  // path, function name, or operator character
  std::vector<std::shared_ptr<const Node>> args;
};

namespace {

using NodePtr = std::shared_ptr<const Expression::Node>;
using Kind = Expression::Node::Kind;

// Recursive-descent parser; each level handles one precedence tier.
class Parser {
 public:
  Parser(const std::string& text, std::vector<std::string>* references)
      : text_(text), references_(references) {}

  NodePtr ParseAll() {
    NodePtr node = ParseSum();
    SkipSpace();
    if (pos_ != text_.size()) FailAt("unexpected '" + text_.substr(pos_, 1) + "'");
    return node;
  }

 private:
  NodePtr ParseSum() {
    NodePtr left = ParseProduct();
    while (Accept('+') || Accept('-')) {
      char op = text_[pos_ - 1];
      left = Binary(op, left, ParseProduct());
    }
    return left;
  }

  NodePtr ParseProduct() {
    NodePtr left = ParseUnary();
    while (Accept('*') || Accept('/')) {
      char op = text_[pos_ - 1];
      left = Binary(op, left, ParseUnary());
    }
    return left;
  }

  NodePtr ParseUnary() {
    if (Accept('-')) {
      auto node = std::make_shared<Expression::Node>();
      node->kind = Kind::kUnaryMinus;
      node->args.push_back(ParseUnary());
      return node;
    }
    return ParsePower();
  }

  NodePtr ParsePower() {
    NodePtr base = ParseAtom();
    if (Accept('^')) return Binary('^', base, ParseUnary());
    return base;
  }

  NodePtr ParseAtom() {
    SkipSpace();
    if (Accept('(')) {
      NodePtr inner = ParseSum();
      Expect(')');
      return inner;
    }
    if (pos_ < text_.size() &&
        (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.')) {
      return ParseNumber();
    }
    if (pos_ < text_.size() &&
        (std::isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      return ParseNameOrCall();
    }
    FailAt(pos_ < text_.size() ? "unexpected '" + text_.substr(pos_, 1) + "'"
                               : "unexpected end of expression");
  }

  NodePtr ParseNumber() {
    size_t used = 0;
    double value = 0.0;
    try {
      value = std::stod(text_.substr(pos_), &used);
    } catch (const std::exception&) {
      FailAt("invalid number");
    }
    pos_ += used;
    auto node = std::make_shared<Expression::Node>();
    node->kind = Kind::kNumber;
    node->number = value;
    return node;
  }

  NodePtr ParseNameOrCall() {
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
            text_[pos_] == '.')) {
      ++pos_;
    }
    auto node = std::make_shared<Expression::Node>();
    node->name = text_.substr(start, pos_ - start);
    if (!Accept('(')) {
      node->kind = Kind::kPath;
      if (std::find(references_->begin(), references_->end(), node->name) ==
          references_->end()) {
        references_->push_back(node->name);
      }
      return node;
    }
    node->kind = Kind::kCall;
    node->args.push_back(ParseSum());
    while (Accept(','))
      node->args.push_back(ParseSum());
    Expect(')');
    CheckCall(*node, start);
    return node;
  }

  void CheckCall(const Expression::Node& node, size_t column) {
    size_t expected = (node.name == "min" || node.name == "max") ? 2 : 1;
    bool known = node.name == "min" || node.name == "max" || node.name == "round" ||
                 node.name == "floor" || node.name == "ceil" || node.name == "log2" ||
                 node.name == "sqrt";
    if (!known) {
      pos_ = column;
      FailAt("unknown function '" + node.name +
             "' (known: min, max, round, floor, ceil, log2, sqrt)");
    }
    if (node.args.size() != expected) {
      pos_ = column;
      FailAt(node.name + "() takes " + std::to_string(expected) + " argument(s)");
    }
  }

  NodePtr Binary(char op, NodePtr left, NodePtr right) {
    auto node = std::make_shared<Expression::Node>();
    node->kind = Kind::kBinary;
    node->name = std::string(1, op);
    node->args = {std::move(left), std::move(right)};
    return node;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  bool Accept(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void Expect(char c) {
    if (!Accept(c)) FailAt(std::string("expected '") + c + "'");
  }

  [[noreturn]] void FailAt(const std::string& problem) {
    Fail(ErrorCode::kInvalidInput, "{} at column {} of \"{}\"", problem, pos_ + 1, text_);
  }

  const std::string& text_;
  std::vector<std::string>* references_;
  size_t pos_ = 0;
};

double EvaluateNode(const Expression::Node& node,
                    const std::function<double(const std::string&)>& lookup) {
  switch (node.kind) {
    case Kind::kNumber:
      return node.number;
    case Kind::kPath:
      return lookup(node.name);
    case Kind::kUnaryMinus:
      return -EvaluateNode(*node.args[0], lookup);
    case Kind::kBinary: {
      double a = EvaluateNode(*node.args[0], lookup);
      double b = EvaluateNode(*node.args[1], lookup);
      switch (node.name[0]) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
          return a / b;
        default:
          return std::pow(a, b);
      }
    }
    case Kind::kCall: {
      double a = EvaluateNode(*node.args[0], lookup);
      if (node.name == "min") return std::min(a, EvaluateNode(*node.args[1], lookup));
      if (node.name == "max") return std::max(a, EvaluateNode(*node.args[1], lookup));
      if (node.name == "round") return std::round(a);
      if (node.name == "floor") return std::floor(a);
      if (node.name == "ceil") return std::ceil(a);
      if (node.name == "log2") return std::log2(a);
      return std::sqrt(a);
    }
  }
  return 0.0;
}

}  // namespace

Expression Expression::Parse(const std::string& text) {
  Expression expression;
  Parser parser(text, &expression.references_);
  expression.root_ = parser.ParseAll();
  return expression;
}

double Expression::Evaluate(
    const std::function<double(const std::string&)>& lookup) const {
  return EvaluateNode(*root_, lookup);
}

}  // namespace scalelock
