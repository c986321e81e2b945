// Training-throughput benchmark of scalelock on Fashion-MNIST.
//
// Trains the small CNN of docs/benchmarks.md ("Training throughput") with batch 64 and
// SGD (lr 0.01, momentum 0.9). For each thread count it prints one JSON line with the
// median samples/s over `repeats` fresh runs. Each run is timed over `steps` optimizer
// steps after `warmup` steps. With
// --dump-batches it writes the training batches instead, so that
// bench/torch_peer.py trains on the same data.
//
// Timing is MeasureTrainThroughput (train/throughput.h): full training steps
// (batch draw, forward, loss, backward, SGD update) after the warm-up, with no
// evaluation and no task or primitive creation in the timed interval.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <dnnl.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/task.h"
#include "train/throughput.h"
#include "util/error.h"

namespace {

using nlohmann::json;

struct BenchOptions {
  std::vector<int> threads = {1, 2};
  int64_t steps = 200;
  int64_t warmup = 25;
  int repeats = 3;
  int64_t batch_size = 64;
  uint64_t seed = 1;
  std::string dump_path;  // write batches here and exit when not empty
};

json TaskConfig() {
  return {{"name", "fashion_mnist"},
          {"data_dir", "/usr/share/datasets/fashion-mnist"},
          {"train_samples", 60000},
          {"eval_samples", 1}};
}

// The benchmark CNN: 28x28 input, three 3x3 convs (32, 32, 64 channels, padding
// 1), two 2x2 max pools, one linear layer to 10 classes.
json ModelConfig() {
  json layers = json::array();
  layers.push_back({{"type", "conv"}, {"out", 32}, {"kernel", 3}, {"padding", 1}});
  layers.push_back({{"type", "relu"}});
  layers.push_back({{"type", "conv"}, {"out", 32}, {"kernel", 3}, {"padding", 1}});
  layers.push_back({{"type", "relu"}});
  layers.push_back({{"type", "maxpool"}, {"kernel", 2}, {"stride", 2}});
  layers.push_back({{"type", "conv"}, {"out", 64}, {"kernel", 3}, {"padding", 1}});
  layers.push_back({{"type", "relu"}});
  layers.push_back({{"type", "maxpool"}, {"kernel", 2}, {"stride", 2}});
  layers.push_back({{"type", "linear"}, {"out", 10}});
  return {{"family", "custom"}, {"layers", layers}};
}

json RunConfig(const BenchOptions& options) {
  json training = {{"optimizer", "sgd"},
                   {"lr", 0.01},
                   {"momentum", 0.9},
                   {"weight_decay", 0.0},
                   {"batch_size", options.batch_size},
                   {"steps", options.warmup + options.steps},
                   {"eval_every", options.steps},
                   {"max_seconds", 0.0}};
  return {{"task", TaskConfig()},
          {"model", ModelConfig()},
          {"training", training},
          {"seed", options.seed}};
}

// Writes batches 0 .. warmup + steps - 1 as raw little-endian records: per
// batch, batch_size * 784 float32 inputs (NCHW) then batch_size int32 labels.
void DumpBatches(const BenchOptions& options) {
  auto task = scalelock::MakeTask(TaskConfig(), options.seed);
  std::ofstream out(options.dump_path, std::ios::binary | std::ios::trunc);
  if (!out) {
    scalelock::Fail(scalelock::ErrorCode::kIO, "failed to open {} for writing",
                    options.dump_path);
  }
  scalelock::Batch batch;
  for (int64_t index = 0; index < options.warmup + options.steps; ++index) {
    task->TrainBatch(index, options.batch_size, &batch);
    out.write(reinterpret_cast<const char*>(batch.inputs.data()),
              static_cast<std::streamsize>(batch.inputs.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(batch.labels.data()),
              static_cast<std::streamsize>(batch.labels.size() * sizeof(int32_t)));
  }
  if (!out.flush()) {
    scalelock::Fail(scalelock::ErrorCode::kIO, "failed to write {}", options.dump_path);
  }
}

// Trains once and returns samples/s over the timed steps.
double TimeOneRun(const BenchOptions& options, int threads) {
  return scalelock::MeasureTrainThroughput(RunConfig(options), threads, options.warmup,
                                           options.steps)
      .samples_per_second;
}

void RunBenchmark(const BenchOptions& options) {
  for (int threads : options.threads) {
    std::vector<double> rates;
    for (int repeat = 0; repeat < options.repeats; ++repeat) {
      rates.push_back(TimeOneRun(options, threads));
    }
    std::vector<double> sorted = rates;
    std::sort(sorted.begin(), sorted.end());
    const json line = {{"impl", "scalelock"},
                       {"threads", threads},
                       {"steps", options.steps},
                       {"batch_size", options.batch_size},
                       {"samples_per_s", sorted[sorted.size() / 2]},
                       {"repeats", rates}};
    std::cout << line.dump() << std::endl;
  }
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions options;
  CLI::App app{"Training throughput of scalelock on the benchmark CNN (Fashion-MNIST)"};
  app.add_option("--threads", options.threads, "OpenMP thread counts to measure")
      ->capture_default_str();
  app.add_option("--steps", options.steps, "timed optimizer steps per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "untimed steps before timing")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--repeats", options.repeats,
                 "runs per thread count; the median is printed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch-size", options.batch_size, "samples per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", options.seed, "run seed (task order and initial weights)")
      ->capture_default_str();
  app.add_option("--dump-batches", options.dump_path,
                 "write the warmup + steps training batches to this file and exit");
  CLI11_PARSE(app, argc, argv);

  try {
    if (!options.dump_path.empty()) {
      DumpBatches(options);
    } else {
      RunBenchmark(options);
    }
  } catch (const scalelock::Error& error) {
    std::fprintf(stderr, "train_bench: %s\n", error.what());
    return scalelock::ExitStatus(error.code());
  } catch (const dnnl::error& error) {
    std::fprintf(stderr, "train_bench: oneDNN error (status %d): %s\n",
                 static_cast<int>(error.status), error.what());
    return 1;
  }
  return 0;
}
