// `scalelock slurm SPEC`: writes an sbatch job-array script and a merge script
// for a spec's grid, then prints the sbatch commands or submits them.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "dist/sbatch.h"
#include "spec/spec.h"
#include "train/trainer.h"
#include "util/error.h"

namespace scalelock {
namespace {

namespace fs = std::filesystem;

struct SlurmOptions {
  std::string spec;
  std::string db;
  std::string db_dir;
  std::string script;
  std::string job_name;
  int64_t shards = 0;
  int64_t max_array_size = 0;
  bool submit = false;
  SlurmJobOptions job;
};

std::string Absolute(const std::string& path) {
  return fs::absolute(path).lexically_normal().string();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out)
    Fail(ErrorCode::kIO,
         "writing '{}' failed; check that the folder exists and is writable", path);
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add);
}

// Runs `sbatch ARGS SCRIPT` and returns the job id it prints with --parsable.
std::string Submit(const std::vector<std::string>& arguments, const std::string& script) {
  std::string command = "sbatch";
  for (const std::string& argument : arguments)
    command += " " + ShellQuote(argument);
  command += " " + ShellQuote(script) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) Fail(ErrorCode::kIO, "starting `{}` failed", command);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr)
    output += buffer;
  int raw = pclose(pipe);
  int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128;
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
    output.pop_back();
  if (status != 0) {
    Fail(status == 127 ? ErrorCode::kNotFound : ErrorCode::kIO,
         "`{}` failed with exit status {}: {}; check that Slurm is reachable (sinfo)",
         command, status, output);
  }
  // --parsable prints "jobid" or "jobid;cluster" on the last line.
  std::string id = output.substr(output.find_last_of('\n') + 1);
  id = id.substr(0, id.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    Fail(ErrorCode::kIO, "`{}` printed '{}', expected a job id", command, output);
  }
  return id;
}

std::string CommandLine(const std::vector<std::string>& arguments,
                        const std::string& script) {
  std::string line = "sbatch";
  for (const std::string& argument : arguments)
    line += " " + argument;
  return line + " " + ShellQuote(script);
}

// Fills the job options from the command line and the grid size.
SlurmJobOptions ResolveJob(const SlurmOptions& options, int64_t runs) {
  SlurmJobOptions job = options.job;
  std::string stem = fs::path(options.spec).stem().string();
  job.binary = fs::read_symlink("/proc/self/exe").string();
  job.spec = Absolute(options.spec);
  job.output_db = Absolute(options.db);
  job.db_dir =
      Absolute(options.db_dir.empty() ? "results/shards/" + stem : options.db_dir);
  job.job_name = options.job_name.empty() ? "scalelock-" + stem : options.job_name;
  job.shards = options.shards > 0 ? options.shards : runs;
  job.max_array_size =
      options.max_array_size > 0 ? options.max_array_size : QueryMaxArraySize(1001);
  ValidateSlurmJobOptions(job);
  if (job.shards > runs) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --shards {}: the grid has only {} runs, so some shards would be empty; "
         "pass --shards {} or fewer",
         job.shards, runs, runs);
  }
  return job;
}

int Slurm(const SlurmOptions& options) {
  // Validate every run, so a bad spec fails here and not in a thousand jobs.
  std::vector<Experiment> experiments = LoadSpecFile(options.spec);
  int64_t runs = 0;
  for (const Experiment& experiment : experiments) {
    for (const RunConfig& run : experiment.runs) {
      SummarizeRun(run.config);
      ++runs;
    }
  }
  SlurmJobOptions job = ResolveJob(options, runs);

  std::string script =
      Absolute(options.script.empty() ? job.db_dir + "/" + job.job_name + ".sbatch"
                                      : options.script);
  std::string merge_script = (fs::path(script).parent_path() /
                              (fs::path(script).stem().string() + "-merge.sbatch"))
                                 .string();
  std::error_code error;
  fs::create_directories(job.db_dir + "/logs", error);
  if (error) {
    Fail(ErrorCode::kIO, "creating folder '{}/logs' failed: {}", job.db_dir,
         error.message());
  }
  fs::create_directories(fs::path(script).parent_path(), error);
  WriteText(script, ArrayScript(job));
  WriteText(merge_script, MergeScript(job));
  std::vector<ArrayChunk> chunks = SplitArrays(job);
  std::cout << fmt::format("wrote {} ({} runs in {} shards, {} array job(s)) and {}\n",
                           script, runs, job.shards, chunks.size(), merge_script);

  std::vector<std::vector<std::string>> arrays = ArraySubmitArguments(job);
  if (!options.submit) {
    std::cout << "submit with:\n";
    std::vector<std::string> ids;
    for (size_t i = 0; i < arrays.size(); ++i) {
      std::cout << fmt::format("  a{}=$({})\n", i, CommandLine(arrays[i], script));
      ids.push_back(fmt::format("$a{}", i));
    }
    std::cout << "  " << CommandLine(MergeSubmitArguments(ids), merge_script) << "\n";
    return 0;
  }

  std::vector<std::string> ids;
  for (size_t i = 0; i < arrays.size(); ++i) {
    ids.push_back(Submit(arrays[i], script));
    std::cout << fmt::format("submitted array job {}: shards {}-{} of {}\n", ids.back(),
                             chunks[i].first_shard,
                             chunks[i].first_shard + chunks[i].count - 1, job.shards);
  }
  std::string merge_id = Submit(MergeSubmitArguments(ids), merge_script);
  std::cout << fmt::format("submitted merge job {}: writes {} after the arrays end\n",
                           merge_id, job.output_db);
  return 0;
}

}  // namespace

CommandHandler SetupSlurm(CLI::App& app) {
  auto options = std::make_shared<SlurmOptions>();
  app.add_option("spec", options->spec, "experiment spec (JSON)")->required();
  AddDatabaseOption(app, &options->db);
  app.get_option("--db")->description("merged results database the merge job writes");

  app.add_option("--db-dir", options->db_dir,
                 "folder of the shard databases, logs and scripts "
                 "(default: results/shards/<spec name>)");
  app.add_option("--shards", options->shards,
                 "array tasks N; shard i runs grid positions p with p % N == i "
                 "(default: one per run)");
  app.add_option("--throttle", options->job.throttle,
                 "array tasks running at once (sbatch --array=...%K); 0 = no limit")
      ->capture_default_str();
  app.add_option("--time", options->job.time_limit,
                 "wall-time limit per array task, [D-]HH:MM:SS")
      ->capture_default_str();

  options->job.threads_per_run = 1;
  options->job.jobs = 1;
  app.add_option("-t,--threads-per-run", options->job.threads_per_run,
                 "OpenMP threads per run")
      ->capture_default_str();
  app.add_option("-j,--jobs", options->job.jobs,
                 "runs trained at once per array task; cpus-per-task = jobs x threads")
      ->capture_default_str();

  app.add_option("--partition", options->job.partition,
                 "Slurm partition (default: the "
                 "cluster's default)");
  app.add_option("--job-name", options->job_name,
                 "Slurm job name (default: scalelock-<spec name>)");
  app.add_option(
      "-o,--output", options->script,
      "array script path; the merge script goes next to it as <name>-merge.sbatch "
      "(default: <db-dir>/<job name>.sbatch)");
  app.add_option("--max-array-size", options->max_array_size,
                 "Slurm MaxArraySize; more shards are split into several arrays "
                 "(default: from `scontrol show config`, else 1001)");

  app.add_flag("--submit", options->submit,
               "submit the arrays and the merge job with sbatch and print their job ids");
  return [options] { return Slurm(*options); };
}

}  // namespace scalelock
