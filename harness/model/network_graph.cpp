// Network layers beyond the plain chain: transposed convolution,
// concatenation, addition, positional encoding, self-attention, and the sums
// of gradients of tensors that several layers read.
#include <cmath>
#include <dnnl.hpp>

#include "model/network_impl.h"
#include "util/error.h"

namespace scalelock {

namespace {

memory::desc PlainDesc(const memory::dims& dims) {
  return memory::desc(dims, kF32, PlainTag(dims.size()));
}

// {batch, rows, cols} view of a row-major {batch, cols, rows} buffer: the
// transpose of each matrix, without a copy.
memory::desc TransposedDesc(int64_t batch, int64_t rows, int64_t cols) {
  return memory::desc({batch, rows, cols}, kF32, memory::dims{rows * cols, 1, rows});
}

dnnl::primitive_attr ScaledAttr(float scale) {
  dnnl::primitive_attr attr = ScratchpadAttr();
  attr.set_output_scales(0, {scale});
  return attr;
}

}  // namespace

// The gradient buffer that layer `layer` writes for its input `slot`: the
// tensor's own gradient when only this input reads it, else a private
// buffer that BuildGradientSums adds up.
memory Network::Impl::DiffSlot(Pass* pass, size_t layer, size_t slot) {
  int64_t tensor = spec.layers[layer].inputs[slot];
  if (uses[tensor] == 1) return DiffOf(pass, tensor);
  memory partial(pass->acts[tensor].get_desc(), engine);
  pass->partials[tensor].push_back(partial);
  return partial;
}

// The tensor in plain layout, in a buffer whose address is fixed at build
// time (so views of it stay valid): the tensor itself or a forward reorder.
// The network input is always copied because its address changes per call.
memory Network::Impl::PlainInput(Pass* pass, int64_t tensor) {
  memory src = pass->acts[tensor];
  memory::desc plain = PlainDesc(src.get_desc().dims());
  if (tensor > 0 && src.get_desc() == plain) return src;
  memory copy(plain, engine);
  dnnl::reorder::primitive_desc pd(engine, src.get_desc(), engine, plain,
                                   ScratchpadAttr());
  Track(pd);
  pass->forward.push_back(
      MakeExec(dnnl::reorder(pd), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, copy}}));
  return copy;
}

// A plain view with other dims of the same elements of a plain buffer.
memory Network::Impl::PlainView(const memory& mem, const memory::dims& dims) const {
  return memory(PlainDesc(dims), engine, mem.get_data_handle());
}

// Appends to the backward list a copy (reorder) of `from` into the gradient
// buffer of input `slot` of layer `layer`.
void Network::Impl::CopyDiff(Pass* pass, const memory& from, size_t layer, size_t slot) {
  memory target = DiffSlot(pass, layer, slot);
  dnnl::reorder::primitive_desc pd(engine, from.get_desc(), engine, target.get_desc(),
                                   ScratchpadAttr());
  Track(pd);
  pass->backward.push_back(
      MakeExec(dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, target}}));
}

