#include "data/scales.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <unsupported/Eigen/FFT>

#include "util/error.h"

namespace scalelock {

namespace {

using Complex = std::complex<double>;

// A lag counts as zero when |R| is within this fraction of R(0) or within this
// many standard errors of zero.
constexpr double kNearZeroFraction = 0.02;
constexpr double kNearZeroSigmas = 4.0;
// A negative side lobe of R ends where R is within this fraction of its depth.
constexpr double kSideLobeEnd = 0.15;
// The search for tau* starts at this fraction of lambda_min, past the bulk of
// the central lobe of S, whose tail is below 4% of the pair peak there for
// the square-wave marks of the multiscale tasks.
constexpr double kPairSearchStart = 0.85;
// Lags whose S is within this fraction of the maximum count as tied with it.
constexpr double kPeakTieFraction = 0.8;
// Periods: peaks below this fraction of the largest peak's power are ignored
// (the Hann window's side lobes are below 0.001).
constexpr double kPeakPowerFraction = 0.05;
constexpr int64_t kSpectrumPadding = 16;
constexpr double kTwoPi = 6.283185307179586;

int64_t NextPowerOfTwo(int64_t n) {
  int64_t power = 1;
  while (power < n)
    power *= 2;
  return power;
}

// Vertex offset in [-0.5, 0.5] of the parabola through (-1, left), (0, centre),
// (1, right); 0 when the points do not form a maximum.
double ParabolicOffset(double left, double centre, double right) {
  const double curvature = left - 2.0 * centre + right;
  if (!(curvature < 0.0)) return 0.0;
  return std::clamp(0.5 * (left - right) / curvature, -0.5, 0.5);
}

// Row-major 2D FFT of a rows x cols complex grid, one axis at a time.
class Fft2d {
 public:
  Fft2d(int64_t rows, int64_t cols)
      : rows_(rows),
        cols_(cols),
        line_(static_cast<size_t>(std::max(rows, cols))),
        out_(line_.size()) {}

  void Forward(std::vector<Complex>* grid) { Transform(grid, true); }
  void Inverse(std::vector<Complex>* grid) { Transform(grid, false); }

 private:
  void Transform(std::vector<Complex>* grid, bool forward) {
    Complex* data = grid->data();
    for (int64_t r = 0; r < rows_; ++r) {
      Line(data + r * cols_, cols_, 1, forward);
    }
    if (rows_ == 1) return;
    for (int64_t c = 0; c < cols_; ++c) {
      Line(data + c, rows_, cols_, forward);
    }
  }

  void Line(Complex* start, int64_t count, int64_t stride, bool forward) {
    for (int64_t i = 0; i < count; ++i)
      line_[static_cast<size_t>(i)] = start[i * stride];
    if (forward) {
      fft_.fwd(out_.data(), line_.data(), count);
    } else {
      fft_.inv(out_.data(), line_.data(), count);
    }
    for (int64_t i = 0; i < count; ++i)
      start[i * stride] = out_[static_cast<size_t>(i)];
  }

  int64_t rows_;
  int64_t cols_;
  Eigen::FFT<double> fft_;
  std::vector<Complex> line_;  // one row or column, input
  std::vector<Complex> out_;   // one row or column, output
};

// Sample geometry: channels of rows x cols values (rows = 1 for 1D).
struct Geometry {
  int64_t channels = 1;
  int64_t rows = 1;
  int64_t cols = 1;
  int64_t size() const { return channels * rows * cols; }
};

Geometry ReadGeometry(const Batch& batch, const std::vector<int64_t>& shape) {
  if (shape.size() != 2 && shape.size() != 3) {
    Fail(ErrorCode::kInvalidInput,
         "scale estimate needs samples of shape {{C, W}} or {{C, H, W}}, got {} axes",
         shape.size());
  }
  Geometry g;
  g.channels = shape[0];
  g.rows = shape.size() == 3 ? shape[1] : 1;
  g.cols = shape.back();
  if (batch.size < 1 ||
      static_cast<int64_t>(batch.inputs.size()) != batch.size * g.size()) {
    Fail(ErrorCode::kInvalidInput,
         "scale estimate got {} samples and {} input values, expected at least one "
         "sample of {} values",
         batch.size, batch.inputs.size(), g.size());
  }
  return g;
}

// Per-lag sums over samples of the linear autocorrelation R_s and of R_s^2, on
// a grid zero-padded to at least twice the sample size so that lags do not wrap.
struct AutocorrelationStats {
  int64_t rows = 1;  // padded grid
  int64_t cols = 1;
  int64_t count = 0;
  std::vector<double> mean;     // E[R_s] per lag
  std::vector<double> squares;  // E[R_s^2] per lag

