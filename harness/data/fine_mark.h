// The fine mark shared by the multi-scale tasks: a single cycle of a square
// wave, lambda_min samples long.
#pragma once

#include <cstdint>

namespace scalelock {

// Sign (+1 or -1) of sample j in [0, lambda_min) of a mark of polarity +1: +1 on
// the first ceil(lambda_min / 2) samples and -1 on the rest. For lambda_min = 1
// the mark is the single value +1.
inline int FineMarkSign(int64_t j, int64_t lambda_min) {
  return j < (lambda_min + 1) / 2 ? 1 : -1;
}

}  // namespace scalelock
