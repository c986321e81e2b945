#include "fit/nnls.h"

#include <limits>

#include "util/error.h"

namespace scalelock {

Eigen::VectorXd NonNegativeLeastSquares(const Eigen::MatrixXd& design,
                                        const Eigen::VectorXd& target) {
  const int columns = static_cast<int>(design.cols());
  if (columns > 4 || design.rows() != target.size()) {
    Fail(ErrorCode::kInternal,
         "NonNegativeLeastSquares: design is {}x{} and target has {} rows; expected at "
         "most 4 columns and matching rows",
         design.rows(), design.cols(), target.size());
  }

  // Columns are scaled to unit norm first: basis columns such as N^-alpha can be
  // 1e-25 next to a column of ones, which rank-revealing QR would treat as zero.
  Eigen::VectorXd scale = design.colwise().norm().transpose();
  for (int c = 0; c < columns; ++c) {
    if (!(scale(c) > 0.0)) scale(c) = 1.0;
  }
  const Eigen::MatrixXd scaled = design * scale.cwiseInverse().asDiagonal();

  // The empty support (x = 0) is always feasible.
  Eigen::VectorXd best = Eigen::VectorXd::Zero(columns);
  double best_residual = target.squaredNorm();

  for (unsigned support = 1; support < (1u << columns); ++support) {
    Eigen::MatrixXd sub(design.rows(), __builtin_popcount(support));
    int k = 0;
    for (int c = 0; c < columns; ++c) {
      if (support & (1u << c)) sub.col(k++) = scaled.col(c);
    }
    const Eigen::VectorXd coef = sub.colPivHouseholderQr().solve(target);
    if ((coef.array() < 0.0).any() || !coef.allFinite()) continue;

    const double residual = (sub * coef - target).squaredNorm();
    if (residual >= best_residual) continue;
    best_residual = residual;
    best.setZero();
    k = 0;
    for (int c = 0; c < columns; ++c) {
      if (support & (1u << c)) best(c) = coef(k++) / scale(c);
    }
  }
  return best;
}

}  // namespace scalelock