  double Mean(int64_t dy, int64_t dx) const { return mean[Index(dy, dx)]; }
  double Square(int64_t dy, int64_t dx) const { return squares[Index(dy, dx)]; }
  double StandardError(int64_t dy, int64_t dx) const {
    const double m = Mean(dy, dx);
    return std::sqrt(std::max(Square(dy, dx) - m * m, 0.0) / static_cast<double>(count));
  }
  size_t Index(int64_t dy, int64_t dx) const {
    const int64_t y = ((dy % rows) + rows) % rows;
    const int64_t x = ((dx % cols) + cols) % cols;
    return static_cast<size_t>(y * cols + x);
  }
};

AutocorrelationStats ComputeAutocorrelation(const Batch& batch, const Geometry& g) {
  AutocorrelationStats stats;
  stats.rows = g.rows == 1 ? 1 : NextPowerOfTwo(2 * g.rows);
  stats.cols = NextPowerOfTwo(2 * g.cols);
  stats.count = batch.size;
  const auto cells = static_cast<size_t>(stats.rows * stats.cols);
  stats.mean.assign(cells, 0.0);
  stats.squares.assign(cells, 0.0);
  Fft2d fft(stats.rows, stats.cols);
  std::vector<Complex> grid(cells);
  std::vector<double> sample_r(cells);
  const int64_t plane = g.rows * g.cols;

  // The mean is taken per channel over the whole batch: a per-sample mean
  // would bias R by about -R(0) / plane at every lag.
  std::vector<double> channel_means(static_cast<size_t>(g.channels), 0.0);
  for (int64_t s = 0; s < batch.size; ++s) {
    for (int64_t c = 0; c < g.channels; ++c) {
      const float* x = batch.inputs.data() + (s * g.channels + c) * plane;
      for (int64_t i = 0; i < plane; ++i)
        channel_means[static_cast<size_t>(c)] += x[i];
    }
  }
  for (double& mean : channel_means)
    mean /= static_cast<double>(batch.size * plane);

  for (int64_t s = 0; s < batch.size; ++s) {
    std::fill(sample_r.begin(), sample_r.end(), 0.0);
    for (int64_t c = 0; c < g.channels; ++c) {
      const float* x = batch.inputs.data() + (s * g.channels + c) * plane;
      const double mean = channel_means[static_cast<size_t>(c)];

      // R = IFFT(|FFT(x - mean)|^2) on the padded grid.
      std::fill(grid.begin(), grid.end(), Complex(0.0, 0.0));
      for (int64_t r = 0; r < g.rows; ++r) {
        for (int64_t q = 0; q < g.cols; ++q) {
          grid[static_cast<size_t>(r * stats.cols + q)] = x[r * g.cols + q] - mean;
        }
      }
      fft.Forward(&grid);
      for (Complex& value : grid)
        value = std::norm(value);
      fft.Inverse(&grid);
      for (size_t i = 0; i < cells; ++i)
        sample_r[i] += grid[i].real();
    }
    for (size_t i = 0; i < cells; ++i) {
      stats.mean[i] += sample_r[i];
      stats.squares[i] += sample_r[i] * sample_r[i];
    }
  }
  for (size_t i = 0; i < cells; ++i) {
    stats.mean[i] /= static_cast<double>(batch.size);
    stats.squares[i] /= static_cast<double>(batch.size);
  }
  return stats;
}

// Mean autocorrelation along the axes (the average of both axes in 2D), with
// standard errors, for lags 0 .. min(rows, cols) - 1 (cols in 1D).
struct Profile {
  std::vector<double> value;
  std::vector<double> error;
};

Profile AxisProfile(const AutocorrelationStats& stats, const Geometry& g) {
  Profile profile;
  const int64_t lags = g.rows == 1 ? g.cols : std::min(g.rows, g.cols);
  for (int64_t tau = 0; tau < lags; ++tau) {
    if (g.rows == 1) {
      profile.value.push_back(stats.Mean(0, tau));
      profile.error.push_back(stats.StandardError(0, tau));
    } else {
      profile.value.push_back(0.5 * (stats.Mean(tau, 0) + stats.Mean(0, tau)));
      profile.error.push_back(
          0.5 * (stats.StandardError(tau, 0) + stats.StandardError(0, tau)));
    }
  }
  return profile;
}

// lambda_min from the central lobe of the mean autocorrelation profile.
double FeatureExtent(const Profile& profile) {
  const std::vector<double>& r = profile.value;
  const auto lags = static_cast<int64_t>(r.size());
  auto near_zero = [&](int64_t tau) {
    if (tau >= lags) return true;
    const double band =
        std::max(kNearZeroFraction * std::fabs(r[0]),
                 kNearZeroSigmas * profile.error[static_cast<size_t>(tau)]);
    return std::fabs(r[static_cast<size_t>(tau)]) <= band;
  };

  // The lobe ends at the first of two consecutive zero lags; one zero lag can
  // be a crossing inside the lobe.
  int64_t end = 1;
  while (end < lags && !(near_zero(end) && near_zero(end + 1)))
    ++end;
  if (end == 1) return 1.0;

  // With a negative side lobe, the extent is where R rises back through zero
  // after the lobe's minimum (linear interpolation between lags).
  int64_t lowest = 1;
  for (int64_t tau = 1; tau < end; ++tau) {
    if (r[static_cast<size_t>(tau)] < r[static_cast<size_t>(lowest)]) lowest = tau;
  }
  if (r[static_cast<size_t>(lowest)] >= 0.0 || near_zero(lowest)) {
    return static_cast<double>(end);
  }
  // The side lobe ends at the first lag within kSideLobeEnd of zero, relative
  // to its depth. Correlations between neighbouring features can keep R
  // slightly negative beyond it.
  const double side_lobe_end = kSideLobeEnd * std::fabs(r[static_cast<size_t>(lowest)]);
  int64_t rise = lowest + 1;
  while (rise < lags && r[static_cast<size_t>(rise)] < -side_lobe_end && !near_zero(rise))
    ++rise;
  if (rise >= lags) return static_cast<double>(lags);
  const double before = r[static_cast<size_t>(rise - 1)];
  const double after = r[static_cast<size_t>(rise)];
  if (!(after > before)) return static_cast<double>(rise);
  const double crossing = static_cast<double>(rise - 1) - before / (after - before);
  return std::clamp(crossing, static_cast<double>(rise - 1),
                    static_cast<double>(rise + 1));
}

// tau* and the contrast of S over lags of Chebyshev length >= start.
struct PairPeak {
  double lag = 0.0;
  double contrast = 0.0;
};

PairPeak FindPairPeak(const AutocorrelationStats& stats, const Geometry& g,
                      int64_t start) {
  PairPeak peak;
  std::vector<double> searched;
  double best = -1.0;
  for (int64_t dy = 0; dy < g.rows; ++dy) {
    // S(-tau) = S(tau), so half of the lags suffice: dy >= 0, any dx.
    for (int64_t dx = -(g.cols - 1); dx < g.cols; ++dx) {
      if (std::max(dy, std::abs(dx)) < start) continue;
      if (dy == 0 && dx < 0) continue;
      searched.push_back(stats.Square(dy, dx));
      best = std::max(best, searched.back());
    }
  }
  if (searched.empty()) return peak;

  // tau* is the shortest lag within kPeakTieFraction of the maximum: sums of
  // pair lags can tie with the pair lag itself (in multiscale1d with no free
  // space, the lag 2 * (lambda_max - lambda_min) + 1 between the pairs does).
  int64_t best_dy = 0;
  int64_t best_dx = 0;
  int64_t best_length = -1;
  double best_value = 0.0;
  for (int64_t dy = 0; dy < g.rows; ++dy) {
    for (int64_t dx = -(g.cols - 1); dx < g.cols; ++dx) {
      const int64_t length = std::max(dy, std::abs(dx));
      if (length < start || (dy == 0 && dx < 0)) continue;
      const double value = stats.Square(dy, dx);
      if (value < kPeakTieFraction * best) continue;
      if (best_length < 0 || length < best_length ||
          (length == best_length && value > best_value)) {
        best_length = length;
        best_value = value;
        best_dy = dy;
        best_dx = dx;
      }
    }
  }

  // Refine along the axis that sets the Chebyshev length.
  const bool along_rows = best_dy > std::abs(best_dx);
  const int64_t length = along_rows ? best_dy : std::abs(best_dx);
  const int64_t sign = along_rows || best_dx >= 0 ? 1 : -1;
  auto at = [&](int64_t step) {
    return along_rows ? stats.Square(best_dy + step, best_dx)
                      : stats.Square(best_dy, best_dx + sign * step);
  };
  const int64_t limit = along_rows ? g.rows : g.cols;
  double offset = 0.0;
  if (length + 1 < limit && length - 1 >= start)
    offset = ParabolicOffset(at(-1), at(0), at(1));
  peak.lag = static_cast<double>(length) + offset;

  const auto middle = searched.begin() + static_cast<std::ptrdiff_t>(searched.size() / 2);
  std::nth_element(searched.begin(), middle, searched.end());
  peak.contrast = *middle > 0.0 ? best_value / *middle : 0.0;
  return peak;
}

ScaleEstimate EstimateFeatures(const Batch& batch, const Geometry& g) {
  const AutocorrelationStats stats = ComputeAutocorrelation(batch, g);
  ScaleEstimate estimate;
  estimate.method = ScaleMethod::kFeatures;
  estimate.samples = batch.size;
  estimate.lambda_min = FeatureExtent(AxisProfile(stats, g));
  const auto start = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(kPairSearchStart * estimate.lambda_min)));
  const PairPeak peak = FindPairPeak(stats, g, start);
  if (peak.contrast > 0.0) {
    // A span cannot exceed the input; it would when a feature's lobe reaches
    // across the whole input (as in fashion_mnist).
    const auto extent = static_cast<double>(std::max(g.rows, g.cols));
    estimate.lambda_max = std::min(peak.lag + estimate.lambda_min, extent);
    estimate.contrast = peak.contrast;
  }
  return estimate;
}

