// Unusable database files (newer schema, not SQLite, corrupt, foreign
// tables) are rejected and left byte-identical. A new empty SQLite file gets
// the schema, and --shard partitions the grid.
#include <catch2/catch.hpp>
#include <set>

#include "fault/fault_support.h"

using fault::Db;
using scalelock_test::ReadFile;
using scalelock_test::RunCli;
using scalelock_test::TempDir;

namespace {

void Exec(const std::string& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error);
  INFO(sql << ": " << (error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(handle);
  REQUIRE(rc == SQLITE_OK);
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Runs the fault grid on db and expects exit 5, a message containing
// expected and the file unchanged.
void ExpectRejected(const std::string& spec, const std::string& db,
                    const std::string& expected) {
  std::string before = ReadFile(db);
  auto result = RunCli("run " + spec + " --db " + db);
  INFO(result.output);
  CHECK(result.status == 5);
  CHECK_THAT(result.output, Catch::Contains(expected));
  CHECK(ReadFile(db) == before);
  CHECK_FALSE(std::filesystem::exists(db + "-wal"));
}

std::set<std::string> Hashes(const std::string& db) {
  std::set<std::string> hashes;
  for (const auto& row : Db(db).Rows("SELECT config_hash FROM runs"))
    hashes.insert(row[0]);
  return hashes;
}

}  // namespace

TEST_CASE("database newer schema rejected") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli("run " + spec + " --db " + db).status == 0);
  Exec(db,
       "PRAGMA journal_mode = DELETE; "
       "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  ExpectRejected(spec, db, "schema version 99, newer than");
}

TEST_CASE("database not SQLite rejected") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.Write("notes.sqlite", "experiment notes, not a database\n");
  ExpectRejected(spec, db, "is not an SQLite database");
}

TEST_CASE("database foreign tables rejected") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("other.sqlite");
  Exec(db,
       "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); "
       "INSERT INTO customers(name) VALUES ('a')");
  ExpectRejected(spec, db, "not a scalelock results database");
}

TEST_CASE("database corrupt page rejected") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli("run " + spec + " --db " + db).status == 0);
  Exec(db, "PRAGMA journal_mode = DELETE");
  std::string bytes = ReadFile(db);
  REQUIRE(bytes.size() > 4 * 4096);
  // Overwrite the middle of page 3 (a b-tree page) with garbage.
  for (size_t i = 2 * 4096 + 8; i < 2 * 4096 + 2048; ++i)
    bytes[i] = static_cast<char>(0xA5);
  WriteBytes(db, bytes);
  ExpectRejected(spec, db, "malformed");
}

TEST_CASE("database empty SQLite file migrated") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("empty.sqlite");
  Exec(db, "PRAGMA user_version = 7; VACUUM");  // a valid SQLite file without tables
  REQUIRE(std::filesystem::file_size(db) > 0);

  auto result = RunCli("run " + spec + " --db " + db);
  INFO(result.output);
  REQUIRE(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("from schema version 0"));
  CHECK(Db(db).Int("SELECT count(*) FROM runs WHERE status = 'finished'") == 4);
  CHECK(Db(db).Text("PRAGMA integrity_check") == "ok");
}

// SQL that turns a current (version 2) database back into the version 1
// layout: no run_erf table, no effective_padding or depth_requirement_met.
const char* kDowngradeToV1 =
    "PRAGMA journal_mode = DELETE; "
    "DROP VIEW run_summary; DROP TABLE run_erf; "
    "ALTER TABLE runs DROP COLUMN effective_padding; "
    "ALTER TABLE runs DROP COLUMN depth_requirement_met; "
    "CREATE VIEW run_summary AS SELECT run_id FROM runs; "
    "UPDATE meta SET value = '1' WHERE key = 'schema_version'";

