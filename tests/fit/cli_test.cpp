// The fit and lock commands of the built CLI (SCALELOCK_BINARY).
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "store/test_db.h"

namespace scalelock {
namespace {

struct Output {
  int status = -1;
  std::string text;  // standard output
};

Output RunCli(const std::string& arguments) {
  const std::string command =
      std::string(SCALELOCK_BINARY) + " " + arguments + " 2>/dev/null";
  Output output;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t read = 0;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.text.append(buffer, read);
  const int status = pclose(pipe);
  output.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

const std::string kCsv =
    std::string(SCALELOCK_SOURCE_DIR) + "/tests/data/chinchilla_svg_extracted_data.csv";

TEST_CASE("cli fit prints one json object", "[fit]") {
  const Output output = RunCli("fit --points " + kCsv +
                               " --form chinchilla --drop-highest 5 --bootstrap 20 "
                               "--format json");
  REQUIRE(output.status == 0);
  const nlohmann::json result = nlohmann::json::parse(output.text);
  REQUIRE(result.is_object());
  CHECK(result["objective"] == "huber-log, delta=1e-3, summed");
  CHECK(result["status"] == "ok");
  CHECK(result["n_points"] == 240);
  CHECK(result["alpha"].get<double>() == Approx(0.3473).margin(0.005));
  CHECK(result["beta"].get<double>() == Approx(0.3672).margin(0.005));
  CHECK(result["E"].get<double>() == Approx(1.8172).margin(0.01));
  CHECK(result["ci"]["alpha"].size() == 2);
  CHECK(result["se"].contains("beta"));
}

TEST_CASE("cli fit unknown form exits 2", "[fit]") {
  CHECK(RunCli("fit --points " + kCsv + " --form cubic").status == 2);
}

TEST_CASE("cli fit empty database exits 2", "[fit]") {
  testing::TempDir dir;
  CHECK(RunCli("fit --db " + dir.File("db.sqlite") + " --experiment none").status == 2);
  CHECK(RunCli("lock --db " + dir.File("db.sqlite") + " --experiment none").status == 2);
}

}  // namespace
}  // namespace scalelock
