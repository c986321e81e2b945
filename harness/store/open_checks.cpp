#include "store/open_checks.h"

#include <spdlog/spdlog.h>
#include <sys/statfs.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace scalelock {
namespace {

namespace fs = std::filesystem;

// f_type values from statfs(2) and <linux/magic.h>.
constexpr int64_t kNfsMagic = 0x6969;
constexpr int64_t kSmbMagic = 0x517B;
constexpr int64_t kCifsMagic = 0xFF534D42;
constexpr int64_t kSmb2Magic = 0xFE534D42;
constexpr int64_t kFuseMagic = 0x65735546;

const char* NetworkFileSystemName(int64_t type) {
  switch (type) {
    case kNfsMagic:
      return "NFS";
    case kSmbMagic:
      return "SMB";
    case kCifsMagic:
      return "CIFS";
    case kSmb2Magic:
      return "SMB2";
    default:
      return nullptr;
  }
}

// The path itself when it exists, else its nearest existing ancestor.
fs::path NearestExisting(fs::path path) {
  std::error_code error;
  path = fs::absolute(path, error);
  while (!path.empty() && !fs::exists(path, error)) {
    if (path == path.parent_path()) break;
    path = path.parent_path();
  }
  return path;
}

}  // namespace

void CheckSqliteHeader(const std::string& path) {
  std::error_code error;
  fs::file_status status = fs::status(path, error);
  if (!fs::exists(status)) return;
  if (fs::is_directory(status)) {
    Fail(ErrorCode::kDatabase,
         "'{}' is a folder, not an SQLite database; pass --db with a file path", path);
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    Fail(ErrorCode::kDatabase, "reading '{}' failed: {}; check its permissions", path,
         std::strerror(errno));
  }
  std::array<char, 16> header{};
  file.read(header.data(), header.size());
  std::streamsize size = file.gcount();
  if (size == 0) return;
  static constexpr char kMagic[16] = "SQLite format 3";  // with its trailing NUL
  if (size < 16 || std::memcmp(header.data(), kMagic, 16) != 0) {
    Fail(ErrorCode::kDatabase,
         "'{}' is not an SQLite database; pass --db with a new path", path);
  }
}

void CheckLocalFileSystem(const std::string& path) {
  fs::path existing = NearestExisting(path);
  struct statfs info {};
  if (statfs(existing.c_str(), &info) != 0) {
    spdlog::warn("statfs('{}') failed: {}; cannot check the file system type",
                 existing.string(), std::strerror(errno));
    return;
  }
  int64_t type = static_cast<int64_t>(static_cast<uint32_t>(info.f_type));
  if (const char* name = NetworkFileSystemName(type)) {
    Fail(ErrorCode::kDatabase,
         "'{}' is on a network file system ({}); SQLite WAL mode needs shared memory "
         "on one host, so put the database on a local disk and pass its path with --db",
         path, name);
  }
  if (type == kFuseMagic) {
    spdlog::warn(
        "'{}' is on a FUSE file system; if it is a network mount (sshfs, "
        "s3fs), concurrent writers may corrupt the WAL index",
        path);
  }
}

}  // namespace scalelock
