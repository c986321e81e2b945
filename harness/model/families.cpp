#include "model/families.h"

#include <algorithm>

#include "model/config_read.h"
#include "util/error.h"

namespace scalelock::families {
namespace {

using model_config::ReadInt;
using model_config::ReadIntArray;
using model_config::ReadString;
using nlohmann::json;

// Layers under construction; Add returns the index of the new layer's output
// tensor (layer i writes tensor i + 1).
class LayerList {
 public:
  int64_t Add(LayerSpec layer, std::vector<int64_t> inputs = {}) {
    layer.inputs = inputs.empty() ? std::vector<int64_t>{last()} : std::move(inputs);
    layers_.push_back(std::move(layer));
    return last();
  }
  int64_t last() const { return static_cast<int64_t>(layers_.size()); }
  int64_t last_layer() const { return last() - 1; }
  std::vector<LayerSpec>& layers() { return layers_; }

 private:
  std::vector<LayerSpec> layers_;
};

LayerSpec Conv(int64_t out, int64_t kernel, int64_t stride, int64_t dilation, bool relu,
               std::string path) {
  LayerSpec conv;
  conv.kind = LayerKind::kConv;
  conv.out = out;
  conv.kernel = kernel;
  conv.stride = stride;
  conv.dilation = dilation;
  conv.padding = dilation * (kernel - 1) / 2;
  conv.fused_relu = relu;
  conv.path = std::move(path);
  return conv;
}

LayerSpec Pool(LayerKind kind, int64_t kernel, int64_t stride, std::string path) {
  LayerSpec pool;
  pool.kind = kind;
  pool.kernel = kernel;
  pool.stride = stride;
  pool.path = std::move(path);
  return pool;
}

LayerSpec Simple(LayerKind kind, std::string path) {
  LayerSpec layer;
  layer.kind = kind;
  layer.path = std::move(path);
  return layer;
}

int64_t OddKernel(const json& model, int64_t fallback) {
  int64_t kernel = ReadInt(model, "kernel", "model", fallback, 1);
  if (kernel % 2 == 0) {
    Fail(ErrorCode::kInvalidInput,
         "model.kernel: invalid value {}: expected an odd integer so that 'same' "
         "padding is symmetric",
         kernel);
  }
  return kernel;
}

// Head on the feature tensor: "gap" (global average pool, linear), "flatten"
// (linear on all features), "regression" (as flatten, for regression tasks)
// or "dense" (1x1 conv per position). A dense head needs a dense task and a
// trunk that keeps the input resolution.
void AppendHead(const std::string& head, const Shape& feature_shape,
                const Shape& sample_shape, int num_classes, Objective objective,
                LayerList* list) {
  bool dense_task = objective == Objective::kDenseClass;
  if ((head == "dense") != dense_task) {
    Fail(ErrorCode::kInvalidInput,
         "model.head: invalid value \"{}\": expected {} because the task's targets are "
         "{}",
         head, dense_task ? "\"dense\"" : "\"gap\", \"flatten\" or \"regression\"",
         dense_task ? "one class per position" : "per sample");
  }
  if (head == "regression" && objective != Objective::kRegression) {
    Fail(ErrorCode::kInvalidInput,
         "model.head: invalid value \"regression\": the task's targets are classes; use "
         "\"gap\" or \"flatten\"");
  }
  if (head == "dense") {
    Shape spatial(feature_shape.begin() + 1, feature_shape.end());
    Shape input_spatial(sample_shape.begin() + 1, sample_shape.end());
    if (spatial != input_spatial) {
      Fail(ErrorCode::kInvalidInput,
           "model.head: \"dense\" needs features at the input resolution, but the trunk "
           "maps {} input samples per axis to {}; drop pooling and strides",
           fmt::join(input_spatial, "x"), fmt::join(spatial, "x"));
    }
    list->Add(Conv(num_classes, 1, 1, 1, false, "model.head"));
    return;
  }
  if (head == "gap") list->Add(Simple(LayerKind::kGlobalAvgPool, "model.head"));
  LayerSpec linear = Simple(LayerKind::kLinear, "model.head");
  linear.out = num_classes;
  list->Add(linear);
}

// Output size of a stride-1 "same" or pooling trunk, tracked for messages and
// for the spp and dense checks.
int64_t PooledSize(int64_t size, int64_t kernel, int64_t stride, int64_t padding) {
  int64_t span = size + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

// plain / dilated trunk: conv+ReLU layers with a 2/2 pool after every
// pool_every convs. Returns the spatial sizes after the trunk.
Shape AppendStackTrunk(const json& model, bool dilated, Shape spatial, LayerList* list,
                       int64_t* width_out) {
  const std::string path = "model";
  int64_t depth = ReadInt(model, "depth", path, 4, 1);
  int64_t kernel = OddKernel(model, 3);
  int64_t width = ReadInt(model, "width", path, 16, 1);
  std::string pool = ReadString(model, "pool", path, "none", {"none", "max", "avg"});
  int64_t pool_every = ReadInt(model, "pool_every", path, 0, 0);
  if (dilated && depth > 30) {
    Fail(ErrorCode::kInvalidInput,
         "model.depth: invalid value {}: a dilated stack doubles the dilation per "
         "layer, so at most 30 layers are supported",
         depth);
  }
  for (int64_t l = 0; l < depth; ++l) {
    int64_t dilation = dilated ? (int64_t{1} << l) : 1;
    list->Add(
        Conv(width, kernel, 1, dilation, true, fmt::format("model (conv layer {})", l)));
    if (pool != "none" && pool_every > 0 && (l + 1) % pool_every == 0) {
      LayerKind kind = pool == "max" ? LayerKind::kMaxPool : LayerKind::kAvgPool;
      list->Add(Pool(kind, 2, 2, fmt::format("model.pool (after conv layer {})", l)));
      for (int64_t& size : spatial)
        size = PooledSize(size, 2, 2, 0);
    }
  }
  *width_out = width;
  return spatial;
}

Shape FeatureShape(int64_t channels, int64_t size, size_t spatial_axes) {
  Shape shape = {channels};
  shape.insert(shape.end(), spatial_axes, size);
  return shape;
}

int64_t SquareSize(const Shape& sample_shape, const std::string& family) {
  if (sample_shape.size() == 3 && sample_shape[1] != sample_shape[2]) {
    Fail(ErrorCode::kInvalidInput,
         "model.family: \"{}\" needs square 2D inputs (square windows), but the task's "
         "samples are {}x{}",
         family, sample_shape[1], sample_shape[2]);
  }
  return sample_shape.back();
}

Expansion Finish(LayerList* list, int64_t feature_layer) {
  return Expansion{std::move(list->layers()), feature_layer};
}

Expansion ExpandStack(const json& model, bool dilated, const Shape& sample_shape,
                      int num_classes, Objective objective) {
  LayerList list;
  int64_t width = 0;
  Shape spatial(sample_shape.begin() + 1, sample_shape.end());
  Shape features = AppendStackTrunk(model, dilated, spatial, &list, &width);
  features.insert(features.begin(), width);
  int64_t feature_layer = list.last_layer();
  std::string head = ReadString(model, "head", "model", "gap",
                                {"gap", "flatten", "dense", "regression"});
  AppendHead(head, features, sample_shape, num_classes, objective, &list);
  return Finish(&list, feature_layer);
}

// strided: `depth` stages of layers_per_stage convs with 'same' padding. The
// first conv of each stage has stride s, so the effective stride is s^depth.
Expansion ExpandStrided(const json& model, const Shape& sample_shape, int num_classes,
                        Objective objective) {
  int64_t depth = ReadInt(model, "depth", "model", 3, 1);
  int64_t kernel = OddKernel(model, 3);
  int64_t width = ReadInt(model, "width", "model", 16, 1);
  int64_t stride = ReadInt(model, "stride", "model", 2, 2);
  int64_t per_stage = ReadInt(model, "layers_per_stage", "model", 1, 1);
  int64_t size = SquareSize(sample_shape, "strided");
  LayerList list;
  for (int64_t stage = 0; stage < depth; ++stage) {
    for (int64_t l = 0; l < per_stage; ++l) {
      int64_t conv_stride = l == 0 ? stride : 1;
      LayerSpec conv = Conv(width, kernel, conv_stride, 1, true,
                            fmt::format("model (stage {}, conv {})", stage, l));
      list.Add(conv);
      size = PooledSize(size, kernel, conv_stride, conv.padding);
    }
  }
  int64_t feature_layer = list.last_layer();
  std::string head =
      ReadString(model, "head", "model", "gap", {"gap", "flatten", "regression"});
  AppendHead(head, FeatureShape(width, size, sample_shape.size() - 1), sample_shape,
             num_classes, objective, &list);
  return Finish(&list, feature_layer);
}

// spp: a plain trunk, then one pool per level b with b bins per axis (window
// ceil(n / b), step floor(n / b)), the pooled features concatenated and a
// linear layer.
Expansion ExpandSpp(const json& model, const Shape& sample_shape, int num_classes,
                    Objective objective) {
  LayerList list;
  int64_t width = 0;
  int64_t size = SquareSize(sample_shape, "spp");
  size = AppendStackTrunk(model, false, {size}, &list, &width)[0];
  int64_t feature_layer = list.last_layer();
  int64_t features = list.last();
  std::vector<int64_t> levels = ReadIntArray(model, "levels", "model", {1, 2, 4}, 1);
  std::string spp_pool = ReadString(model, "spp_pool", "model", "max", {"max", "avg"});
  std::string head = ReadString(model, "head", "model", "spp", {"spp", "regression"});
  if (head == "regression" && objective != Objective::kRegression) {
    Fail(ErrorCode::kInvalidInput,
         "model.head: invalid value \"regression\": the task's targets are classes; use "
         "\"spp\"");
  }
  if (objective == Objective::kDenseClass) {
    Fail(ErrorCode::kInvalidInput,
         "model.family: \"spp\" pools to one vector per sample, but the task needs one "
         "class per position; use \"unet\" or a stack with head \"dense\"");
  }
  std::vector<int64_t> pooled;
  for (size_t i = 0; i < levels.size(); ++i) {
    int64_t bins = levels[i];
    int64_t window = (size + bins - 1) / bins;
    int64_t step = size / bins;
    if (bins > size || PooledSize(size, window, step, 0) != bins) {
      Fail(ErrorCode::kInvalidInput,
           "model.levels[{}]: invalid value {}: the trunk output has {} samples per "
           "axis, which cannot be split into {} bins; use fewer bins",
           i, bins, size, bins);
    }
    LayerKind kind = spp_pool == "max" ? LayerKind::kMaxPool : LayerKind::kAvgPool;
    pooled.push_back(list.Add(
        Pool(kind, window, step, fmt::format("model.levels[{}]", i)), {features}));
  }
  list.Add(Simple(LayerKind::kConcat, "model.levels"), pooled);
  LayerSpec linear = Simple(LayerKind::kLinear, "model.head");
  linear.out = num_classes;
  list.Add(linear);
  return Finish(&list, feature_layer);
}

// unet: `depth` levels of convs and a 2/2 max pool down, convs at the bottom,
// then per level a 2/2 transposed conv up, a concat with the skip tensor of
// that level and convs. Width doubles per level down.
Expansion ExpandUnet(const json& model, const Shape& sample_shape, int num_classes,
                     Objective objective) {
  int64_t depth = ReadInt(model, "depth", "model", 2, 1);
  int64_t kernel = OddKernel(model, 3);
  int64_t width = ReadInt(model, "width", "model", 8, 1);
  int64_t convs = ReadInt(model, "convs_per_level", "model", 2, 1);
  std::string default_head = objective == Objective::kDenseClass ? "dense" : "gap";
  std::string head = ReadString(model, "head", "model", default_head,
                                {"gap", "flatten", "dense", "regression"});
  int64_t size = SquareSize(sample_shape, "unet");
  if (depth > 20 || size % (int64_t{1} << depth) != 0) {
    Fail(ErrorCode::kInvalidInput,
         "model.depth: invalid value {}: a unet halves the input {} times, so the input "
         "size {} must be divisible by 2^{}",
         depth, depth, size, depth);
  }
  LayerList list;
  auto conv_block = [&](int64_t channels, const std::string& where) {
    for (int64_t c = 0; c < convs; ++c) {
      list.Add(Conv(channels, kernel, 1, 1, true,
                    fmt::format("model ({} conv {})", where, c)));
    }
  };
  std::vector<int64_t> skips;
  for (int64_t level = 0; level < depth; ++level) {
    conv_block(width << level, fmt::format("down level {}", level));
    skips.push_back(list.last());
    list.Add(
        Pool(LayerKind::kMaxPool, 2, 2, fmt::format("model (down level {})", level)));
  }
  conv_block(width << depth, "bottom");
  for (int64_t level = depth - 1; level >= 0; --level) {
    LayerSpec up = Simple(LayerKind::kDeconv, fmt::format("model (up level {})", level));
    up.out = width << level;
    up.kernel = 2;
    up.stride = 2;
    list.Add(up);
    int64_t upsampled = list.Add(Simple(LayerKind::kRelu, up.path));
    list.Add(Simple(LayerKind::kConcat, fmt::format("model (skip level {})", level)),
             {upsampled, skips[level]});
    conv_block(width << level, fmt::format("up level {}", level));
  }
  int64_t feature_layer = list.last_layer();
  AppendHead(head, FeatureShape(width, size, sample_shape.size() - 1), sample_shape,
             num_classes, objective, &list);
  return Finish(&list, feature_layer);
}

// fpn: a bottom-up path of conv blocks with a 2/2 max pool between levels,
// then a top-down path that starts from a 1x1 lateral conv of the coarsest
// level and per finer level adds a 2/2 transposed conv of the coarser result
// to a 1x1 lateral conv of that level, and a final conv+ReLU. Every level has
// `width` channels and the features keep the input resolution.
Expansion ExpandFpn(const json& model, const Shape& sample_shape, int num_classes,
                    Objective objective) {
  int64_t depth = ReadInt(model, "depth", "model", 2, 1);
  int64_t kernel = OddKernel(model, 3);
  int64_t width = ReadInt(model, "width", "model", 16, 1);
  int64_t convs = ReadInt(model, "convs_per_level", "model", 1, 1);
  std::string default_head = objective == Objective::kDenseClass ? "dense" : "gap";
  std::string head = ReadString(model, "head", "model", default_head,
                                {"gap", "flatten", "dense", "regression"});
  int64_t size = SquareSize(sample_shape, "fpn");
  if (depth > 20 || size % (int64_t{1} << depth) != 0) {
    Fail(ErrorCode::kInvalidInput,
         "model.depth: invalid value {}: an fpn halves the input {} times, so the input "
         "size {} must be divisible by 2^{}",
         depth, depth, size, depth);
  }
  LayerList list;
  std::vector<int64_t> levels;  // output tensor of each bottom-up level
  for (int64_t level = 0; level <= depth; ++level) {
    if (level > 0) {
      list.Add(
          Pool(LayerKind::kMaxPool, 2, 2, fmt::format("model (level {} pool)", level)));
    }
    for (int64_t c = 0; c < convs; ++c) {
      list.Add(Conv(width, kernel, 1, 1, true,
                    fmt::format("model (level {} conv {})", level, c)));
    }
    levels.push_back(list.last());
  }
  int64_t top =
      list.Add(Conv(width, 1, 1, 1, false, fmt::format("model (lateral {})", depth)),
               {levels[depth]});
  for (int64_t level = depth - 1; level >= 0; --level) {
    LayerSpec up = Simple(LayerKind::kDeconv, fmt::format("model (top-down {})", level));
    up.out = width;
    up.kernel = 2;
    up.stride = 2;
    int64_t upsampled = list.Add(up, {top});
    int64_t lateral =
        list.Add(Conv(width, 1, 1, 1, false, fmt::format("model (lateral {})", level)),
                 {levels[level]});
    top = list.Add(Simple(LayerKind::kAdd, fmt::format("model (merge {})", level)),
                   {upsampled, lateral});
  }
  list.Add(Conv(width, kernel, 1, 1, true, "model (output conv)"));
  int64_t feature_layer = list.last_layer();
  AppendHead(head, FeatureShape(width, size, sample_shape.size() - 1), sample_shape,
             num_classes, objective, &list);
  return Finish(&list, feature_layer);
}

// attention: a stem conv (stride = patch), a positional encoding, then
// `depth` blocks of multi-head self-attention over all positions and a
// two-layer 1x1-conv MLP, each with a residual add.
Expansion ExpandAttention(const json& model, const Shape& sample_shape, int num_classes,
                          Objective objective) {
  int64_t depth = ReadInt(model, "depth", "model", 2, 1);
  int64_t kernel = OddKernel(model, 3);
  int64_t width = ReadInt(model, "width", "model", 16, 1);
  int64_t patch = ReadInt(model, "patch", "model", 1, 1);
  int64_t heads = ReadInt(model, "heads", "model", 1, 1);
  std::string positional = ReadString(model, "positional", "model", "sinusoidal",
                                      {"sinusoidal", "learned", "none"});
  std::string head = ReadString(model, "head", "model", "gap",
                                {"gap", "flatten", "dense", "regression"});
  int64_t size = SquareSize(sample_shape, "attention");

  LayerList list;
  list.Add(Conv(width, kernel, patch, 1, true, "model (stem conv)"));
  size = PooledSize(size, kernel, patch, (kernel - 1) / 2);
  if (positional != "none") {
    LayerSpec encoding = Simple(LayerKind::kPositional, "model.positional");
    encoding.learned = positional == "learned";
    list.Add(encoding);
  }
  for (int64_t block = 0; block < depth; ++block) {
    std::string where = fmt::format("model (attention block {})", block);
    int64_t x = list.last();
    int64_t q = list.Add(Conv(width, 1, 1, 1, false, where + " query"), {x});
    int64_t k = list.Add(Conv(width, 1, 1, 1, false, where + " key"), {x});
    int64_t v = list.Add(Conv(width, 1, 1, 1, false, where + " value"), {x});
    LayerSpec attention = Simple(LayerKind::kAttention, where);
    attention.heads = heads;
    list.Add(attention, {q, k, v});
    int64_t projected = list.Add(Conv(width, 1, 1, 1, false, where + " output"));
    x = list.Add(Simple(LayerKind::kAdd, where + " residual"), {x, projected});
    list.Add(Conv(2 * width, 1, 1, 1, true, where + " mlp"));
    int64_t mlp = list.Add(Conv(width, 1, 1, 1, false, where + " mlp"));
    list.Add(Simple(LayerKind::kAdd, where + " mlp residual"), {x, mlp});
  }
  int64_t feature_layer = list.last_layer();
  AppendHead(head, FeatureShape(width, size, sample_shape.size() - 1), sample_shape,
             num_classes, objective, &list);
  return Finish(&list, feature_layer);
}

}  // namespace

Expansion ExpandFamily(const std::string& family, const json& model,
                       const Shape& sample_shape, int num_classes, Objective objective) {
  if (family == "plain" || family == "dilated") {
    return ExpandStack(model, family == "dilated", sample_shape, num_classes, objective);
  }
  if (family == "strided")
    return ExpandStrided(model, sample_shape, num_classes, objective);
  if (family == "spp") return ExpandSpp(model, sample_shape, num_classes, objective);
  if (family == "unet") return ExpandUnet(model, sample_shape, num_classes, objective);
  if (family == "fpn") return ExpandFpn(model, sample_shape, num_classes, objective);
  if (family == "attention") {
    return ExpandAttention(model, sample_shape, num_classes, objective);
  }
  Fail(ErrorCode::kInternal, "no expansion for model family \"{}\"", family);
}

}  // namespace scalelock::families
