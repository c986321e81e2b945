// Network description: the layer graph that a "model" config expands to, with
// the per-sample shape of every tensor, and the numbers derived from it
// (parameters, FLOPs, receptive field, stride, padding).
//
// Tensors are numbered: tensor 0 is the network input and tensor i + 1 is the
// output of layers[i]. A layer reads the tensors listed in its inputs, all of
// them earlier, so the layer list is in topological order; a chain lists
// inputs = {i} for layer i. The last layer's output is the network output.
//
// BuildNetSpec throws Error(kInvalidInput) naming the JSON path of a bad or
// inconsistent field. Everything here is plain data and thread-safe to share.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace scalelock {

enum class LayerKind {
  kConv,
  kRelu,
  kMaxPool,
  kAvgPool,
  kGlobalAvgPool,
  kLinear,
  kDeconv,      // transposed convolution (stride = kernel in the built-in families)
  kConcat,      // concatenation of the inputs' per-sample vectors (see OutputShape)
  kAdd,         // element-wise sum of two inputs of equal shape
  kAttention,   // softmax(Q^T K / sqrt(d)) applied to V per head; inputs Q, K, V
  kPositional,  // adds a positional encoding: sinusoidal, or learned (a param)
};

const char* LayerKindName(LayerKind kind);

// What the network output is trained against, from the task's target kind.
enum class Objective {
  kClass,       // num_classes logits per sample, softmax cross-entropy
  kDenseClass,  // num_classes logits per position, per-position cross-entropy
  kRegression,  // num_classes real outputs per sample, mean squared error
};

// One layer. Spatial parameters apply to every spatial axis (square kernels).
struct LayerSpec {
  LayerKind kind = LayerKind::kConv;
  int64_t out = 0;              // output channels (conv, deconv) or features (linear)
  int64_t kernel = 1;           // window size in samples (conv, deconv, pools)
  int64_t stride = 1;           // step in samples (conv, deconv, pools)
  int64_t padding = 0;          // zeros added on each side, in samples
  int64_t dilation = 1;         // distance between kernel taps; 1 = dense (conv)
  bool fused_relu = false;      // conv followed by ReLU, run as a conv post-op
  bool learned = false;         // kPositional: a trained table instead of sinusoids
  int64_t heads = 1;            // kAttention: heads, each over channels / heads
  std::vector<int64_t> inputs;  // tensor indices read (see the file comment)
  std::string path;             // JSON path for messages, e.g. "model.layers[2]"
};

// Per-sample shape: {C, W...} for spatial tensors, {features} otherwise.
using Shape = std::vector<int64_t>;

struct NetSpec {
  Shape input;  // {C, W} (1D net) or {C, H, W} (2D net)
  // Outputs per sample (kClass, kRegression) or per position (kDenseClass).
  int num_classes = 0;
  Objective objective = Objective::kClass;
  std::vector<LayerSpec> layers;  // topological order; the last one is the head
  std::vector<Shape> shapes;      // shapes[t] = shape of tensor t (layers + 1 entries)
  // Index of the last layer of the trunk: the spatial features that the head
  // reads. The receptive field and the effective receptive field are those of
  // this layer's output.
  int64_t feature_layer = 0;
};

// Expands a model config (family "plain", "dilated", "strided", "spp",
// "unet", "fpn", "attention" or "custom", see docs/families.md) for a task whose
// samples have sample_shape ({C, W} or {C, H, W}). num_classes is the number
// of outputs: classes for kClass and kDenseClass, the target dimension for
// kRegression. A conv directly followed by a relu becomes one conv with
// fused_relu set.
NetSpec BuildNetSpec(const nlohmann::json& model, const Shape& sample_shape,
                     int num_classes, Objective objective = Objective::kClass);

// Numbers derived from a NetSpec without running it.
struct NetStats {
  int64_t params = 0;  // weights + biases (+ learned positional tables), exact
  // Forward FLOPs per sample: 2 per multiply-add in conv, deconv, linear and
  // attention matrix products, 1 per output element for ReLU (fused or not),
  // pools, adds, positional encodings and the attention softmax. Bias
  // additions and the loss softmax are not counted.
  double forward_flops = 0.0;
  // Receptive field in input samples per axis of the feature layer (see
  // NetSpec::feature_layer), the largest over all paths: a conv or pool adds
  // (d(k-1)+1 - 1) * jump, a deconv with kernel k and stride s adds
  // (ceil(k/s) - 1) * jump / s, an attention layer over L positions adds
  // (L - 1) * jump, so every output depends on the whole input.
  // NOTE: after a transposed conv the exact RF varies between neighbouring
  // outputs; this path-wise value lies between the minimum and the maximum
  // that `scalelock rf` reports (rf_min and rf), and can be below the maximum.
  int64_t receptive_field = 1;
  int64_t effective_stride = 1;  // input samples between neighbouring features
  // Zero-padding samples left of input position 0 that the first feature's
  // receptive field reaches: sum over windowed layers of padding * jump,
  // the largest over all paths. A padded sample after a transposed conv
  // counts at its own spacing. The rf module maps it back through the
  // transposed conv instead, so for U-Nets it reports more.
  int64_t effective_padding = 0;
  int64_t width = 0;     // largest conv or deconv output channel count
  int64_t depth = 0;     // number of conv and deconv layers
  int64_t kernel = 0;    // largest conv kernel
  int64_t dilation = 1;  // largest conv dilation
};

NetStats ComputeNetStats(const NetSpec& net);

// Element count of a per-sample shape.
int64_t ShapeSize(const Shape& shape);

// Copy of net cut after layer `last` (its output becomes the network output,
// objective kClass with num_classes = its channel count). Used by the
// effective receptive field probe.
NetSpec TruncateNetSpec(const NetSpec& net, int64_t last);

}  // namespace scalelock
