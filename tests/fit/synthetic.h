// Synthetic points with known parameters for the fit tests.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "fit/lock.h"
#include "fit/scaling.h"

namespace scalelock::testing {

// count values log-spaced over [low, high].
inline std::vector<double> LogSpace(double low, double high, int count) {
  std::vector<double> values;
  for (int i = 0; i < count; ++i) {
    values.push_back(low * std::pow(high / low, i / static_cast<double>(count - 1)));
  }
  return values;
}

// Points of form with values, each loss multiplied by exp(noise * N(0, 1)).
inline std::vector<ScalingPoint> NoisyPoints(Form form, const std::vector<double>& values,
                                             const std::vector<ScalingPoint>& at,
                                             double noise, unsigned seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<ScalingPoint> points = at;
  for (size_t i = 0; i < points.size(); ++i) {
    points[i].loss =
        PredictLoss(form, values, points[i]) * std::exp(noise * normal(engine));
    points[i].group = "p" + std::to_string(i);
  }
  return points;
}

inline std::vector<ScalingPoint> AtX(const std::vector<double>& xs) {
  std::vector<ScalingPoint> points;
  for (double x : xs) {
    ScalingPoint p;
    p.x = x;
    points.push_back(p);
  }
  return points;
}

// Accuracy of the lock logistic at ratio r.
inline double LogisticAccuracy(double r, double r_star, double slope, double ceiling) {
  return ceiling +
         (1.0 - ceiling) / (1.0 + std::exp(slope * (std::log(r) - std::log(r_star))));
}

// seeds runs per ratio of a logistic lock with additive accuracy noise; each
// ratio is one config (group "r=<ratio>").
inline std::vector<LockPoint> LockRuns(const std::vector<double>& ratios, double r_star,
                                       double slope, double noise, int seeds,
                                       unsigned seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, noise);
  std::vector<LockPoint> points;
  int64_t run_id = 1;
  for (double r : ratios) {
    for (int s = 0; s < seeds; ++s) {
      const double accuracy = LogisticAccuracy(r, r_star, slope, 0.5) + normal(engine);
      points.push_back(
          {r, std::clamp(accuracy, 0.0, 1.0), "r=" + std::to_string(r), run_id++});
    }
  }
  return points;
}

}  // namespace scalelock::testing