// Mean power spectrum of Hann-windowed, mean-removed 1D inputs, bins 0..N/2.
std::vector<double> MeanPowerSpectrum(const Batch& batch, const Geometry& g,
                                      int64_t padded) {
  Eigen::FFT<double> fft;
  std::vector<double> window(static_cast<size_t>(g.cols));
  for (int64_t t = 0; t < g.cols; ++t) {
    window[static_cast<size_t>(t)] =
        0.5 - 0.5 * std::cos(kTwoPi * static_cast<double>(t) /
                             static_cast<double>(std::max<int64_t>(g.cols - 1, 1)));
  }
  std::vector<double> power(static_cast<size_t>(padded / 2 + 1), 0.0);
  std::vector<double> series(static_cast<size_t>(padded));
  std::vector<Complex> spectrum;
  for (int64_t row = 0; row < batch.size * g.channels; ++row) {
    const float* x = batch.inputs.data() + row * g.cols;
    double mean = 0.0;
    for (int64_t t = 0; t < g.cols; ++t)
      mean += x[t];
    mean /= static_cast<double>(g.cols);
    std::fill(series.begin(), series.end(), 0.0);
    for (int64_t t = 0; t < g.cols; ++t) {
      series[static_cast<size_t>(t)] = (x[t] - mean) * window[static_cast<size_t>(t)];
    }
    fft.fwd(spectrum, series);
    for (size_t k = 0; k < power.size(); ++k)
      power[k] += std::norm(spectrum[k]);
  }
  for (double& value : power)
    value /= static_cast<double>(batch.size);
  return power;
}

