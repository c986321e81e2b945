// Helpers for tests that use real SQLite files: a temporary folder removed on
// scope exit, run records and raw file access.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>

#include "store/store.h"

namespace scalelock::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device device;
    path_ =
        std::filesystem::temp_directory_path() /
        ("scalelock_test_" + std::to_string(getpid()) + "_" + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string ReadBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary);
  file << bytes;
}

// A dilated-CNN run record whose fields derive from the seed and width.
inline RunRecord MakeRecord(int64_t seed, int64_t width = 16,
                            std::string family = "dilated") {
  RunRecord record;
  record.config = {{"seed", seed}, {"width", width}, {"family", family}};
  record.config_hash = family + "-" + std::to_string(width) + "-" + std::to_string(seed);
  record.family = std::move(family);
  record.task = "scales1d";
  record.width = width;
  record.depth = 4;
  record.kernel = 3;
  record.dilation = 2;
  record.receptive_field = 31;
  record.effective_stride = 1;
  record.params = 1000 * width;
  record.flops = 1.0e9 * static_cast<double>(width);
  record.train_samples = 4096;
  record.seed = seed;
  record.lambda_min = 2.0;
  record.lambda_max = 16.0;
  return record;
}

}  // namespace scalelock::testing
