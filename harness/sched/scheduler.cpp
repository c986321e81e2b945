#include "sched/scheduler.h"

#include <fmt/format.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "sched/claims.h"
#include "sched/progress.h"
#include "sched/signals.h"
#include "store/store.h"
#include "store/writer.h"
#include "train/trainer.h"
#include "util/error.h"
#include "version.h"

namespace scalelock {

namespace {

using nlohmann::json;

// One run to train in this invocation.
struct WorkItem {
  int64_t run_id = 0;
  const RunConfig* run = nullptr;
  RunRecord record;
};

RunRecord MakeRecord(const RunConfig& run, const ModelSummary& summary) {
  RunRecord record;
  record.config_hash = run.hash;
  record.config = run.config;
  record.family = summary.family;
  record.task = run.config["task"]["name"].get<std::string>();
  record.width = summary.width;
  record.depth = summary.depth;
  record.kernel = summary.kernel;
  record.dilation = summary.dilation;
  record.receptive_field = summary.receptive_field;
  record.effective_stride = summary.effective_stride;
  record.effective_padding = summary.effective_padding;
  record.depth_requirement_met = summary.depth_requirement_met;
  record.params = summary.params;
  record.flops = summary.train_flops;
  record.train_samples = summary.train_samples_seen;
  record.seed = run.config["seed"].get<int64_t>();
  const json& task = run.config["task"];
  if (task.contains("lambda_min") && task.contains("lambda_max")) {
    record.lambda_min = task["lambda_min"].get<double>();
    record.lambda_max = task["lambda_max"].get<double>();
  }
  return record;
}

// Summarises every run of this shard; throws before anything is written.
std::vector<std::vector<RunRecord>> PlanRecords(
    const std::vector<Experiment>& experiments, const SchedulerOptions& options,
    int64_t* total) {
  std::vector<std::vector<RunRecord>> plan(experiments.size());
  int64_t position = 0;
  for (size_t e = 0; e < experiments.size(); ++e) {
    for (size_t r = 0; r < experiments[e].runs.size(); ++r, ++position) {
      if (position % options.shard_count != options.shard_index) continue;
      const RunConfig& run = experiments[e].runs[r];
      try {
        plan[e].push_back(MakeRecord(run, SummarizeRun(run.config)));
      } catch (const Error& error) {
        throw Error(error.code(),
                    fmt::format("experiment {}, run {} (hash {}): {}",
                                experiments[e].name, r, run.hash, error.what()));
      }
      ++*total;
    }
  }
  return plan;
}

std::string Describe(const RunRecord& record) {
  std::string text =
      fmt::format("{} {} width {} depth {} rf {}", record.task, record.family,
                  record.width, record.depth, record.receptive_field);
  if (record.lambda_min > 0) {
    text += fmt::format(" r {:g}", record.lambda_max / record.lambda_min);
  }
  return text + fmt::format(" seed {}", record.seed);
}

std::string DescribeOutcome(const TrainOutcome& outcome) {
  if (outcome.status == RunStatus::kFinished) {
    return fmt::format("{} steps in {:.1f} s, eval loss {:.4f}, eval accuracy {:.4f}",
                       outcome.steps_done, outcome.wall_seconds, outcome.final_eval_loss,
                       outcome.final_eval_accuracy);
  }
  return outcome.message;
}

RunResult ToResult(const TrainOutcome& outcome) {
  RunResult result;
  result.status = outcome.status;
  result.message = outcome.message;
  result.steps = outcome.steps_done;
  result.final_train_loss = outcome.final_train_loss;
  result.final_eval_loss = outcome.final_eval_loss;
  result.final_eval_accuracy = outcome.final_eval_accuracy;
  result.wall_seconds = outcome.wall_seconds;
  return result;
}

void CheckOptions(const SchedulerOptions& options, int* jobs) {
  int cores = UsableCores();
  if (options.max_attempts < 1) {
    Fail(ErrorCode::kInvalidInput, "invalid --max-attempts {}: expected at least 1",
         options.max_attempts);
  }
  if (options.threads_per_run < 1) {
    Fail(ErrorCode::kInvalidInput, "invalid --threads-per-run {}: expected at least 1",
         options.threads_per_run);
  }
  if (options.jobs < 0) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --jobs {}: expected 0 (one run per core) or a positive count",
         options.jobs);
  }
  if (!(options.stale_seconds >= 0)) {
    Fail(ErrorCode::kInvalidInput,
         "invalid --stale-seconds {}: expected a heartbeat age >= 0 seconds",
         options.stale_seconds);
  }
  *jobs = options.jobs > 0 ? options.jobs : std::max(1, cores / options.threads_per_run);
  if (*jobs * options.threads_per_run > cores) {
    Fail(ErrorCode::kInvalidInput,
         "--jobs {} x --threads-per-run {} = {} threads, more than the {} usable cores: "
         "lower --jobs or --threads-per-run so the cores are not oversubscribed",
         *jobs, options.threads_per_run, *jobs * options.threads_per_run, cores);
  }
}

