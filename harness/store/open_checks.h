// Checks made on a database path before SQLite writes to it. Each throws
// Error(kDatabase) naming the path and leaves the file untouched.
#pragma once

#include <string>

namespace scalelock {

// Rejects a non-empty file whose first 16 bytes are not the SQLite header,
// and a path that is a folder. A missing or empty file passes.
void CheckSqliteHeader(const std::string& path);

// Rejects a path on NFS, SMB or CIFS. SQLite's WAL mode keeps its index in
// shared memory, which only works when every process is on one host.
void CheckLocalFileSystem(const std::string& path);

}  // namespace scalelock
