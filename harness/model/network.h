// Network: a NetSpec built from oneDNN primitives for training (forward,
// loss, backward) and for evaluation. The loss follows NetSpec::objective:
// softmax cross-entropy per sample (kClass) or per position (kDenseClass,
// averaged over samples and positions), or mean squared error (kRegression,
// averaged over samples and outputs).
//
// A tensor read by several layers gets the sum of their gradients (a oneDNN
// sum primitive). Attention, concatenation, addition and positional layers
// work in plain layouts; matmul has no backward primitive, so the attention
// backward is built from four more matmuls and a softmax backward.
//
// Every primitive, activation buffer and the one user-mode scratchpad are
// created in the constructor; TrainStep and Evaluate allocate nothing.
// Activations stay in the layouts oneDNN picks (format_tag::any). A reorder
// runs only where a primitive's chosen layout differs from its input's.
// Parameters live in plain layouts (oiw/oihw weights, x biases), which the
// optimizer updates; the network reorders them into primitive layouts when
// MarkParamsChanged was called.
//
// The constructor uses the OpenMP thread count of the calling thread; create
// and use a Network from one thread. Throws Error(kInvalidInput) for a batch
// size < 1 and dnnl::error when oneDNN rejects a primitive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/net_spec.h"

namespace scalelock {

// One trainable tensor in plain layout. The network's primitives read and
// write these buffers in place: change elements, never resize or reassign.
struct Param {
  std::string name;           // e.g. "layers[2].weights"
  std::vector<int64_t> dims;  // {O, I, kW}, {O, I, kH, kW}, {O, I...} or {O}
  std::vector<float> value;   // the tensor, row-major over dims
  std::vector<float> grad;    // d(mean batch loss)/d(value) of the last TrainStep
};

struct NetworkOptions {
  int64_t batch_size = 32;        // samples per TrainStep
  int64_t eval_batch_size = 256;  // samples per inference pass in Evaluate
  uint64_t seed = 0;              // parameter initialization
  bool input_gradient = false;    // also compute d(loss)/d(input) (tests)
};

struct EvalResult {
  double loss = 0.0;      // mean cross-entropy, or mean squared error (kRegression)
  double accuracy = 0.0;  // fraction of argmax(logits) == label (per position for
                          // kDenseClass); 0 for kRegression
  double mae = 0.0;       // mean absolute error (kRegression only)
};

class Network {
 public:
  // Builds every primitive and initializes weights Kaiming-uniform
  // (bound sqrt(6 / fan_in)) from options.seed, biases 0.
  Network(const NetSpec& spec, const NetworkOptions& options);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  // Runs forward, loss and backward on batch_size samples (inputs in NCW or
  // NCHW order, labels in [0, num_classes): one per sample, or one per
  // position for kDenseClass). Fills every Param::grad and returns the mean
  // loss. Throws Error(kInvalidInput) on a label out of range or when the
  // objective is kRegression.
  double TrainStep(const float* inputs, const int32_t* labels);
  // The same for kRegression: targets has batch_size * num_classes values.
  double TrainStep(const float* inputs, const float* targets);

  // Forward pass in training mode and the mean loss, without backward.
  double ForwardLoss(const float* inputs, const int32_t* labels);
  double ForwardLoss(const float* inputs, const float* targets);

  // Evaluates count samples in inference mode, eval_batch_size at a time.
  EvalResult Evaluate(const float* inputs, const int32_t* labels, int64_t count);
  EvalResult Evaluate(const float* inputs, const float* targets, int64_t count);

  // Runs forward on batch_size inputs, then backward from output_gradient
  // (d(something)/d(output), plain layout, batch_size * output size values)
  // instead of from the loss, and returns the gradient at the input (plain).
  // Also overwrites every Param::grad. Needs options.input_gradient.
  std::vector<float> BackwardFromOutput(const float* inputs,
                                        const std::vector<float>& output_gradient);

  std::vector<Param>& params();
  // Must be called after params() values change, before the next pass.
  void MarkParamsChanged();

  // Output of layer `layer` in the last training forward pass, plain NC(H)W
  // (or NC after a linear), batch_size samples.
  std::vector<float> Activation(size_t layer) const;
  // d(mean loss)/d(input) of the last TrainStep, plain NCW or NCHW; needs
  // options.input_gradient.
  std::vector<float> InputGradient() const;

  // Bytes of the shared user-mode scratchpad.
  size_t scratchpad_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scalelock
