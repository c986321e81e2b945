// Rational: an exact fraction of two 64-bit integers, used for effective
// strides (a transposed convolution or an upsampling divides the stride, so
// it can become 1/2 or 2/3) and for receptive-field centres (half-integers).
//
// Values are kept reduced with a positive denominator, so == compares values.
// Arithmetic that would overflow int64_t throws Error(kInvalidInput).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <string>

#include "util/error.h"

namespace scalelock::rf {

class Rational {
 public:
  Rational() = default;
  Rational(int64_t value) : numerator_(value) {}  // NOLINT: implicit from integer
  // Throws Error(kInternal) when denominator is 0.
  Rational(int64_t numerator, int64_t denominator);

  int64_t numerator() const { return numerator_; }
  int64_t denominator() const { return denominator_; }
  bool IsInteger() const { return denominator_ == 1; }
  double ToDouble() const {
    return static_cast<double>(numerator_) / static_cast<double>(denominator_);
  }
  // "3", "-1/2", "2/3".
  std::string ToString() const;

  Rational operator*(const Rational& other) const;
  Rational operator/(const Rational& other) const;
  bool operator==(const Rational& other) const {
    return numerator_ == other.numerator_ && denominator_ == other.denominator_;
  }
  bool operator!=(const Rational& other) const { return !(*this == other); }

 private:
  int64_t numerator_ = 0;
  int64_t denominator_ = 1;
};

inline Rational::Rational(int64_t numerator, int64_t denominator) {
  if (denominator == 0)
    Fail(ErrorCode::kInternal, "rational {}/0 has a zero denominator", numerator);
  int64_t divisor = std::gcd(numerator, denominator);
  if (denominator < 0) divisor = -divisor;
  numerator_ = numerator / divisor;
  denominator_ = denominator / divisor;
}

inline std::string Rational::ToString() const {
  if (denominator_ == 1) return std::to_string(numerator_);
  return fmt::format("{}/{}", numerator_, denominator_);
}

namespace detail {
inline int64_t CheckedMultiply(int64_t a, int64_t b) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    Fail(ErrorCode::kInvalidInput,
         "effective stride overflows 64-bit arithmetic ({} * {}); the network has too "
         "many strided or upsampling layers for exact analysis",
         a, b);
  }
  return product;
}
}  // namespace detail

inline Rational Rational::operator*(const Rational& other) const {
  // Cross-reduce first so intermediate products stay as small as possible.
  int64_t g1 = std::gcd(numerator_, other.denominator_);
  int64_t g2 = std::gcd(other.numerator_, denominator_);
  if (g1 == 0) g1 = 1;
  if (g2 == 0) g2 = 1;
  return Rational(detail::CheckedMultiply(numerator_ / g1, other.numerator_ / g2),
                  detail::CheckedMultiply(denominator_ / g2, other.denominator_ / g1));
}

inline Rational Rational::operator/(const Rational& other) const {
  if (other.numerator_ == 0)
    Fail(ErrorCode::kInternal, "division of {} by zero", ToString());
  return *this * Rational(other.denominator_, other.numerator_);
}

}  // namespace scalelock::rf
