// Internals of Network shared by its source files (network.cpp: passes,
// conv, pool, relu, linear, loss; network_graph.cpp: deconv, concat, add,
// positional encoding, attention and gradient sums). Not a public interface.
#pragma once

#include <dnnl.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "model/network.h"

namespace scalelock {

namespace network_detail {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

inline memory::dims BatchDims(int64_t batch, const Shape& shape) {
  memory::dims dims = {batch};
  dims.insert(dims.end(), shape.begin(), shape.end());
  return dims;
}

inline Tag PlainTag(size_t ndims) {
  switch (ndims) {
    case 1:
      return Tag::x;
    case 2:
      return Tag::nc;
    case 3:
      return Tag::ncw;
    default:
      return Tag::nchw;
  }
}

inline Tag PlainWeightsTag(size_t ndims) {
  switch (ndims) {
    case 1:
      return Tag::x;
    case 2:
      return Tag::oi;
    case 3:
      return Tag::oiw;
    default:
      return Tag::oihw;
  }
}

inline dnnl::primitive_attr ScratchpadAttr(bool fused_relu = false) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (fused_relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

// True when oneDNN chose its slow reference implementation.
inline bool IsReference(const dnnl::primitive_desc_base& pd) {
  return std::string(pd.impl_info_str()).rfind("ref", 0) == 0;
}

// A primitive with its arguments bound once, executed through the C API so
// that a step builds no argument vectors.
struct Exec {
  dnnl::primitive primitive;
  std::vector<std::pair<int, memory>> bound;  // keeps the memories alive
  std::vector<dnnl_exec_arg_t> args;

  void Run(const dnnl::stream& stream) const {
    dnnl::error::wrap_c_api(
        dnnl_primitive_execute(primitive.get(), stream.get(),
                               static_cast<int>(args.size()), args.data()),
        "could not execute a primitive");
  }
};

// One forward graph at one batch size (training or inference), plus, for
// training, the backward graph.
struct Pass {
  int64_t batch = 0;
  bool training = false;
  memory input;               // plain NC(H)W view of the caller's inputs
  std::vector<memory> acts;   // acts[0] = layer 0 input, acts[i+1] = layer i out
  std::vector<memory> diffs;  // gradients of acts (training only)
  memory logp;       // log-softmax of the logits (predictions for kRegression), plain
  memory loss_diff;  // d(loss)/d(output), plain; reordered into diffs.back()
  // Per tensor: gradient buffers of its readers when it has several, summed
  // into diffs[tensor] by a sum primitive.
  std::vector<std::vector<memory>> partials;
  std::vector<Exec> weight_sync;  // plain params -> primitive layouts
  std::vector<Exec> forward;      // input reorder, layers, log-softmax
  std::vector<Exec> backward;     // layers in reverse, grads -> plain params
  bool weights_current = false;   // weight_sync ran since the last update
  // Param copies in primitive layouts: (param index, layout, memory).
  std::vector<std::tuple<size_t, memory::desc, memory>> weight_views;
};

// Training targets of a batch: labels (kClass, kDenseClass) or values
// (kRegression); the other pointer is null.
struct Targets {
  const int32_t* labels = nullptr;
  const float* values = nullptr;
};

// Sums over evaluated outputs.
struct EvalTally {
  int64_t correct = 0;        // argmax hits (classes)
  double absolute_error = 0;  // sum of |prediction - target| (regression)
};

}  // namespace network_detail

using namespace network_detail;

struct Network::Impl {
  NetSpec spec;
  NetworkOptions options;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  mutable dnnl::stream stream{engine};  // in-order; waited on after each pass
  std::vector<Param> params;
  std::vector<memory> plain_values;  // wraps params[i].value
  std::vector<memory> plain_grads;   // wraps params[i].grad
  std::vector<size_t> first_param;   // per layer: index of its weights, or npos
  std::vector<int> uses;             // per tensor: number of layer inputs reading it
  // Per layer: the sinusoidal table {C, spatial...} of a positional layer.
  std::vector<std::vector<float>> sinusoids;
  Pass train;
  Pass eval;
  std::vector<float> eval_inputs;  // eval_batch_size samples, zero-padded
  size_t scratchpad_size = 0;
  memory scratchpad;

  Impl(const NetSpec& net_spec, const NetworkOptions& network_options);
  void CreateParams();
  void BuildPass(Pass* pass, int64_t batch, bool training);
  memory BuildLayer(Pass* pass, size_t index, const memory& src_in);
  memory BuildConv(Pass* pass, size_t index, const memory& src_in);
  memory BuildPool(Pass* pass, size_t index, const memory& src);
  memory BuildRelu(Pass* pass, size_t index, const memory& src);
  memory BuildLinear(Pass* pass, size_t index, const memory& src);
  memory BuildDeconv(Pass* pass, size_t index, const memory& src_in);
  memory BuildConcat(Pass* pass, size_t index);
  memory BuildAdd(Pass* pass, size_t index);
  memory BuildPositional(Pass* pass, size_t index);
  memory BuildAttention(Pass* pass, size_t index);
  std::vector<Exec> BuildGradientSums(Pass* pass,
                                      std::vector<std::vector<Exec>>* backward_by_layer);
  void BuildLoss(Pass* pass);
  void BindScratchpad();

  Exec MakeExec(const dnnl::primitive& primitive,
                std::vector<std::pair<int, memory>> bound);
  void Track(const dnnl::primitive_desc_base& pd);
  memory Conform(Pass* pass, const memory& src, const memory::desc& required);
  memory WeightView(Pass* pass, size_t param, const memory::desc& required);
  memory Reordered(Pass* pass, const memory& src, const memory::desc& required,
                   memory target = memory());
  memory GradTarget(size_t param, const memory::desc& layout, std::vector<Exec>* after);
  memory DiffOf(Pass* pass, size_t act_index);
  memory DiffSlot(Pass* pass, size_t layer, size_t slot);
  memory PlainInput(Pass* pass, int64_t tensor);
  memory PlainView(const memory& mem, const memory::dims& dims) const;
  void CopyDiff(Pass* pass, const memory& from, size_t layer, size_t slot);
  int64_t InputOf(size_t layer) const { return spec.layers[layer].inputs[0]; }
  bool NeedsDiffSrc(int64_t tensor) const { return tensor > 0 || options.input_gradient; }

  void RunForward(Pass* pass);
  double Loss(const Pass& pass, const Targets& targets, int64_t count, bool backward,
              EvalTally* tally);
  void CheckTargets(const Targets& targets) const;
  double Step(const float* inputs, const Targets& targets, bool backward);
  EvalResult EvaluateAll(const float* inputs, const Targets& targets, int64_t count);
  std::vector<float> ToPlain(const memory& mem) const;
};

}  // namespace scalelock
