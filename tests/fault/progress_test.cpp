// Progress output: one log line per run start and end (with run id and
// config hash) when stderr is not a terminal, and a live progress line when
// it is, under a pseudo-terminal from script(1).
#include <catch2/catch.hpp>

#include "fault/fault_support.h"

using fault::Db;
using scalelock_test::RunCli;
using scalelock_test::TempDir;

TEST_CASE("progress log line per run") {
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  auto result = RunCli("run " + spec + " --db " + db + " --jobs 1");
  INFO(result.output);
  REQUIRE(result.status == 0);
  auto runs = Db(db).Rows("SELECT run_id, config_hash FROM runs");
  REQUIRE(runs.size() == 4);
  for (const auto& run : runs) {
    std::string prefix = "run " + run[0] + " (" + run[1] + ") ";
    CHECK_THAT(result.output, Catch::Contains(prefix + "started: multiscale1d"));
    CHECK_THAT(result.output, Catch::Contains(prefix + "finished: 200 steps"));
  }
}

TEST_CASE("progress live line on terminal") {
  if (std::system("command -v script > /dev/null 2>&1") != 0) {
    WARN("skipped: script(1) from util-linux is not installed");
    return;
  }
  TempDir dir;
  std::string spec = dir.Write("fault.json", fault::kGridSpec);
  std::string db = dir.File("results.sqlite");
  std::string command = "script -qec '" + std::string(SCALELOCK_BINARY) + " run " + spec +
                        " --db " + db + " --jobs 1' /dev/null 2>&1";
  scalelock_test::CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr)
    result.output += buffer;
  int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  INFO(result.output);
  REQUIRE(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("4/4 done, 0 failed, 0 running, 0 pending"));
  CHECK_THAT(result.output, Catch::Contains("samples/s"));
  CHECK_THAT(result.output, Catch::Contains("\r\033[K"));
}
