#include "fit/nnls.h"

#include <vector>

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
  // 1e-25 next to a column of ones. Each support is then solved on the normal
  // equations (k x k), which costs O(n k^2) once instead of one QR per support.
  Eigen::VectorXd scale = design.colwise().norm().transpose();
  for (int c = 0; c < columns; ++c) {
    if (!(scale(c) > 0.0)) scale(c) = 1.0;
  }
  const Eigen::MatrixXd scaled = design * scale.cwiseInverse().asDiagonal();
  const Eigen::MatrixXd gram = scaled.transpose() * scaled;
  const Eigen::VectorXd moment = scaled.transpose() * target;

  // The empty support (x = 0) is always feasible; its residual is |target|^2.
  // The residual of a support's solution x is |target|^2 - x' moment, so the
  // best support maximises x' moment.
  Eigen::VectorXd best = Eigen::VectorXd::Zero(columns);
  double best_gain = 0.0;

  for (unsigned support = 1; support < (1u << columns); ++support) {
    std::vector<int> picked;
    for (int c = 0; c < columns; ++c) {
      if (support & (1u << c)) picked.push_back(c);
    }
    const int k = static_cast<int>(picked.size());
    Eigen::MatrixXd sub_gram(k, k);
    Eigen::VectorXd sub_moment(k);
    for (int i = 0; i < k; ++i) {
      sub_moment(i) = moment(picked[i]);
      for (int j = 0; j < k; ++j)
        sub_gram(i, j) = gram(picked[i], picked[j]);
    }
    const Eigen::VectorXd coef = sub_gram.ldlt().solve(sub_moment);
    if ((coef.array() < 0.0).any() || !coef.allFinite()) continue;

    const double gain = coef.dot(sub_moment);
    if (gain <= best_gain) continue;
    best_gain = gain;
    best.setZero();
    for (int i = 0; i < k; ++i)
      best(picked[i]) = coef(i) / scale(picked[i]);
  }
  return best;
}

}  // namespace scalelock
