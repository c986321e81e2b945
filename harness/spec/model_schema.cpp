#include "spec/schema_tables.h"

namespace scalelock {
namespace schema {

const std::map<std::string, Schema>& FamilySchemas() {
  static const Schema stack = {
      {"family", Type::kString, nullptr},
      {"depth", Type::kInt, 4, 1, 64},
      {"kernel", Type::kInt, 3, 1, 63, {}, true},
      {"width", Type::kInt, 16, 1, 4096},
      {"pool", Type::kString, "none", -kInf, kInf, {"none", "max", "avg"}},
      {"pool_every", Type::kInt, 0, 0, 64},
      {"head", Type::kString, "gap", -kInf, kInf, {"gap", "flatten"}}};
  static const std::map<std::string, Schema> schemas = {
      {"plain", stack},
      {"dilated", stack},
      {"custom", {{"family", Type::kString, nullptr}, {"layers", Type::kArray, nullptr}}},
  };
  return schemas;
}

// Keys of each custom layer type.
const std::map<std::string, Schema>& LayerSchemas() {
  static const Schema pool = {{"type", Type::kString, nullptr},
                              {"kernel", Type::kInt, 2, 1, 1024},
                              {"stride", Type::kInt, nullptr, 1, 1024, {}, false, true},
                              {"padding", Type::kInt, 0, 0, 1024}};
  static const std::map<std::string, Schema> schemas = {
      {"conv",
       {{"type", Type::kString, nullptr},
        {"out", Type::kInt, nullptr, 1, 65536},
        {"kernel", Type::kInt, 3, 1, 1024},
        {"stride", Type::kInt, 1, 1, 1024},
        {"padding", Type::kInt, 0, 0, 1024},
        {"dilation", Type::kInt, 1, 1, 1024}}},
      {"relu", {{"type", Type::kString, nullptr}}},
      {"maxpool", pool},
      {"avgpool", pool},
      {"gap", {{"type", Type::kString, nullptr}}},
      {"linear",
       {{"type", Type::kString, nullptr}, {"out", Type::kInt, nullptr, 1, 65536}}},
  };
  return schemas;
}

}  // namespace schema
}  // namespace scalelock
