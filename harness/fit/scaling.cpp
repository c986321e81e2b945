#include "fit/scaling.h"

#include <ceres/ceres.h>
#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>

#include "fit/nnls.h"
#include "util/error.h"

namespace scalelock {
namespace {

constexpr double kHuberDelta = 1e-3;
constexpr double kExponentMax = 2.5;
constexpr int kMaxSize = 6;  // largest parameter count (bpl)

double Huber(double r) {
  const double a = std::abs(r);
  return a <= kHuberDelta ? 0.5 * r * r : kHuberDelta * (a - 0.5 * kHuberDelta);
}

template <typename T>
T LogSumExp(const T& a, const T& b) {
  const T m = a > b ? a : b;
  return m + log(exp(a - m) + exp(b - m));
}

template <typename T>
T LogSumExp(const T& a, const T& b, const T& c) {
  const T ab = a > b ? a : b;
  const T m = ab > c ? ab : c;
  return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

// log(1 + exp(z)) without overflow.
template <typename T>
T Softplus(const T& z) {
  return z > T(0.0) ? z + log1p(exp(-z)) : log1p(exp(z));
}

// Models in the parameterisation Ceres optimises (theta): positive linear
// coefficients as logs first, then the nonlinear parameters. lx = log x,
// ld = log d.
struct PowerModel {  // log E, log A, alpha
  static constexpr int kSize = 3;
  template <typename T>
  static T LogPredict(const T* t, double lx, double) {
    return LogSumExp(t[0], t[1] - t[2] * lx);
  }
};

struct Power0Model {  // log A, alpha
  static constexpr int kSize = 2;
  template <typename T>
  static T LogPredict(const T* t, double lx, double) {
    return t[0] - t[1] * lx;
  }
};

struct ChinchillaModel {  // log E, log A, log B, alpha, beta
  static constexpr int kSize = 5;
  template <typename T>
  static T LogPredict(const T* t, double lx, double ld) {
    return LogSumExp(t[0], t[1] - t[3] * lx, t[2] - t[4] * ld);
  }
};

struct BplModel {  // log E, log A, alpha, beta, log d, log f
  static constexpr int kSize = 6;
  template <typename T>
  static T BreakTerm(const T* nonlinear, double lx) {  // log of x^-alpha (...)^(-beta f)
    const T f = exp(nonlinear[3]);
    return -nonlinear[0] * lx - nonlinear[1] * f * Softplus((lx - nonlinear[2]) / f);
  }
  template <typename T>
  static T LogPredict(const T* t, double lx, double) {
    return LogSumExp(t[0], t[1] + BreakTerm(t + 2, lx));
  }
};

int ParameterCount(Form form) {
  switch (form) {
    case Form::kPower:
      return PowerModel::kSize;
    case Form::kPower0:
      return Power0Model::kSize;
    case Form::kChinchilla:
      return ChinchillaModel::kSize;
    case Form::kBpl:
      return BplModel::kSize;
  }
  return 0;
}

// Number of linear coefficients (E, A, B) at the front of theta.
int LinearCount(Form form) {
  switch (form) {
    case Form::kPower:
      return 2;
    case Form::kPower0:
      return 1;
    case Form::kChinchilla:
      return 3;
    case Form::kBpl:
      return 2;
  }
  return 0;
}

// Whether values[i] = exp(theta[i]) (true) or theta[i] (false).
bool IsLogParameter(Form form, int i) {
  if (i < LinearCount(form)) return true;
  return form == Form::kBpl && i >= 4;  // d and f
}

std::array<double, kMaxSize> ThetaFromValues(Form form,
                                             const std::vector<double>& values) {
  std::array<double, kMaxSize> theta{};
  for (int k = 0; k < ParameterCount(form); ++k) {
    theta[k] = IsLogParameter(form, k) ? std::log(values.at(k)) : values.at(k);
  }
  return theta;
}

double LogPredictTheta(Form form, const double* theta, double lx, double ld) {
  switch (form) {
    case Form::kPower:
      return PowerModel::LogPredict(theta, lx, ld);
    case Form::kPower0:
      return Power0Model::LogPredict(theta, lx, ld);
    case Form::kChinchilla:
      return ChinchillaModel::LogPredict(theta, lx, ld);
    case Form::kBpl:
      return BplModel::LogPredict(theta, lx, ld);
  }
  return 0.0;
}

// Points with their logs precomputed.
struct Prepared {
  std::vector<double> lx, ld, loss, log_loss;
  double min_loss = 0.0;
  double min_lx = 0.0, max_lx = 0.0;
};

Prepared Prepare(const std::vector<ScalingPoint>& points, Form form) {
  Prepared p;
  for (size_t i = 0; i < points.size(); ++i) {
    const ScalingPoint& q = points[i];
    const bool bad_d = form == Form::kChinchilla && !(q.d > 0.0 && std::isfinite(q.d));
    if (!(q.x > 0.0 && std::isfinite(q.x)) || bad_d ||
        !(q.loss > 0.0 && std::isfinite(q.loss))) {
      Fail(ErrorCode::kInvalidInput,
           "point {} (run {}) has x={}, d={}, loss={}; expected finite positive values "
           "(drop the point or fix its source)",
           i, q.run_id, q.x, q.d, q.loss);
    }
    p.lx.push_back(std::log(q.x));
    p.ld.push_back(form == Form::kChinchilla ? std::log(q.d) : 0.0);
    p.loss.push_back(q.loss);
    p.log_loss.push_back(std::log(q.loss));
  }
  p.min_loss = *std::min_element(p.loss.begin(), p.loss.end());
  p.min_lx = *std::min_element(p.lx.begin(), p.lx.end());
  p.max_lx = *std::max_element(p.lx.begin(), p.lx.end());
  return p;
}

double Objective(Form form, Residuals residuals, const Prepared& p, const double* theta) {
  double total = 0.0;
  for (size_t i = 0; i < p.lx.size(); ++i) {
    const double lp = LogPredictTheta(form, theta, p.lx[i], p.ld[i]);
    const double r =
        residuals == Residuals::kLog ? lp - p.log_loss[i] : std::exp(lp) - p.loss[i];
    total += Huber(r);
  }
  return std::isfinite(total) ? total : std::numeric_limits<double>::infinity();
}

// Log of each linear term's basis function (without its coefficient).
void LogBasis(Form form, const double* nonlinear, double lx, double ld, double* out) {
  switch (form) {
    case Form::kPower:
      out[0] = 0.0;
      out[1] = -nonlinear[0] * lx;
      return;
    case Form::kPower0:
      out[0] = -nonlinear[0] * lx;
      return;
    case Form::kChinchilla:
      out[0] = 0.0;
      out[1] = -nonlinear[0] * lx;
      out[2] = -nonlinear[1] * ld;
      return;
    case Form::kBpl:
      out[0] = 0.0;
      out[1] = BplModel::BreakTerm(nonlinear, lx);
      return;
  }
}

// A parameter box: theta[index] in [low, high].
struct Bound {
  int index;
  double low, high;
  const char* name;
  bool fails_at_edge;  // a minimum on this edge is a failed fit
};

std::vector<Bound> Bounds(Form form, const Prepared& p) {
  switch (form) {
    case Form::kPower:
      return {{2, 0.0, kExponentMax, "alpha", true}};
    case Form::kPower0:
      return {{1, 0.0, kExponentMax, "alpha", true}};
    case Form::kChinchilla:
      return {{3, 0.0, kExponentMax, "alpha", true},
              {4, 0.0, kExponentMax, "beta", true}};
    case Form::kBpl:
      return {{2, 0.0, kExponentMax, "alpha", true},
              {3, -kExponentMax, kExponentMax, "beta", true},
              {4, p.min_lx, p.max_lx, "d", true},
              {5, std::log(0.01), std::log(10.0), "f", false}};
  }
  return {};
}

// One grid point: the nonlinear parameters, the theta solved from them, and
// the objective there.
struct Candidate {
  std::array<double, kMaxSize> theta{};
  double objective = std::numeric_limits<double>::infinity();
};

// Solves the linear coefficients for fixed nonlinear parameters by NNLS (rows
// weighted by 1/loss for log residuals, so the fit is in relative error) and
// scores the result with the objective.
Candidate SolveLinear(Form form, Residuals residuals, const Prepared& p,
                      const std::vector<double>& nonlinear) {
  const int linear = LinearCount(form);
  const int n = static_cast<int>(p.lx.size());
  Eigen::MatrixXd basis(n, linear);
  Eigen::VectorXd weight(n);
  std::vector<double> max_log_basis(linear, -std::numeric_limits<double>::infinity());
  double log_basis[3];
  for (int i = 0; i < n; ++i) {
    LogBasis(form, nonlinear.data(), p.lx[i], p.ld[i], log_basis);
    for (int c = 0; c < linear; ++c) {
      basis(i, c) = std::exp(log_basis[c]);
      max_log_basis[c] = std::max(max_log_basis[c], log_basis[c]);
    }
    weight(i) = residuals == Residuals::kLog ? 1.0 / p.loss[i] : 1.0;
  }
  const Eigen::VectorXd target = Eigen::Map<const Eigen::VectorXd>(p.loss.data(), n);
  Eigen::VectorXd coef =
      NonNegativeLeastSquares(weight.asDiagonal() * basis, weight.cwiseProduct(target));

  // theta holds logs, so a zero coefficient becomes a term below 1e-8 of the
  // smallest loss.
  Candidate candidate;
  for (int c = 0; c < linear; ++c) {
    const double floor = std::log(1e-8 * p.min_loss) - max_log_basis[c];
    candidate.theta[c] = coef(c) > 0.0 ? std::max(std::log(coef(c)), floor) : floor;
    coef(c) = std::exp(candidate.theta[c]);
  }
  for (size_t k = 0; k < nonlinear.size(); ++k)
    candidate.theta[linear + k] = nonlinear[k];

  const Eigen::VectorXd predicted = basis * coef;
  double total = 0.0;
  for (int i = 0; i < n; ++i) {
    total += Huber(residuals == Residuals::kLog ? std::log(predicted(i)) - p.log_loss[i]
                                                : predicted(i) - p.loss[i]);
  }
  candidate.objective =
      std::isfinite(total) ? total : std::numeric_limits<double>::infinity();
  return candidate;
}

// Grid axes of the nonlinear parameters, one vector of values per axis.
std::vector<std::vector<double>> CoarseAxes(Form form, const Prepared& p) {
  auto range = [](double low, double high, double step) {
    std::vector<double> values;
    for (double v = low; v <= high + 1e-9; v += step)
      values.push_back(v);
    return values;
  };
  switch (form) {
    case Form::kPower:
    case Form::kPower0:
      return {range(0.0, kExponentMax, 0.05)};
    case Form::kChinchilla:
      return {range(0.0, kExponentMax, 0.1), range(0.0, kExponentMax, 0.1)};
    case Form::kBpl: {
      std::vector<double> breaks;
      for (int k = 1; k <= 8; ++k)
        breaks.push_back(p.min_lx + k * (p.max_lx - p.min_lx) / 9);
      return {range(0.0, kExponentMax, 0.25),
              range(-kExponentMax, kExponentMax, 0.5),
              breaks,
              {std::log(0.1), std::log(0.3), 0.0, std::log(3.0)}};
    }
  }
  return {};
}

// Evaluates every tuple of the product of axes.
std::vector<Candidate> ScanGrid(Form form, Residuals residuals, const Prepared& p,
                                const std::vector<std::vector<double>>& axes) {
  std::vector<Candidate> scanned;
  std::vector<size_t> index(axes.size(), 0);
  std::vector<double> nonlinear(axes.size());
  while (true) {
    for (size_t a = 0; a < axes.size(); ++a)
      nonlinear[a] = axes[a][index[a]];
    scanned.push_back(SolveLinear(form, residuals, p, nonlinear));
    size_t a = 0;
    while (a < axes.size() && ++index[a] == axes[a].size())
      index[a++] = 0;
    if (a == axes.size()) break;
  }
  return scanned;
}

// A finer grid (10x) within half_width fine steps of centre (10 = one coarse
// step); only for power, power0 and chinchilla.
std::vector<std::vector<double>> FineAxes(Form form, const Candidate& centre,
                                          int half_width) {
  const int linear = LinearCount(form);
  const double step = form == Form::kChinchilla ? 0.1 : 0.05;
  std::vector<std::vector<double>> axes;
  for (int k = linear; k < ParameterCount(form); ++k) {
    std::vector<double> values;
    for (int j = -half_width; j <= half_width; ++j) {
      const double v = centre.theta[k] + j * step / 10;
      if (v >= 0.0 && v <= kExponentMax) values.push_back(v);
    }
    axes.push_back(values);
  }
  return axes;
}

// Picks up to count starts in order of objective, skipping candidates within
// 1.5 coarse steps (in every nonlinear parameter) of a start already taken.
std::vector<Candidate> PickStarts(Form form, std::vector<Candidate> candidates,
                                  const std::vector<std::vector<double>>& coarse,
                                  size_t count) {
  std::sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.objective < b.objective; });
  const int linear = LinearCount(form);
  std::vector<Candidate> starts;
  for (const Candidate& c : candidates) {
    if (!std::isfinite(c.objective) || starts.size() == count) break;
    bool distinct = true;
    for (const Candidate& s : starts) {
      bool near = true;
      for (size_t a = 0; a < coarse.size(); ++a) {
        const double step = coarse[a].size() > 1 ? coarse[a][1] - coarse[a][0] : 1.0;
        near = near && std::abs(c.theta[linear + a] - s.theta[linear + a]) < 1.5 * step;
      }
      distinct = distinct && !near;
    }
    if (distinct) starts.push_back(c);
  }
  return starts;
}

template <class Model>
struct PointResidual {
  double lx, ld, loss, log_loss;
  bool log_space;
  template <typename T>
  bool operator()(const T* theta, T* residual) const {
    const T lp = Model::LogPredict(theta, lx, ld);
    residual[0] = log_space ? lp - T(log_loss) : exp(lp) - T(loss);
    return true;
  }
};

// Refines all parameters from start with Ceres (Levenberg-Marquardt, Huber
// loss, bounds). Returns the start unchanged with an infinite objective when
// the solver reports an unusable solution.
template <class Model>
Candidate Refine(Residuals residuals, const Prepared& p, const std::vector<Bound>& bounds,
                 Form form, const Candidate& start) {
  Candidate result = start;
  double* theta = result.theta.data();
  ceres::Problem::Options problem_options;
  problem_options.loss_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  ceres::HuberLoss huber(kHuberDelta);
  for (size_t i = 0; i < p.lx.size(); ++i) {
    auto* cost = new ceres::AutoDiffCostFunction<PointResidual<Model>, 1, Model::kSize>(
        new PointResidual<Model>{p.lx[i], p.ld[i], p.loss[i], p.log_loss[i],
                                 residuals == Residuals::kLog});
    problem.AddResidualBlock(cost, &huber, theta);
  }
  for (const Bound& b : bounds) {
    theta[b.index] = std::clamp(theta[b.index], b.low, b.high);
    problem.SetParameterLowerBound(theta, b.index, b.low);
    problem.SetParameterUpperBound(theta, b.index, b.high);
  }

  ceres::Solver::Options options;
  options.minimizer_type = ceres::TRUST_REGION;
  options.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = 500;
  options.function_tolerance = 1e-12;
  options.gradient_tolerance = 1e-15;
  options.parameter_tolerance = 1e-12;
  options.logging_type = ceres::SILENT;
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);