ScaleEstimate EstimatePeriods(const Batch& batch, const Geometry& g) {
  if (g.rows != 1) {
    Fail(ErrorCode::kInvalidInput,
         "scale method \"periods\" needs 1D inputs, got {}x{} samples: use "
         "\"features\"",
         g.rows, g.cols);
  }
  const int64_t padded = NextPowerOfTwo(kSpectrumPadding * g.cols);
  const std::vector<double> power = MeanPowerSpectrum(batch, g, padded);
  ScaleEstimate estimate;
  estimate.method = ScaleMethod::kPeriods;
  estimate.samples = batch.size;

  // Local maxima at periods up to the input length (frequency >= 1 / W).
  const int64_t first = std::max<int64_t>(1, (padded + g.cols - 1) / g.cols);
  const auto last = static_cast<int64_t>(power.size()) - 2;
  std::vector<int64_t> maxima;
  double largest = 0.0;
  for (int64_t k = first; k <= last; ++k) {
    const auto i = static_cast<size_t>(k);
    if (power[i] > power[i - 1] && power[i] >= power[i + 1]) {
      maxima.push_back(k);
      largest = std::max(largest, power[i]);
    }
  }
  double weakest = largest;
  for (int64_t k : maxima) {
    const auto i = static_cast<size_t>(k);
    if (power[i] < kPeakPowerFraction * largest) continue;
    const double offset = ParabolicOffset(std::log(power[i - 1]), std::log(power[i]),
                                          std::log(power[i + 1]));
    estimate.periods.push_back(static_cast<double>(padded) /
                               (static_cast<double>(k) + offset));
    weakest = std::min(weakest, power[i]);
  }
  if (estimate.periods.empty()) return estimate;
  std::sort(estimate.periods.begin(), estimate.periods.end());
  estimate.lambda_min = estimate.periods.front();
  estimate.lambda_max = estimate.periods.back();
  estimate.contrast = weakest / largest;
  return estimate;
}

}  // namespace

