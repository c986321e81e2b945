// Schema of the results database and its migrations.
//
// meta.schema_version records the version a file was written with. Version 0
// is a file without tables (a new database). Migrations run in order from the
// file's version to kSchemaVersion, all inside one transaction.
#pragma once

#include <cstdint>

struct sqlite3;

namespace scalelock {

inline constexpr int64_t kSchemaVersion = 2;

// Brings a database from version `from` to kSchemaVersion inside the write
// transaction that the caller owns. Throws Error(kDatabase) on failure.
void MigrateSchema(sqlite3* db, int64_t from);

}  // namespace scalelock