memory Network::Impl::BuildDeconv(Pass* pass, size_t index, const memory& src_in) {
  const LayerSpec& layer = spec.layers[index];
  const size_t axes = spec.shapes[InputOf(index)].size() - 1;
  memory::dims strides(axes, layer.stride);
  memory::dims padding(axes, layer.padding);
  size_t weights = first_param[index];
  memory::desc weights_any(params[weights].dims, kF32, Tag::any);
  memory::desc bias_md({layer.out}, kF32, Tag::x);
  memory::desc src_any(src_in.get_desc().dims(), kF32, Tag::any);
  memory::desc dst_any(BatchDims(pass->batch, spec.shapes[index + 1]), kF32, Tag::any);
  auto prop = pass->training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  const auto algorithm = dnnl::algorithm::deconvolution_direct;
  dnnl::deconvolution_forward::primitive_desc fwd_pd(
      {prop, algorithm, src_any, weights_any, bias_md, dst_any, strides, padding,
       padding},
      ScratchpadAttr(), engine);
  Track(fwd_pd);
  memory src = Conform(pass, src_in, fwd_pd.src_desc());
  memory dst(fwd_pd.dst_desc(), engine);
  pass->forward.push_back(
      MakeExec(dnnl::deconvolution_forward(fwd_pd),
               {{DNNL_ARG_SRC, src},
                {DNNL_ARG_WEIGHTS, WeightView(pass, weights, fwd_pd.weights_desc())},
                {DNNL_ARG_BIAS, WeightView(pass, weights + 1, fwd_pd.bias_desc())},
                {DNNL_ARG_DST, dst}}));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  memory::desc diff_dst_any(dst.get_desc().dims(), kF32, Tag::any);
  dnnl::deconvolution_backward_weights::primitive_desc bwd_weights_pd(
      {algorithm, src_any, weights_any, bias_md, diff_dst_any, strides, padding, padding},
      ScratchpadAttr(), engine, fwd_pd);
  Track(bwd_weights_pd);
  memory src_bwd = Reordered(pass, src, bwd_weights_pd.src_desc());
  memory diff_dst_bwd = Reordered(pass, diff_dst, bwd_weights_pd.diff_dst_desc());
  std::vector<Exec> grad_reorders;
  memory diff_weights =
      GradTarget(weights, bwd_weights_pd.diff_weights_desc(), &grad_reorders);
  memory diff_bias =
      GradTarget(weights + 1, bwd_weights_pd.diff_bias_desc(), &grad_reorders);
  pass->backward.push_back(MakeExec(dnnl::deconvolution_backward_weights(bwd_weights_pd),
                                    {{DNNL_ARG_SRC, src_bwd},
                                     {DNNL_ARG_DIFF_DST, diff_dst_bwd},
                                     {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                                     {DNNL_ARG_DIFF_BIAS, diff_bias}}));
  for (Exec& exec : grad_reorders)
    pass->backward.push_back(std::move(exec));
  if (!NeedsDiffSrc(InputOf(index))) return dst;

  dnnl::deconvolution_backward_data::primitive_desc bwd_data_pd(
      {algorithm, src_any, weights_any, diff_dst_any, strides, padding, padding},
      ScratchpadAttr(), engine, fwd_pd);
  Track(bwd_data_pd);
  memory diff_dst_data = bwd_data_pd.diff_dst_desc() == diff_dst_bwd.get_desc()
                             ? diff_dst_bwd
                             : Reordered(pass, diff_dst, bwd_data_pd.diff_dst_desc());
  memory diff_src = DiffSlot(pass, index, 0);
  memory diff_src_out = diff_src.get_desc() == bwd_data_pd.diff_src_desc()
                            ? diff_src
                            : memory(bwd_data_pd.diff_src_desc(), engine);
  pass->backward.push_back(
      MakeExec(dnnl::deconvolution_backward_data(bwd_data_pd),
               {{DNNL_ARG_DIFF_DST, diff_dst_data},
                {DNNL_ARG_WEIGHTS, WeightView(pass, weights, bwd_data_pd.weights_desc())},
                {DNNL_ARG_DIFF_SRC, diff_src_out}}));
  if (diff_src_out != diff_src)
    Reordered(pass, diff_src_out, diff_src.get_desc(), diff_src);
  return dst;
}

// Concatenates the inputs' per-sample vectors ({batch, size} views of plain
// buffers) along axis 1; in NC(H)W order this is the channel concatenation.
// The backward copies each input's slice of the output gradient.
memory Network::Impl::BuildConcat(Pass* pass, size_t index) {
  const LayerSpec& layer = spec.layers[index];
  const int64_t batch = pass->batch;
  const int64_t total = ShapeSize(spec.shapes[index + 1]);
  std::vector<memory::desc> flat_mds;
  std::vector<std::pair<int, memory>> args;
  for (size_t slot = 0; slot < layer.inputs.size(); ++slot) {
    int64_t tensor = layer.inputs[slot];
    memory flat =
        PlainView(PlainInput(pass, tensor), {batch, ShapeSize(spec.shapes[tensor])});
    flat_mds.push_back(flat.get_desc());
    args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(slot), flat);
  }
  memory dst(PlainDesc(BatchDims(batch, spec.shapes[index + 1])), engine);
  memory flat_dst = PlainView(dst, {batch, total});
  dnnl::concat::primitive_desc pd(flat_dst.get_desc(), 1, flat_mds, engine,
                                  ScratchpadAttr());
  Track(pd);
  args.emplace_back(DNNL_ARG_DST, flat_dst);
  pass->forward.push_back(MakeExec(dnnl::concat(pd), args));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  memory::desc flat_diff = PlainDesc({batch, total});
  int64_t offset = 0;
  for (size_t slot = 0; slot < layer.inputs.size(); ++slot) {
    int64_t tensor = layer.inputs[slot];
    int64_t size = ShapeSize(spec.shapes[tensor]);
    offset += size;
    if (!NeedsDiffSrc(tensor)) continue;
    memory slice(flat_diff.submemory_desc({batch, size}, {0, offset - size}), engine,
                 diff_dst.get_data_handle());
    memory plain(PlainDesc({batch, size}), engine);
    dnnl::reorder::primitive_desc copy_pd(engine, slice.get_desc(), engine,
                                          plain.get_desc(), ScratchpadAttr());
    Track(copy_pd);
    pass->backward.push_back(
        MakeExec(dnnl::reorder(copy_pd), {{DNNL_ARG_FROM, slice}, {DNNL_ARG_TO, plain}}));
    CopyDiff(pass, PlainView(plain, BatchDims(batch, spec.shapes[tensor])), index, slot);
  }
  return dst;
}

