#include "data/idx_file.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "util/error.h"

namespace scalelock {

namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int64_t kMaxItems = int64_t{1} << 26;   // per dimension
constexpr int64_t kMaxPixels = int64_t{1} << 32;  // per file

// Open gzip stream that names its path in every error.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path) {
    struct stat info;
    if (stat(path.c_str(), &info) != 0) {
      Fail(ErrorCode::kNotFound,
           "IDX file {} not found ({}): install the Debian package "
           "dataset-fashion-mnist or set task.data_dir to a folder with the files",
           path, std::strerror(errno));
    }
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr) {
      Fail(ErrorCode::kIO, "failed to open IDX file {}: {}", path, std::strerror(errno));
    }
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads exactly size bytes. part names them in the error message.
  void ReadExactly(void* data, int64_t size, const char* part) {
    auto* bytes = static_cast<uint8_t*>(data);
    int64_t done = 0;
    while (done < size) {
      const auto chunk = static_cast<unsigned>(std::min<int64_t>(size - done, 1 << 30));
      const int got = gzread(file_, bytes + done, chunk);
      if (got < 0) FailRead();
      if (got == 0) {
        Fail(ErrorCode::kInvalidInput,
             "IDX file {} is truncated: {} has {} of {} bytes; the file is damaged, "
             "reinstall it",
             path_, part, done, size);
      }
      done += got;
    }
  }

  uint32_t ReadBigEndian32(const char* part) {
    uint8_t bytes[4];
    ReadExactly(bytes, 4, part);
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
           (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
  }

  void ExpectEnd() {
    uint8_t extra = 0;
    const int got = gzread(file_, &extra, 1);
    if (got < 0) FailRead();
    if (got > 0) {
      Fail(ErrorCode::kInvalidInput,
           "IDX file {} has data after the size its header declares; the file is "
           "damaged or not an IDX file",
           path_);
    }
  }

  void ExpectMagic(uint32_t expected, const char* kind) {
    const uint32_t magic = ReadBigEndian32("the magic number");
    if (magic != expected) {
      Fail(ErrorCode::kInvalidInput,
           "IDX file {} has magic number 0x{:08x}, expected 0x{:08x} for {}", path_,
           magic, expected, kind);
    }
  }

  int64_t ReadDimension(const char* part) {
    const uint32_t value = ReadBigEndian32(part);
    if (value == 0 || value > kMaxItems) {
      Fail(ErrorCode::kInvalidInput, "IDX file {} has {} = {}, expected 1..{}", path_,
           part, value, kMaxItems);
    }
    return value;
  }

 private:
  [[noreturn]] void FailRead() {
    int code = 0;
    const char* message = gzerror(file_, &code);
    Fail(ErrorCode::kIO, "failed to read IDX file {}: {}", path_,
         code == Z_ERRNO ? std::strerror(errno) : message);
  }

  std::string path_;
  gzFile file_ = nullptr;
};

template <typename T>
std::shared_ptr<const T> Cached(const std::string& path, T (*read)(const std::string&)) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const T>> cache;
  // Loading under the lock makes concurrent callers of one path wait for the
  // single read instead of reading the file again.
  std::lock_guard<std::mutex> lock(mutex);
  auto found = cache.find(path);
  if (found != cache.end()) return found->second;
  auto loaded = std::make_shared<const T>(read(path));
  cache.emplace(path, loaded);
  return loaded;
}

}  // namespace

IdxImages ReadIdxImages(const std::string& path) {
  GzReader reader(path);
  reader.ExpectMagic(kImagesMagic, "uint8 images with 3 dimensions");
  IdxImages images;
  images.count = reader.ReadDimension("the image count");
  images.rows = reader.ReadDimension("the row count");
  images.cols = reader.ReadDimension("the column count");
  const int64_t image_pixels = images.rows * images.cols;  // <= 2^52, no overflow
  if (image_pixels > kMaxPixels || images.count > kMaxPixels / image_pixels) {
    Fail(ErrorCode::kInvalidInput,
         "IDX file {} declares {} x {} x {} pixels, more than the {} this reader accepts",
         path, images.count, images.rows, images.cols, kMaxPixels);
  }
  images.pixels.resize(static_cast<size_t>(images.count * images.rows * images.cols));
  reader.ReadExactly(images.pixels.data(), static_cast<int64_t>(images.pixels.size()),
                     "the pixel data");
  reader.ExpectEnd();
  spdlog::debug("read IDX images {}: {} x {} x {}", path, images.count, images.rows,
                images.cols);
  return images;
}

IdxLabels ReadIdxLabels(const std::string& path) {
  GzReader reader(path);
  reader.ExpectMagic(kLabelsMagic, "uint8 labels with 1 dimension");
  IdxLabels labels;
  labels.labels.resize(static_cast<size_t>(reader.ReadDimension("the label count")));
  reader.ReadExactly(labels.labels.data(), static_cast<int64_t>(labels.labels.size()),
                     "the label data");
  reader.ExpectEnd();
  spdlog::debug("read IDX labels {}: {}", path, labels.labels.size());
  return labels;
}

std::shared_ptr<const IdxImages> CachedIdxImages(const std::string& path) {
  return Cached<IdxImages>(path, &ReadIdxImages);
}

std::shared_ptr<const IdxLabels> CachedIdxLabels(const std::string& path) {
  return Cached<IdxLabels>(path, &ReadIdxLabels);
}

}  // namespace scalelock
