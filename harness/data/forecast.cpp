#include "data/forecast.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "data/random.h"
#include "data/task_config.h"
#include "util/error.h"

namespace scalelock {

namespace {

constexpr uint64_t kTrainStream = 41;
constexpr uint64_t kEvalStream = 42;
constexpr uint64_t kOrderStream = 43;
constexpr uint64_t kSubsetStream = 44;
constexpr int64_t kMaxContext = int64_t{1} << 16;
constexpr int64_t kMaxHorizon = 4096;
constexpr size_t kMaxComponents = 16;
constexpr int64_t kMaxPoolSamples = int64_t{1} << 24;
constexpr int64_t kMaxEvalSamples = int64_t{1} << 20;
constexpr double kTwoPi = 6.283185307179586;

void ParseSynthetic(const nlohmann::json& task_config, ForecastParams* p) {
  for (const char* field : {"data_path", "eval_fraction"}) {
    if (task_config.contains(field)) {
      Fail(ErrorCode::kInvalidInput,
           "task.{} applies only to task.source \"seattle_temps\": remove it or set "
           "the source",
           field);
    }
  }
  if (!task_config.contains("periods")) {
    Fail(ErrorCode::kInvalidInput,
         "task.periods is missing: the synthetic source needs the component periods "
         "in samples, e.g. [4, 32]");
  }
  p->periods = ReadTaskNumberArray(task_config, "periods", {}, 2.0, kMaxComponents);
  p->amplitudes = ReadTaskNumberArray(task_config, "amplitudes",
                                      std::vector<double>(p->periods.size(), 1.0), 0.0,
                                      kMaxComponents);
  if (p->amplitudes.size() != p->periods.size()) {
    Fail(ErrorCode::kInvalidInput,
         "task.amplitudes has {} entries but task.periods has {}: give one amplitude "
         "per period",
         p->amplitudes.size(), p->periods.size());
  }
  double longest = 0.0;
  for (double period : p->periods)
    longest = std::max(longest, period);
  if (static_cast<double>(p->context) < longest) {
    Fail(ErrorCode::kInvalidInput,
         "task.context = {} is shorter than the longest period {}: the input must "
         "hold at least one cycle of every component; raise task.context",
         p->context, longest);
  }
  p->noise = ReadTaskNumber(task_config, "noise", 0.1, 0.0);
  p->train_samples = ReadTaskInt(task_config, "train_samples", 0, 0, kMaxPoolSamples);
}

void ParseSeattle(const nlohmann::json& task_config, ForecastParams* p) {
  for (const char* field : {"periods", "amplitudes", "noise"}) {
    if (task_config.contains(field)) {
      Fail(ErrorCode::kInvalidInput,
           "task.{} applies only to task.source \"synthetic\": remove it or set the "
           "source",
           field);
    }
  }
  p->data_path = ReadTaskString(task_config, "data_path", kDefaultSeattleTempsPath);
  p->eval_fraction = ReadTaskNumber(task_config, "eval_fraction", 0.2, 0.05);
  if (p->eval_fraction > 0.5) {
    Fail(ErrorCode::kInvalidInput,
         "task.eval_fraction = {} is out of range: expected a number in [0.05, 0.5]",
         p->eval_fraction);
  }
  p->train_samples = ReadTaskInt(task_config, "train_samples", 0, 0, kMaxPoolSamples);
}

// Parses one "date,value" line; false when the value is missing or not finite.
bool ParseCsvValue(const std::string& line, float* value) {
  const size_t comma = line.rfind(',');
  if (comma == std::string::npos) return false;
  const std::string text = line.substr(comma + 1);
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  while (end != nullptr && (*end == ' ' || *end == '\r'))
    ++end;
  if (end == text.c_str() || (end != nullptr && *end != '\0') || !std::isfinite(number)) {
    return false;
  }
  *value = static_cast<float>(number);
  return true;
}

std::vector<float> ReadSeriesCsv(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    Fail(ErrorCode::kNotFound,
         "series file {} not found: install the Debian package python3-vega-datasets "
         "or set task.data_path",
         path);
  }
  std::ifstream file(path);
  if (!file) Fail(ErrorCode::kIO, "cannot open series file {}", path);
  std::string line;
  std::getline(file, line);  // header, e.g. "date,temp"
  std::vector<float> values;
  int64_t line_number = 1;
  while (std::getline(file, line)) {
    ++line_number;
    if (line.empty() || line == "\r") continue;
    float value = 0.0f;
    if (!ParseCsvValue(line, &value)) {
      Fail(ErrorCode::kInvalidInput,
           "series file {} line {} is invalid: \"{}\": expected \"date,value\" with a "
           "finite number",
           path, line_number, line);
    }
    values.push_back(value);
  }
  if (values.size() < 16) {
    Fail(ErrorCode::kInvalidInput, "series file {} contains {} values, expected >= 16",
         path, values.size());
  }
  return values;
}

// Evenly spaced picks of `count` out of [0, available).
std::vector<int64_t> EvenlySpaced(int64_t available, int64_t count) {
  std::vector<int64_t> picks;
  for (int64_t i = 0; i < count; ++i) {
    picks.push_back(count == 1 ? 0 : i * (available - 1) / (count - 1));
  }
  return picks;
}

}  // namespace