// Warns when the experiment contains runs that its current spec no longer
// produces (the spec was edited), because fit, lock and export pool every run
// of an experiment.
void WarnAboutOtherRuns(const std::string& experiment_name,
                        const std::unordered_map<std::string, const RunConfig*>& by_hash,
                        const std::vector<RunState>& states) {
  int64_t others = 0;
  for (const RunState& state : states) others += by_hash.count(state.config_hash) == 0;
  if (others > 0) {
    spdlog::warn("{}: {} stored runs come from an earlier version of this spec; fit, lock "
                 "and export pool them with the current runs, so give a changed spec a "
                 "new experiment name to keep them apart",
                 experiment_name, others);
  }
}

// Registers the experiments' runs and returns the ones to train, longest first.
std::vector<WorkItem> PrepareWork(StoreWriter& writer,
                                  const std::vector<Experiment>& experiments,
                                  std::vector<std::vector<RunRecord>>& plan,
                                  const SchedulerOptions& options, int64_t* skipped) {
  std::vector<WorkItem> work;
  for (size_t e = 0; e < experiments.size(); ++e) {
    if (plan[e].empty()) continue;
    const Experiment& experiment = experiments[e];
    std::vector<RunState> states;
    std::vector<int64_t> ids = writer.Call([&](Store& store) {
      int64_t experiment_id = store.EnsureExperiment(experiment.name, experiment.spec);
      RequeueCounts dead = RequeueDeadRuns(store, experiment_id, options.stale_seconds,
                                           options.max_attempts);
      if (dead.requeued + dead.failed > 0) {
        spdlog::warn("{}: {} runs of dead workers requeued, {} failed after {} attempts",
                     experiment.name, dead.requeued, dead.failed, options.max_attempts);
      }
      std::vector<RunStatus> requeue = {RunStatus::kInterrupted};
      if (options.retry_failed) {
        requeue.insert(requeue.end(),
                       {RunStatus::kFailed, RunStatus::kDiverged, RunStatus::kTimedOut});
      }
      store.ResetRuns(experiment_id, requeue);
      std::vector<int64_t> run_ids = store.EnsureRuns(experiment_id, plan[e]);
      states = store.ListRuns(experiment_id);
      return run_ids;
    });

    std::unordered_map<std::string, const RunConfig*> by_hash;
    for (const RunConfig& run : experiment.runs) by_hash.emplace(run.hash, &run);
    WarnAboutOtherRuns(experiment.name, by_hash, states);
    std::set<int64_t> pending;
    for (const RunState& state : states) {
      if (state.status == RunStatus::kPending) pending.insert(state.run_id);
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (pending.count(ids[i]) == 0) {
        ++*skipped;
        continue;
      }
      work.push_back({ids[i], by_hash.at(plan[e][i].config_hash), plan[e][i]});
    }
  }
  std::stable_sort(work.begin(), work.end(), [](const WorkItem& a, const WorkItem& b) {
    return a.record.flops > b.record.flops;
  });
  return work;
}

// Sends heartbeats for running runs and redraws the progress line.
class Ticker {
 public:
  Ticker(StoreWriter& writer, Progress& progress)
      : writer_(writer), progress_(progress), thread_([this] { Loop(); }) {}
  ~Ticker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Add(int64_t run_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.insert(run_id);
  }
  void Remove(int64_t run_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    running_.erase(run_id);
  }

 private:
  void Loop() {
    auto last_heartbeat = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
      progress_.Tick();
      if (std::chrono::steady_clock::now() - last_heartbeat < std::chrono::seconds(10)) {
        continue;
      }
      last_heartbeat = std::chrono::steady_clock::now();
      std::set<int64_t> ids = running_;
      writer_.Post([ids](Store& store) {
        for (int64_t id : ids)
          store.Heartbeat(id);
      });
    }
  }

  StoreWriter& writer_;
  Progress& progress_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<int64_t> running_;
  bool stopping_ = false;
  std::thread thread_;
};