ScaleMethod ParseScaleMethod(const std::string& name) {
  if (name == "auto") return ScaleMethod::kAuto;
  if (name == "features") return ScaleMethod::kFeatures;
  if (name == "periods") return ScaleMethod::kPeriods;
  Fail(ErrorCode::kInvalidInput,
       "scale method \"{}\" is invalid: expected \"auto\", \"features\" or \"periods\"",
       name);
}

const char* ScaleMethodName(ScaleMethod method) {
  switch (method) {
    case ScaleMethod::kAuto:
      return "auto";
    case ScaleMethod::kFeatures:
      return "features";
    case ScaleMethod::kPeriods:
      return "periods";
  }
  return "unknown";
}

ScaleEstimate EstimateScales(const Batch& batch, const std::vector<int64_t>& sample_shape,
                             ScaleMethod method) {
  const Geometry geometry = ReadGeometry(batch, sample_shape);
  switch (method) {
    case ScaleMethod::kFeatures:
      return EstimateFeatures(batch, geometry);
    case ScaleMethod::kPeriods:
      return EstimatePeriods(batch, geometry);
    case ScaleMethod::kAuto:
      break;
  }
  Fail(ErrorCode::kInvalidInput,
       "scale method \"auto\" needs a task to resolve it: call EstimateTaskScales or "
       "pass \"features\" or \"periods\"");
}

ScaleEstimate EstimateTaskScales(Task& task, int64_t samples, ScaleMethod method) {
  if (samples < 1) {
    Fail(ErrorCode::kInvalidInput,
         "scale estimate samples = {} is invalid: expected >= 1", samples);
  }
  if (method == ScaleMethod::kAuto) {
    method = task.target_kind() == TargetKind::kRegression ? ScaleMethod::kPeriods
                                                           : ScaleMethod::kFeatures;
  }
  Batch batch;
  task.TrainBatch(0, samples, &batch);
  return EstimateScales(batch, task.sample_shape(), method);
}

}  // namespace scalelock
