// Nonnegative least squares for the few linear coefficients of a scaling law.
#pragma once

#include <Eigen/Dense>

namespace scalelock {

// Returns x >= 0 minimising |design * x - target|^2. Exact: it solves the
// unconstrained problem on every support (subset of columns) and keeps the
// best nonnegative solution, so it is meant for at most 4 columns (15 supports).
// Eigen 3.4 has no NNLS solver outside its unsupported tree. Throws
// Error(kInternal) when design has more than 4 columns or mismatched rows.
Eigen::VectorXd NonNegativeLeastSquares(const Eigen::MatrixXd& design,
                                        const Eigen::VectorXd& target);

}  // namespace scalelock