  result.objective = summary.IsSolutionUsable() ? Objective(form, residuals, p, theta)
                                                : std::numeric_limits<double>::infinity();
  return result;
}

Candidate RefineAny(Form form, Residuals residuals, const Prepared& p,
                    const std::vector<Bound>& bounds, const Candidate& start) {
  switch (form) {
    case Form::kPower:
      return Refine<PowerModel>(residuals, p, bounds, form, start);
    case Form::kPower0:
      return Refine<Power0Model>(residuals, p, bounds, form, start);
    case Form::kChinchilla:
      return Refine<ChinchillaModel>(residuals, p, bounds, form, start);
    case Form::kBpl:
      return Refine<BplModel>(residuals, p, bounds, form, start);
  }
  return start;
}

// The reason a fit on a box edge failed, or "" when no parameter is on an edge.
std::string EdgeFailure(const std::vector<Bound>& bounds, const double* theta,
                        Form form) {
  for (const Bound& b : bounds) {
    if (!b.fails_at_edge) continue;
    const double tolerance = 1e-4 * (b.high - b.low);
    const bool low = theta[b.index] <= b.low + tolerance;
    const bool high = theta[b.index] >= b.high - tolerance;
    if (!low && !high) continue;
    double edge = low ? b.low : b.high;
    if (IsLogParameter(form, b.index)) edge = std::exp(edge);
    return fmt::format("failed: {} at search bound {:g}", b.name, edge);
  }
  return "";
}

}  // namespace

