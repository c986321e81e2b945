#include "spec/schema_tables.h"

namespace scalelock {
namespace schema {

static const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

const std::map<std::string, Schema>& TaskSchemas() {
  static const std::map<std::string, Schema> schemas = {
      {"multiscale1d",
       {{"name", Type::kString, nullptr},
        {"length", Type::kInt, 64, 4, 1 << 20},
        {"lambda_min", Type::kInt, 2, 1, 1 << 19},
        {"lambda_max", Type::kInt, nullptr, 2, 1 << 19},
        {"scale_ratio", Type::kNumber, nullptr, 1, kInf, {}, false, true},
        {"noise", Type::kNumber, 0.1, 0, 100},
        {"train_samples", Type::kInt, 0, 0, 1e9},
        {"eval_samples", Type::kInt, 1024, 1, 1e6}}},
      {"fashion_mnist",
       {{"name", Type::kString, nullptr},
        {"data_dir", Type::kString, kFashionMnistDir},
        {"train_samples", Type::kInt, 60000, 1, 60000},
        {"eval_samples", Type::kInt, 10000, 1, 10000}}},
  };
  return schemas;
}

int TaskClassCount(const nlohmann::json& task) {
  return task["name"] == "fashion_mnist" ? 10 : 2;
}

}  // namespace schema
}  // namespace scalelock