void TrainItem(const WorkItem& item, const SchedulerOptions& options, StoreWriter& writer,
               Progress& progress, Ticker& ticker, GridSummary& summary,
               std::mutex& summary_mutex) {
  static const WorkerIdentity worker = CurrentWorker();
  bool claimed = writer.Call([&](Store& store) {
    return ClaimRunForWorker(store, item.run_id, worker, SCALELOCK_VERSION);
  });
  if (!claimed) return;  // another process took it

  ticker.Add(item.run_id);
  progress.Started(item.run_id, item.record.config_hash, Describe(item.record));
  TrainOptions train_options;
  train_options.threads = options.threads_per_run;
  train_options.max_wall_seconds =
      item.run->config["training"]["max_seconds"].get<double>();
  int64_t run_id = item.run_id;
  train_options.on_metrics = [&writer, run_id](const std::vector<MetricPoint>& points) {
    writer.Post([run_id, points](Store& store) { store.WriteMetrics(run_id, points); });
  };
  train_options.should_stop = [] { return StopRequested(); };
  TrainOutcome outcome = TrainRun(item.run->config, train_options);

  RunResult result = ToResult(outcome);
  ErfValues erf_init = outcome.erf_init;
  ErfValues erf_trained = outcome.erf_trained;
  writer.Post([run_id, result, erf_init, erf_trained](Store& store) {
    for (const auto& [phase, erf] :
         {std::pair<const char*, const ErfValues&>{"init", erf_init},
          {"trained", erf_trained}}) {
      if (erf.measured) {
        store.WriteErf(run_id, phase, erf.radius50, erf.radius95, erf.ratio);
      }
    }
    store.FinishRun(run_id, result);
  });
  ticker.Remove(item.run_id);
  progress.Ended(
      item.run_id, item.record.config_hash, RunStatusName(outcome.status),
      DescribeOutcome(outcome), item.record.flops,
      outcome.steps_done * item.run->config["training"]["batch_size"].get<int64_t>());

  std::lock_guard<std::mutex> lock(summary_mutex);
  if (outcome.status == RunStatus::kFinished) {
    ++summary.finished;
  } else if (outcome.status == RunStatus::kInterrupted) {
    ++summary.interrupted;
  } else {
    ++summary.failed;
  }
}

}  // namespace

int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

GridSummary RunGrid(const std::vector<Experiment>& experiments,
                    const SchedulerOptions& options) {
  auto start = std::chrono::steady_clock::now();
  int jobs = 1;
  CheckOptions(options, &jobs);

  // Validate and summarise every run before the database is touched.
  GridSummary summary;
  std::vector<std::vector<RunRecord>> plan =
      PlanRecords(experiments, options, &summary.total);
  if (options.dry_run) {
    double flops = 0;
    for (const auto& records : plan) {
      for (const RunRecord& record : records)
        flops += record.flops;
    }
    spdlog::info("dry run: {} runs in {} experiments, {:.3g} training FLOPs in all",
                 summary.total, experiments.size(), flops);
    return summary;
  }

  StoreWriter writer(Store::Open(options.database, Store::Mode::kReadWrite));
  std::vector<WorkItem> work =
      PrepareWork(writer, experiments, plan, options, &summary.skipped);
  double total_flops = 0;
  for (const WorkItem& item : work)
    total_flops += item.record.flops;
  spdlog::info("{} runs to train ({} already ended), {} jobs x {} threads, database {}",
               work.size(), summary.skipped, jobs, options.threads_per_run,
               options.database);

  // Workers pull the next item from a shared counter so the longest runs start first.
  Progress progress(static_cast<int64_t>(work.size()), total_flops,
                    isatty(STDERR_FILENO));
  std::mutex summary_mutex;
  {
    Ticker ticker(writer, progress);
    std::atomic<size_t> next{0};
    tbb::task_arena arena(jobs);
    arena.execute([&] {
      tbb::task_group group;
      for (int j = 0; j < jobs; ++j) {
        group.run([&] {
          for (size_t i = next++; i < work.size() && !StopRequested(); i = next++) {
            TrainItem(work[i], options, writer, progress, ticker, summary, summary_mutex);
          }
        });
      }
      group.wait();
    });
  }
  progress.Finish();
  writer.Flush();
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace scalelock