// Element-wise sum of two inputs; both receive the output gradient.
memory Network::Impl::BuildAdd(Pass* pass, size_t index) {
  const LayerSpec& layer = spec.layers[index];
  memory a = PlainInput(pass, layer.inputs[0]);
  memory b = PlainInput(pass, layer.inputs[1]);
  memory dst(a.get_desc(), engine);
  dnnl::binary::primitive_desc pd(
      {dnnl::algorithm::binary_add, a.get_desc(), b.get_desc(), dst.get_desc()},
      ScratchpadAttr(), engine);
  Track(pd);
  pass->forward.push_back(MakeExec(
      dnnl::binary(pd), {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, dst}}));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  for (size_t slot = 0; slot < 2; ++slot) {
    if (NeedsDiffSrc(layer.inputs[slot])) CopyDiff(pass, diff_dst, index, slot);
  }
  return dst;
}

// Adds the positional table, broadcast over the batch. A learned table's
// gradient is the output gradient summed over the batch (a reduction).
memory Network::Impl::BuildPositional(Pass* pass, size_t index) {
  const LayerSpec& layer = spec.layers[index];
  const int64_t tensor = layer.inputs[0];
  memory src = PlainInput(pass, tensor);
  memory::dims table_dims = BatchDims(1, spec.shapes[tensor]);
  memory table = layer.learned
                     ? PlainView(plain_values[first_param[index]], table_dims)
                     : memory(PlainDesc(table_dims), engine, sinusoids[index].data());
  memory dst(src.get_desc(), engine);
  dnnl::binary::primitive_desc pd(
      {dnnl::algorithm::binary_add, src.get_desc(), table.get_desc(), dst.get_desc()},
      ScratchpadAttr(), engine);
  Track(pd);
  pass->forward.push_back(
      MakeExec(dnnl::binary(pd),
               {{DNNL_ARG_SRC_0, src}, {DNNL_ARG_SRC_1, table}, {DNNL_ARG_DST, dst}}));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  if (layer.learned) {
    memory grad = PlainView(plain_grads[first_param[index]], table_dims);
    dnnl::reduction::primitive_desc sum_pd(
        {dnnl::algorithm::reduction_sum, diff_dst.get_desc(), grad.get_desc(), 0.0f,
         0.0f},
        ScratchpadAttr(), engine);
    Track(sum_pd);
    pass->backward.push_back(MakeExec(dnnl::reduction(sum_pd),
                                      {{DNNL_ARG_SRC, diff_dst}, {DNNL_ARG_DST, grad}}));
  }
  if (NeedsDiffSrc(tensor)) CopyDiff(pass, diff_dst, index, 0);
  return dst;
}

