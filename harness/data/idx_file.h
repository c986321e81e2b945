// Reader for gzipped IDX files (the MNIST and Fashion-MNIST format) and a
// process-wide cache of loaded files.
//
// IDX layout (big-endian): magic 0x00000803 for uint8 images with dimensions
// count, rows, cols; 0x00000801 for uint8 labels with dimension count; then
// the data bytes, nothing after them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace scalelock {

struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols, row-major per image
};

struct IdxLabels {
  std::vector<uint8_t> labels;  // one per image
};

// Reads a gzipped (or plain, zlib reads both) IDX image or label file.
// Throws Error(kNotFound) for a missing file, Error(kIO) for a read failure
// and Error(kInvalidInput) for a wrong magic number or a truncated or
// oversized file; every message names the path.
IdxImages ReadIdxImages(const std::string& path);
IdxLabels ReadIdxLabels(const std::string& path);

// Returns the file at path, reading it on first use. The cache lives for the
// process and is keyed by the path string. Thread-safe: concurrent callers
// for the same path read it once.
std::shared_ptr<const IdxImages> CachedIdxImages(const std::string& path);
std::shared_ptr<const IdxLabels> CachedIdxLabels(const std::string& path);

}  // namespace scalelock