Form ParseForm(const std::string& name) {
  if (name == "power") return Form::kPower;
  if (name == "power0") return Form::kPower0;
  if (name == "chinchilla") return Form::kChinchilla;
  if (name == "bpl") return Form::kBpl;
  Fail(ErrorCode::kInvalidInput,
       "unknown form '{}'; expected power, power0, chinchilla or bpl", name);
}

const char* FormName(Form form) {
  switch (form) {
    case Form::kPower:
      return "power";
    case Form::kPower0:
      return "power0";
    case Form::kChinchilla:
      return "chinchilla";
    case Form::kBpl:
      return "bpl";
  }
  return "?";
}

Residuals ParseResiduals(const std::string& name) {
  if (name == "log") return Residuals::kLog;
  if (name == "linear") return Residuals::kLinear;
  Fail(ErrorCode::kInvalidInput, "unknown residuals '{}'; expected log or linear", name);
}

const char* ResidualsName(Residuals residuals) {
  return residuals == Residuals::kLog ? "log" : "linear";
}

std::string ObjectiveName(Residuals residuals) {
  return fmt::format("huber-{}, delta=1e-3, summed", ResidualsName(residuals));
}

const std::vector<std::string>& ParameterNames(Form form) {
  static const std::vector<std::string> power = {"E", "A", "alpha"};
  static const std::vector<std::string> power0 = {"A", "alpha"};
  static const std::vector<std::string> chinchilla = {"E", "A", "B", "alpha", "beta"};
  static const std::vector<std::string> bpl = {"E", "A", "alpha", "beta", "d", "f"};
  switch (form) {
    case Form::kPower:
      return power;
    case Form::kPower0:
      return power0;
    case Form::kChinchilla:
      return chinchilla;
    case Form::kBpl:
      return bpl;
  }
  return power;
}