std::shared_ptr<const std::vector<float>> CachedSeriesCsv(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const std::vector<float>>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  auto series = std::make_shared<const std::vector<float>>(ReadSeriesCsv(path));
  cache[path] = series;
  return series;
}

ForecastParams ParseForecastParams(const nlohmann::json& task_config) {
  CheckTaskFields(
      task_config, "forecast",
      {"name", "source", "context", "horizon", "periods", "amplitudes", "noise",
       "data_path", "eval_fraction", "train_samples", "eval_samples"});
  ForecastParams p;
  p.source = ReadTaskString(task_config, "source", "synthetic");
  p.context = ReadTaskInt(task_config, "context", 64, 2, kMaxContext);
  p.horizon = ReadTaskInt(task_config, "horizon", 8, 1, kMaxHorizon);
  p.eval_samples = ReadTaskInt(task_config, "eval_samples", 1024, 1, kMaxEvalSamples);
  if (p.source == "synthetic") {
    ParseSynthetic(task_config, &p);
  } else if (p.source == "seattle_temps") {
    ParseSeattle(task_config, &p);
  } else {
    Fail(ErrorCode::kInvalidInput,
         "task.source = \"{}\" is invalid: expected \"synthetic\" or \"seattle_temps\"",
         p.source);
  }
  return p;
}

ForecastTask::ForecastTask(const ForecastParams& params, uint64_t seed)
    : params_(params), seed_(seed) {
  if (params_.source == "seattle_temps") {
    BuildSeattle(seed);
    return;
  }
  train_windows_ = params_.train_samples;
  if (train_windows_ > 0) order_.emplace(train_windows_, SeedFor(seed_, kOrderStream, 0));
  eval_set_.size = params_.eval_samples;
  eval_set_.inputs.resize(static_cast<size_t>(params_.eval_samples * params_.context));
  eval_set_.targets.resize(static_cast<size_t>(params_.eval_samples * params_.horizon));
  for (int64_t k = 0; k < params_.eval_samples; ++k) {
    GenerateSynthetic(kEvalStream, k, eval_set_.inputs.data() + k * params_.context,
                      eval_set_.targets.data() + k * params_.horizon);
  }
}