// Attention over the L positions of each sample. Head h uses channels
// [h d, (h + 1) d) with d = C / heads, so in NC(H)W order the heads are a
// batch of N * heads matrices Q, K, V of shape {d, L}: S = Q^T K / sqrt(d),
// P = softmax(S) over keys (axis 2), O = V P^T. Backward: dV = dO P,
// dP = dO^T V, dS = softmax_backward(P, dP), dQ = K dS^T / sqrt(d),
// dK = Q dS / sqrt(d). Transposes are strided views.
memory Network::Impl::BuildAttention(Pass* pass, size_t index) {
  const LayerSpec& layer = spec.layers[index];
  const Shape& shape = spec.shapes[layer.inputs[0]];
  const int64_t n = pass->batch * layer.heads;  // matrices: samples x heads
  const int64_t c = shape[0] / layer.heads;
  const int64_t l = ShapeSize(shape) / shape[0];  // positions
  const float scale = 1.0f / std::sqrt(static_cast<float>(c));
  memory q = PlainInput(pass, layer.inputs[0]);
  memory k = PlainInput(pass, layer.inputs[1]);
  memory v = PlainInput(pass, layer.inputs[2]);
  memory q_t(TransposedDesc(n, l, c), engine, q.get_data_handle());
  memory matrix_q = PlainView(q, {n, c, l});
  memory matrix_k = PlainView(k, {n, c, l});
  memory matrix_v = PlainView(v, {n, c, l});
  memory scores(PlainDesc({n, l, l}), engine);
  memory probs(PlainDesc({n, l, l}), engine);
  memory probs_t(TransposedDesc(n, l, l), engine, probs.get_data_handle());
  memory dst(PlainDesc(BatchDims(pass->batch, spec.shapes[index + 1])), engine);
  memory matrix_out = PlainView(dst, {n, c, l});

  auto matmul = [&](const memory& a, const memory& b, const memory& out, float factor,
                    std::vector<Exec>* list) {
    dnnl::matmul::primitive_desc pd(
        {a.get_desc(), b.get_desc(), out.get_desc()},
        factor == 1.0f ? ScratchpadAttr() : ScaledAttr(factor), engine);
    Track(pd);
    list->push_back(
        MakeExec(dnnl::matmul(pd),
                 {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, out}}));
  };
  auto prop = pass->training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  const auto softmax = dnnl::algorithm::softmax_accurate;
  matmul(q_t, matrix_k, scores, scale, &pass->forward);
  dnnl::softmax_v2_forward::primitive_desc softmax_pd(
      {prop, softmax, scores.get_desc(), probs.get_desc(), 2}, ScratchpadAttr(), engine);
  Track(softmax_pd);
  pass->forward.push_back(MakeExec(dnnl::softmax_v2_forward(softmax_pd),
                                   {{DNNL_ARG_SRC, scores}, {DNNL_ARG_DST, probs}}));
  matmul(matrix_v, probs_t, matrix_out, 1.0f, &pass->forward);
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  memory diff_out = PlainView(diff_dst, {n, c, l});
  memory diff_out_t(TransposedDesc(n, l, c), engine, diff_dst.get_data_handle());
  memory diff_probs(PlainDesc({n, l, l}), engine);
  memory diff_scores(PlainDesc({n, l, l}), engine);
  memory diff_scores_t(TransposedDesc(n, l, l), engine, diff_scores.get_data_handle());
  auto input_diff = [&](size_t slot, const memory& a, const memory& b, float factor) {
    if (!NeedsDiffSrc(layer.inputs[slot])) return;
    memory plain(PlainDesc({n, c, l}), engine);
    matmul(a, b, plain, factor, &pass->backward);
    CopyDiff(pass, PlainView(plain, BatchDims(pass->batch, shape)), index, slot);
  };
  input_diff(2, diff_out, probs, 1.0f);
  matmul(diff_out_t, matrix_v, diff_probs, 1.0f, &pass->backward);
  dnnl::softmax_v2_backward::primitive_desc softmax_bwd_pd(
      {softmax, diff_scores.get_desc(), diff_probs.get_desc(), probs.get_desc(), 2},
      ScratchpadAttr(), engine, softmax_pd);
  Track(softmax_bwd_pd);
  pass->backward.push_back(MakeExec(dnnl::softmax_v2_backward(softmax_bwd_pd),
                                    {{DNNL_ARG_DST, probs},
                                     {DNNL_ARG_DIFF_DST, diff_probs},
                                     {DNNL_ARG_DIFF_SRC, diff_scores}}));
  input_diff(0, matrix_k, diff_scores_t, scale);
  input_diff(1, matrix_q, diff_scores, scale);
  return dst;
}

// For every tensor read by several layers, a sum primitive adds their
// gradient buffers into the tensor's gradient. It runs before the producing
// layer's backward (first in that layer's list); the input's sum is returned
// to run after all layers.
std::vector<Exec> Network::Impl::BuildGradientSums(
    Pass* pass, std::vector<std::vector<Exec>>* backward_by_layer) {
  std::vector<Exec> input_sum;
  for (size_t tensor = 0; tensor < pass->partials.size(); ++tensor) {
    const std::vector<memory>& parts = pass->partials[tensor];
    if (parts.empty()) continue;
    memory target = DiffOf(pass, tensor);
    std::vector<memory::desc> mds;
    std::vector<std::pair<int, memory>> args;
    for (size_t j = 0; j < parts.size(); ++j) {
      mds.push_back(parts[j].get_desc());
      args.emplace_back(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(j), parts[j]);
    }
    args.emplace_back(DNNL_ARG_DST, target);
    dnnl::sum::primitive_desc pd(target.get_desc(),
                                 std::vector<float>(parts.size(), 1.0f), mds, engine,
                                 ScratchpadAttr());
    Track(pd);
    Exec exec = MakeExec(dnnl::sum(pd), args);
    if (tensor == 0) {
      input_sum.push_back(std::move(exec));
    } else {
      std::vector<Exec>& list = (*backward_by_layer)[tensor - 1];
      list.insert(list.begin(), std::move(exec));
    }
  }
  return input_sum;
}

}  // namespace scalelock
