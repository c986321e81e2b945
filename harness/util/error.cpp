#include "util/error.h"

namespace scalelock {

int ExitStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kIO: return 4;
    case ErrorCode::kDatabase: return 5;
    case ErrorCode::kInterrupted: return 130;
    case ErrorCode::kInternal: return 1;
  }
  return 1;
}

}  // namespace scalelock