ScalingFit FitScalingLaw(const std::vector<ScalingPoint>& points, Form form,
                         Residuals residuals, const ScalingFit* warm_start) {
  const int size = ParameterCount(form);
  if (static_cast<int>(points.size()) < size) {
    Fail(ErrorCode::kInvalidInput,
         "form {} has {} parameters but only {} points were given; add points or choose "
         "a form with fewer parameters",
         FormName(form), size, points.size());
  }
  const Prepared p = Prepare(points, form);
  const std::vector<Bound> bounds = Bounds(form, p);

  // Coarse grid, then a finer grid around its best point (not for bpl, whose
  // four-dimensional grid is only coarse). With a warm start, the fine grid is
  // centred on it and the coarse grid is skipped.
  const std::vector<std::vector<double>> coarse = CoarseAxes(form, p);
  std::vector<Candidate> scanned;
  Candidate centre;
  if (warm_start != nullptr && form != Form::kBpl) {
    centre.theta = ThetaFromValues(form, warm_start->values);
  } else {
    scanned = ScanGrid(form, residuals, p, coarse);
    centre = *std::min_element(
        scanned.begin(), scanned.end(),
        [](const Candidate& a, const Candidate& b) { return a.objective < b.objective; });
  }
  if (form != Form::kBpl) {
    // A warm start is already near the minimum, so its fine grid spans half a
    // coarse step.
    const int half_width = warm_start != nullptr ? 5 : 10;
    const std::vector<Candidate> fine =
        ScanGrid(form, residuals, p, FineAxes(form, centre, half_width));
    scanned.insert(scanned.end(), fine.begin(), fine.end());
  }

  // Joint refinement from several distinct grid minima (and the warm start).
  const size_t start_count = warm_start != nullptr ? 1 : form == Form::kBpl ? 8 : 4;
  std::vector<Candidate> starts = PickStarts(form, scanned, coarse, start_count);
  if (warm_start != nullptr) {
    Candidate warm;
    warm.theta = ThetaFromValues(form, warm_start->values);
    starts.push_back(warm);
  }
  Candidate best;
  for (const Candidate& start : starts) {
    const Candidate refined = RefineAny(form, residuals, p, bounds, start);
    if (refined.objective < best.objective) best = refined;
  }

  ScalingFit fit;
  fit.form = form;
  fit.residuals = residuals;
  fit.objective = best.objective;
  for (int k = 0; k < size; ++k) {
    fit.values.push_back(IsLogParameter(form, k) ? std::exp(best.theta[k])
                                                 : best.theta[k]);
  }
  if (!std::isfinite(best.objective)) {
    fit.status = "failed: no grid point or refinement gave a finite objective";
    return fit;
  }
  fit.status = EdgeFailure(bounds, best.theta.data(), form);
  fit.ok = fit.status.empty();
  if (fit.ok) fit.status = "ok";
  return fit;
}

double PredictLoss(Form form, const std::vector<double>& values,
                   const ScalingPoint& point) {
  const std::array<double, kMaxSize> theta = ThetaFromValues(form, values);
  const double ld = form == Form::kChinchilla ? std::log(point.d) : 0.0;
  return std::exp(LogPredictTheta(form, theta.data(), std::log(point.x), ld));
}

double ScaleOf(Form form, const ScalingPoint& point) {
  return form == Form::kChinchilla ? point.x * point.d : point.x;
}

}  // namespace scalelock
