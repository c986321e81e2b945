// Lock analysis of database runs: one curve per (family, RF) and the cross-RF
// regressions per family.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fit/lock.h"
#include "fit/runs.h"

namespace scalelock {

struct FamilyRegressions {
  std::string family;
  ThresholdRegression rf;
  ThresholdRegression erf;  // status "skipped: no erf column" when absent
  std::string better;       // "rf", "erf" or "" when they cannot be compared
};

struct LockReport {
  LockOptions options;
  bool has_erf = false;
  std::vector<LockCurve> curves;  // sorted by family, then RF
  std::vector<FamilyRegressions> families;
};

// Fits every (family, RF) of the rows that have a scale ratio and an eval
// accuracy. Throws Error(kInvalidInput) when no row has both (not a multiscale
// experiment).
LockReport AnalyzeLock(const std::vector<RunRow>& rows, bool has_erf,
                       const LockOptions& options);

// JSON of one curve, used in the report and stored per (family, RF).
nlohmann::json CurveToJson(const LockCurve& curve);
nlohmann::json RegressionsToJson(const FamilyRegressions& regressions);
nlohmann::json LockReportToJson(const LockReport& report);

}  // namespace scalelock