void ForecastTask::BuildSeattle(uint64_t seed) {
  const auto raw = CachedSeriesCsv(params_.data_path);
  const auto total = static_cast<int64_t>(raw->size());
  const int64_t window = params_.context + params_.horizon;
  train_length_ = static_cast<int64_t>(
      std::floor(static_cast<double>(total) * (1.0 - params_.eval_fraction)));
  const int64_t eval_length = total - train_length_;
  if (window > eval_length) {
    Fail(ErrorCode::kInvalidInput,
         "task.context + task.horizon = {} exceeds the {} held-out values of {} "
         "(task.eval_fraction = {}): shorten the window or raise eval_fraction",
         window, eval_length, params_.data_path, params_.eval_fraction);
  }

  // Normalize the whole series with the statistics of the training part only.
  double sum = 0.0;
  double sum_squares = 0.0;
  for (int64_t t = 0; t < train_length_; ++t) {
    sum += (*raw)[static_cast<size_t>(t)];
    sum_squares += static_cast<double>((*raw)[static_cast<size_t>(t)]) *
                   (*raw)[static_cast<size_t>(t)];
  }
  const double mean = sum / static_cast<double>(train_length_);
  const double variance = sum_squares / static_cast<double>(train_length_) - mean * mean;
  const double deviation = std::sqrt(std::max(variance, 1e-12));
  series_.resize(raw->size());
  for (size_t t = 0; t < raw->size(); ++t) {
    series_[t] = static_cast<float>(((*raw)[t] - mean) / deviation);
  }

  // Training windows lie in [0, train_length_). A subset is a prefix of a
  // seeded permutation, so smaller subsets of one seed are nested.
  const int64_t starts = train_length_ - window + 1;
  SplitMix64 rng(SeedFor(seed, kSubsetStream, 0));
  subset_ = RandomPermutation(starts, &rng);
  if (params_.train_samples > 0 && params_.train_samples < starts) {
    subset_.resize(static_cast<size_t>(params_.train_samples));
  }
  train_windows_ = static_cast<int64_t>(subset_.size());
  order_.emplace(train_windows_, SeedFor(seed, kOrderStream, 0));

  // Evaluation windows lie in [train_length_, total), evenly spaced.
  const int64_t eval_starts = eval_length - window + 1;
  const int64_t count = std::min(params_.eval_samples, eval_starts);
  eval_set_.size = count;
  eval_set_.inputs.resize(static_cast<size_t>(count * params_.context));
  eval_set_.targets.resize(static_cast<size_t>(count * params_.horizon));
  const std::vector<int64_t> picks = EvenlySpaced(eval_starts, count);
  for (int64_t k = 0; k < count; ++k) {
    CopyWindow(train_length_ + picks[static_cast<size_t>(k)],
               eval_set_.inputs.data() + k * params_.context,
               eval_set_.targets.data() + k * params_.horizon);
  }
  spdlog::debug(
      "forecast task from {}: {} values, mean {:.3f}, std {:.3f}, {} "
      "training and {} evaluation windows",
      params_.data_path, total, mean, deviation, train_windows_, count);
}

int64_t ForecastTask::TrainWindowStartAt(int64_t position) {
  if (params_.source != "seattle_temps") return -1;
  return subset_[static_cast<size_t>(order_->SampleAt(position))];
}

void ForecastTask::TrainBatch(int64_t index, int64_t batch_size, Batch* batch) {
  if (index < 0 || batch_size < 1) {
    Fail(ErrorCode::kInvalidInput,
         "forecast batch index {} and batch size {} are invalid: expected index >= 0 "
         "and batch size >= 1",
         index, batch_size);
  }
  batch->size = batch_size;
  batch->inputs.resize(static_cast<size_t>(batch_size * params_.context));
  batch->targets.resize(static_cast<size_t>(batch_size * params_.horizon));
  batch->labels.clear();
  for (int64_t row = 0; row < batch_size; ++row) {
    const int64_t position = index * batch_size + row;
    float* inputs = batch->inputs.data() + row * params_.context;
    float* targets = batch->targets.data() + row * params_.horizon;
    if (params_.source == "seattle_temps") {
      CopyWindow(TrainWindowStartAt(position), inputs, targets);
    } else {
      const int64_t counter = order_ ? order_->SampleAt(position) : position;
      GenerateSynthetic(kTrainStream, counter, inputs, targets);
    }
  }
}

void ForecastTask::CopyWindow(int64_t start, float* inputs, float* targets) const {
  const float* window = series_.data() + start;
  std::copy(window, window + params_.context, inputs);
  std::copy(window + params_.context, window + params_.context + params_.horizon,
            targets);
}

void ForecastTask::GenerateSynthetic(uint64_t stream, int64_t counter, float* inputs,
                                     float* targets) const {
  SplitMix64 rng(SeedFor(seed_, stream, static_cast<uint64_t>(counter)));
  std::vector<double> phases;
  for (size_t i = 0; i < params_.periods.size(); ++i)
    phases.push_back(kTwoPi * rng.Uniform());
  for (int64_t t = 0; t < params_.context + params_.horizon; ++t) {
    double value = params_.noise * rng.Normal();
    for (size_t i = 0; i < params_.periods.size(); ++i) {
      value += params_.amplitudes[i] *
               std::sin(kTwoPi * static_cast<double>(t) / params_.periods[i] + phases[i]);
    }
    float* out = t < params_.context ? inputs + t : targets + (t - params_.context);
    *out = static_cast<float>(value);
  }
}

}  // namespace scalelock