TEST_CASE("database version 1 migrated") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli("run " + spec + " --db " + db).status == 0);
  Exec(db, kDowngradeToV1);

  auto result = RunCli("run " + spec + " --db " + db);
  INFO(result.output);
  REQUIRE(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("from schema version 1 to 2"));
  CHECK_THAT(result.output, Catch::Contains("0 runs to train (4 already ended)"));
  Db check(db);
  CHECK(check.Text("SELECT value FROM meta WHERE key = 'schema_version'") == "2");
  CHECK(check.Int("SELECT count(*) FROM pragma_table_info('runs') "
                  "WHERE name = 'effective_padding'") == 1);
  CHECK(check.Int("SELECT count(*) FROM run_summary WHERE erf IS NULL") == 4);
  CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'finished'") == 4);
  CHECK(check.Text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("database failed migration rolled back") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  REQUIRE(RunCli("run " + spec + " --db " + db).status == 0);
  // A table in the way makes the version 2 step fail after its ALTER TABLEs.
  Exec(db, std::string(kDowngradeToV1) + "; CREATE TABLE run_erf(note TEXT)");

  auto result = RunCli("run " + spec + " --db " + db);
  INFO(result.output);
  CHECK(result.status == 5);
  CHECK_THAT(result.output, Catch::Contains("run_erf"));
  Db check(db);
  CHECK(check.Text("SELECT value FROM meta WHERE key = 'schema_version'") == "1");
  CHECK(check.Int("SELECT count(*) FROM pragma_table_info('runs') "
                  "WHERE name = 'effective_padding'") == 0);
  CHECK(check.Int("SELECT count(*) FROM runs WHERE status = 'finished'") == 4);
  CHECK(check.Text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("shard partition covers grid once") {
  TempDir dir;
  nlohmann::json spec_json = nlohmann::json::parse(fault::kGridSpec);
  spec_json["seeds"] = {0, 1, 2};
  spec_json["training"]["steps"] = 20;
  spec_json["training"]["eval_every"] = 10;
  std::string spec = dir.Write("grid.json", spec_json.dump());
  REQUIRE(RunCli("run " + spec + " --db " + dir.File("full.sqlite")).status == 0);
  std::set<std::string> full = Hashes(dir.File("full.sqlite"));
  REQUIRE(full.size() == 12);

  std::set<std::string> seen;
  size_t total = 0;
  for (int shard = 0; shard < 5; ++shard) {
    std::string db = dir.File("shard-" + std::to_string(shard) + ".sqlite");
    auto result = RunCli("run " + spec + " --db " + db + " --shard " +
                         std::to_string(shard) + "/5");
    INFO(result.output);
    REQUIRE(result.status == 0);
    std::set<std::string> hashes = Hashes(db);
    CHECK_FALSE(hashes.empty());
    total += hashes.size();
    seen.insert(hashes.begin(), hashes.end());
  }
  CHECK(total == full.size());  // disjoint
  CHECK(seen == full);          // complete

  // Merging the shards gives the grid of the unsharded run.
  std::string shards;
  for (int shard = 0; shard < 5; ++shard) {
    shards += " " + dir.File("shard-" + std::to_string(shard) + ".sqlite");
  }
  auto merge = RunCli("merge " + dir.File("merged.sqlite") + " --spec " + spec + shards);
  INFO(merge.output);
  CHECK(merge.status == 0);
  CHECK_THAT(merge.output, Catch::Contains("complete: all 12 runs"));
  CHECK(Hashes(dir.File("merged.sqlite")) == full);
  auto again = RunCli("merge " + dir.File("merged.sqlite") + shards);
  CHECK(again.status == 0);
  CHECK(Db(dir.File("merged.sqlite")).Int("SELECT count(*) FROM runs") == 12);
}

TEST_CASE("merge incomplete grid exits 1") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("shard-0.sqlite");
  REQUIRE(RunCli("run " + spec + " --db " + db + " --shard 0/2").status == 0);
  auto merge =
      RunCli("merge " + dir.File("merged.sqlite") + " --spec " + spec + " " + db);
  INFO(merge.output);
  CHECK(merge.status == 1);
  CHECK_THAT(merge.output, Catch::Contains("incomplete: 2 of 4 runs"));
  CHECK_THAT(merge.output, Catch::Contains("missing"));
}
