#include "spec/schema_tables.h"

namespace scalelock {
namespace schema {

const std::map<std::string, Schema>& FamilySchemas() {
  using nlohmann::json;
  static const Field family = {"family", Type::kString, nullptr};
  static const Field kernel = {"kernel", Type::kInt, 3, 1, 63, {}, true};
  static const Field width = {"width", Type::kInt, 16, 1, 4096};
  static const Field pool = {"pool", Type::kString, "none",
                             -kInf,  kInf,          {"none", "max", "avg"}};
  static const Field pool_every = {"pool_every", Type::kInt, 0, 0, 64};

  static const Schema stack = {family,
                               {"depth", Type::kInt, 4, 1, 64},
                               kernel,
                               width,
                               pool,
                               pool_every,
                               {"head",
                                Type::kString,
                                "gap",
                                -kInf,
                                kInf,
                                {"gap", "flatten", "dense", "regression"}}};

  static const Schema strided = {
      family,
      {"depth", Type::kInt, 3, 1, 16},
      kernel,
      width,
      {"stride", Type::kInt, 2, 2, 16},
      {"layers_per_stage", Type::kInt, 1, 1, 16},
      {"head", Type::kString, "gap", -kInf, kInf, {"gap", "flatten", "regression"}}};

  static const Schema spp = {
      family,
      {"depth", Type::kInt, 4, 1, 64},
      kernel,
      width,
      pool,
      pool_every,
      {"levels", Type::kArray, json::array({1, 2, 4})},
      {"spp_pool", Type::kString, "max", -kInf, kInf, {"max", "avg"}},
      {"head", Type::kString, "spp", -kInf, kInf, {"spp", "regression"}}};

  // head has no default: a dense task gets "dense", any other task "gap".
  static const Schema unet = {family,
                              {"depth", Type::kInt, 2, 1, 8},
                              kernel,
                              {"width", Type::kInt, 8, 1, 1024},
                              {"convs_per_level", Type::kInt, 2, 1, 8},
                              {"head",
                               Type::kString,
                               nullptr,
                               -kInf,
                               kInf,
                               {"gap", "flatten", "dense", "regression"},
                               false,
                               true}};

  // head has no default: a dense task gets "dense", any other task "gap".
  static const Schema fpn = {family,
                             {"depth", Type::kInt, 2, 1, 8},
                             kernel,
                             {"width", Type::kInt, 16, 1, 1024},
                             {"convs_per_level", Type::kInt, 1, 1, 8},
                             {"head",
                              Type::kString,
                              nullptr,
                              -kInf,
                              kInf,
                              {"gap", "flatten", "dense", "regression"},
                              false,
                              true}};

  static const Schema attention = {family,
                                   {"depth", Type::kInt, 2, 1, 16},
                                   kernel,
                                   {"width", Type::kInt, 16, 1, 1024},
                                   {"patch", Type::kInt, 1, 1, 64},
                                   {"heads", Type::kInt, 1, 1, 16},
                                   {"positional",
                                    Type::kString,
                                    "sinusoidal",
                                    -kInf,
                                    kInf,
                                    {"sinusoidal", "learned", "none"}},
                                   {"head",
                                    Type::kString,
                                    "gap",
                                    -kInf,
                                    kInf,
                                    {"gap", "flatten", "dense", "regression"}}};

  static const std::map<std::string, Schema> schemas = {
      {"plain", stack},         {"dilated", stack},
      {"strided", strided},     {"spp", spp},
      {"unet", unet},           {"fpn", fpn},
      {"attention", attention}, {"custom", {family, {"layers", Type::kArray, nullptr}}},
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
