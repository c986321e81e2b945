// The sbatch script writer: directives, array chunking, and the scripts run
// by bash with /bin/echo standing in for scalelock.
#include "dist/sbatch.h"

#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "dist/dist_testing.h"
#include "util/error.h"

using dist_testing::TempDir;
using scalelock::SlurmJobOptions;

namespace {

SlurmJobOptions Options(const std::string& dir) {
  SlurmJobOptions options;
  options.binary = "/bin/echo";
  options.spec = dir + "/my spec.json";
  options.db_dir = dir + "/shards";
  options.output_db = dir + "/merged.sqlite";
  options.job_name = "scalelock-test";
  options.shards = 4;
  options.throttle = 2;
  options.time_limit = "00:10:00";
  options.jobs = 2;
  options.threads_per_run = 3;
  return options;
}

// Runs a bash command line and returns its stdout.
std::string Shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 512> buffer;
  while (pipe != nullptr && fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
    output += buffer.data();
  }
  if (pipe != nullptr) pclose(pipe);
  return output;
}

bool Rejected(const SlurmJobOptions& options) {
  try {
    scalelock::ValidateSlurmJobOptions(options);
  } catch (const scalelock::Error& error) {
    return error.code() == scalelock::ErrorCode::kInvalidInput;
  }
  return false;
}

}  // namespace

TEST_CASE("sbatch array script directives") {
  TempDir dir;
  std::string script = scalelock::ArrayScript(Options(dir.path()));
  CHECK_THAT(script, Catch::StartsWith("#!/bin/bash\n"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --array=0-3%2\n"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --cpus-per-task=6\n"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --time=00:10:00\n"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --job-name=scalelock-test\n"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --output=" + dir.path() +
                                     "/shards/logs/scalelock-test-%A_%a.out\n"));
  CHECK_THAT(script, !Catch::Contains("--partition"));
}

TEST_CASE("sbatch array task runs its shard") {
  TempDir dir;
  SlurmJobOptions options = Options(dir.path());
  options.shards = 2500;
  std::ofstream(dir.File("array.sbatch")) << scalelock::ArrayScript(options);

  std::string output = Shell("SLURM_ARRAY_TASK_ID=7 SCALELOCK_SHARD_OFFSET=2000 bash " +
                             dir.File("array.sbatch"));
  CHECK(output ==
        "run " + dir.path() + "/my spec.json --shard 2007/2500 --db " + dir.path() +
            "/shards/shard-2007.sqlite --jobs 2 --threads-per-run 3 --stale-seconds 0\n");
  CHECK(Shell("bash " + dir.File("array.sbatch") + " 2>&1") ==
        "not an array task: submit this script with sbatch --array\n");
}

TEST_CASE("sbatch merge script lists shards") {
  TempDir dir;
  SlurmJobOptions options = Options(dir.path());
  std::filesystem::create_directories(dir.File("shards"));
  std::ofstream(dir.File("shards/shard-0.sqlite")) << "";
  std::ofstream(dir.File("shards/shard-1.sqlite")) << "";
  std::ofstream(dir.File("merge.sbatch")) << scalelock::MergeScript(options);

  std::string script = scalelock::MergeScript(options);
  CHECK_THAT(script, Catch::Contains("#SBATCH --cpus-per-task=1\n"));
  CHECK_THAT(script, Catch::Contains("#SBATCH --job-name=scalelock-test-merge\n"));
  CHECK(Shell("bash " + dir.File("merge.sbatch")) ==
        "merge " + dir.path() + "/merged.sqlite --spec " + dir.path() + "/my spec.json " +
            dir.path() + "/shards/shard-0.sqlite " + dir.path() +
            "/shards/shard-1.sqlite\n");
}

TEST_CASE("sbatch chunks above max array size") {
  TempDir dir;
  SlurmJobOptions options = Options(dir.path());
  options.shards = 2500;
  options.max_array_size = 1000;
  std::vector<scalelock::ArrayChunk> chunks = scalelock::SplitArrays(options);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks[0].first_shard == 0);
  CHECK(chunks[0].count == 1000);
  CHECK(chunks[2].first_shard == 2000);
  CHECK(chunks[2].count == 500);

  auto arguments = scalelock::ArraySubmitArguments(options);
  REQUIRE(arguments.size() == 3);
  CHECK(arguments[0][1] == "--array=0-999%2");
  CHECK(arguments[2][1] == "--array=0-499%2");
  CHECK(arguments[2][2] == "--export=ALL,SCALELOCK_SHARD_OFFSET=2000");
  CHECK_THAT(scalelock::ArrayScript(options),
             Catch::Contains("#SBATCH --array=0-999%2\n"));

  auto merge = scalelock::MergeSubmitArguments({"11", "12", "13"});
  CHECK(merge[1] == "--dependency=afterany:11:12:13");
}

TEST_CASE("sbatch exact max array size") {
  TempDir dir;
  SlurmJobOptions options = Options(dir.path());
  options.shards = 1001;
  options.max_array_size = 1001;
  options.throttle = 0;
  auto arguments = scalelock::ArraySubmitArguments(options);
  REQUIRE(arguments.size() == 1);
  CHECK(arguments[0][1] == "--array=0-1000");
}

TEST_CASE("sbatch options validated") {
  TempDir dir;
  SlurmJobOptions options = Options(dir.path());
  CHECK_FALSE(Rejected(options));
  options.time_limit = "2-04:00:00";
  CHECK_FALSE(Rejected(options));
  options.time_limit = "90 minutes";
  CHECK(Rejected(options));
  options = Options(dir.path());
  options.shards = 0;
  CHECK(Rejected(options));
  options = Options(dir.path());
  options.throttle = -1;
  CHECK(Rejected(options));
  options = Options(dir.path());
  options.partition = "gpu; rm -rf /";
  CHECK(Rejected(options));
}

TEST_CASE("shell quote survives quotes") {
  TempDir dir;
  std::string text = "it's a \"path\" with $HOME";
  CHECK(Shell("printf %s " + scalelock::ShellQuote(text)) == text);
}
