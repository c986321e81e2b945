#include "model/network.h"

#include <algorithm>
#include <cmath>
#include <dnnl.hpp>
#include <random>

#include "model/network_impl.h"
#include "util/error.h"

namespace scalelock {

Network::Impl::Impl(const NetSpec& net_spec, const NetworkOptions& network_options)
    : spec(net_spec), options(network_options) {
  if (options.batch_size < 1 || options.eval_batch_size < 1) {
    Fail(ErrorCode::kInvalidInput,
         "network batch sizes {} (train) and {} (eval): expected positive values",
         options.batch_size, options.eval_batch_size);
  }
  CreateParams();

  // Every primitive is created here; the scratchpad is sized after the last.
  BuildPass(&train, options.batch_size, true);
  BuildPass(&eval, options.eval_batch_size, false);
  BindScratchpad();
  eval_inputs.assign(options.eval_batch_size * ShapeSize(spec.input), 0.0f);
}

// Sinusoidal positional table {C, spatial...}: channel pair (2i, 2i + 1)
// contains sin and cos of position / 10000^(2i / C'). A 2D input gives the
// first half of the channels to the row and the second half to the column,
// with C' the channels of each half.
std::vector<float> SinusoidTable(const Shape& shape) {
  const int64_t channels = shape[0];
  const int64_t positions = ShapeSize(shape) / channels;
  const int64_t width = shape.back();
  const bool two_d = shape.size() == 3;
  std::vector<float> table(ShapeSize(shape));
  for (int64_t c = 0; c < channels; ++c) {
    int64_t half = two_d ? (channels + 1) / 2 : channels;
    int64_t local = two_d && c >= half ? c - half : c;
    double rate = std::pow(10000.0, -static_cast<double>(local / 2 * 2) /
                                        static_cast<double>(std::max<int64_t>(half, 1)));
    for (int64_t p = 0; p < positions; ++p) {
      int64_t position = p;
      if (two_d) position = c >= half ? p % width : p / width;
      double angle = static_cast<double>(position) * rate;
      table[c * positions + p] =
          static_cast<float>(local % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return table;
}

void Network::Impl::CreateParams() {
  std::mt19937_64 rng(options.seed);
  first_param.assign(spec.layers.size(), std::string::npos);
  uses.assign(spec.layers.size() + 1, 0);
  sinusoids.resize(spec.layers.size());
  params.reserve(2 * spec.layers.size());
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    for (int64_t tensor : layer.inputs)
      ++uses[tensor];
    const Shape& in = spec.shapes[layer.inputs[0]];
    if (layer.kind == LayerKind::kPositional) {
      sinusoids[i] = SinusoidTable(in);
      if (!layer.learned) continue;
      // A learned table starts as the sinusoidal one.
      first_param[i] = params.size();
      params.push_back(Param{fmt::format("layers[{}].positions", i), in, sinusoids[i],
                             std::vector<float>(sinusoids[i].size(), 0.0f)});
      continue;
    }
    if (layer.kind != LayerKind::kConv && layer.kind != LayerKind::kLinear &&
        layer.kind != LayerKind::kDeconv) {
      continue;
    }
    std::vector<int64_t> dims = {layer.out};
    if (layer.kind != LayerKind::kLinear) {
      dims.push_back(in[0]);
      dims.insert(dims.end(), in.size() - 1, layer.kernel);
    } else {
      dims.insert(dims.end(), in.begin(), in.end());
    }
    Param weights{fmt::format("layers[{}].weights", i), dims, {}, {}};
    int64_t count = ShapeSize(dims);
    // Kaiming-uniform for ReLU nets: U(-b, b), b = sqrt(6 / fan_in).
    float bound =
        static_cast<float>(std::sqrt(6.0 / static_cast<double>(count / layer.out)));
    std::uniform_real_distribution<float> uniform(-bound, bound);
    weights.value.resize(count);
    for (float& w : weights.value)
      w = uniform(rng);
    weights.grad.assign(count, 0.0f);
    Param bias{fmt::format("layers[{}].bias", i),
               {layer.out},
               std::vector<float>(layer.out, 0.0f),
               std::vector<float>(layer.out, 0.0f)};
    first_param[i] = params.size();
    params.push_back(std::move(weights));
    params.push_back(std::move(bias));
  }
  for (Param& param : params) {
    // A positional table {C, spatial...} is plain row-major like a weight.
    memory::desc md(param.dims, kF32, PlainWeightsTag(param.dims.size()));
    plain_values.emplace_back(md, engine, param.value.data());
    plain_grads.emplace_back(md, engine, param.grad.data());
  }
}

Exec Network::Impl::MakeExec(const dnnl::primitive& primitive,
                             std::vector<std::pair<int, memory>> bound) {
  Exec exec;
  exec.primitive = primitive;
  exec.bound = std::move(bound);
  return exec;
}

void Network::Impl::Track(const dnnl::primitive_desc_base& pd) {
  scratchpad_size = std::max(scratchpad_size, pd.scratchpad_desc().get_size());
}

// Returns src when it already has the required layout, else a new buffer that a
// reorder appended to the forward list fills.
memory Network::Impl::Conform(Pass* pass, const memory& src,
                              const memory::desc& required) {
  if (src.get_desc() == required) return src;
  memory dst(required, engine);
  dnnl::reorder::primitive_desc pd(engine, src.get_desc(), engine, required,
                                   ScratchpadAttr());
  Track(pd);
  pass->forward.push_back(
      MakeExec(dnnl::reorder(pd), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}));
  return dst;
}

// Returns params[param] in the required layout: the plain buffer itself, an
// existing copy, or a new copy refreshed by pass->weight_sync.
memory Network::Impl::WeightView(Pass* pass, size_t param, const memory::desc& required) {
  if (plain_values[param].get_desc() == required) return plain_values[param];
  for (const auto& [index, view_layout, view] : pass->weight_views) {
    if (index == param && view_layout == required) return view;
  }
  memory view(required, engine);
  dnnl::reorder::primitive_desc pd(engine, plain_values[param].get_desc(), engine,
                                   required, ScratchpadAttr());
  Track(pd);
  pass->weight_sync.push_back(MakeExec(
      dnnl::reorder(pd), {{DNNL_ARG_FROM, plain_values[param]}, {DNNL_ARG_TO, view}}));
  pass->weight_views.emplace_back(param, required, view);
  return view;
}

// Returns src when it has the required layout. Otherwise appends to the
// backward list a reorder of src into target, or into a new buffer when
// target is empty, and returns that buffer.
memory Network::Impl::Reordered(Pass* pass, const memory& src,
                                const memory::desc& required, memory target) {
  if (src.get_desc() == required) return src;
  if (!target) target = memory(required, engine);
  dnnl::reorder::primitive_desc pd(engine, src.get_desc(), engine, required,
                                   ScratchpadAttr());
  Track(pd);
  pass->backward.push_back(
      MakeExec(dnnl::reorder(pd), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, target}}));
  return target;
}

// Returns the buffer a backward-weights primitive writes params[param]'s
// gradient into; when its layout is not plain, appends the reorder to after.
memory Network::Impl::GradTarget(size_t param, const memory::desc& layout,
                                 std::vector<Exec>* after) {
  if (plain_grads[param].get_desc() == layout) return plain_grads[param];
  memory grad(layout, engine);
  dnnl::reorder::primitive_desc pd(engine, layout, engine, plain_grads[param].get_desc(),
                                   ScratchpadAttr());
  Track(pd);
  after->push_back(MakeExec(dnnl::reorder(pd),
                            {{DNNL_ARG_FROM, grad}, {DNNL_ARG_TO, plain_grads[param]}}));
  return grad;
}

// Returns the gradient buffer of acts[act_index]. Layer act_index - 1 reads
// it as diff_dst and layer act_index writes it as diff_src. Both builders call
// this function, and the first call creates the buffer.
memory Network::Impl::DiffOf(Pass* pass, size_t act_index) {
  memory& diff = pass->diffs[act_index];
  if (!diff) diff = memory(pass->acts[act_index].get_desc(), engine);
  return diff;
}

void Network::Impl::BuildPass(Pass* pass, int64_t batch, bool training) {
  pass->batch = batch;
  pass->training = training;
  pass->acts.resize(spec.layers.size() + 1);
  pass->diffs.resize(spec.layers.size() + 1);
  pass->partials.resize(spec.layers.size() + 1);
  memory::desc input_md(BatchDims(batch, spec.input), kF32,
                        PlainTag(spec.input.size() + 1));
  pass->input = memory(input_md, engine, DNNL_MEMORY_NONE);

  // Layer i reads the tensors of its inputs and writes acts[i+1]; each
  // builder appends its backward steps in order.
  std::vector<std::vector<Exec>> backward_by_layer(spec.layers.size());
  pass->acts[0] = pass->input;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    size_t before = pass->backward.size();
    pass->acts[i + 1] = BuildLayer(pass, i, pass->acts[InputOf(i)]);
    backward_by_layer[i].assign(pass->backward.begin() + before, pass->backward.end());
    pass->backward.resize(before);
  }
  std::vector<Exec> input_sum;
  if (training) input_sum = BuildGradientSums(pass, &backward_by_layer);
  for (size_t i = spec.layers.size(); i-- > 0;) {
    for (Exec& exec : backward_by_layer[i])
      pass->backward.push_back(std::move(exec));
  }
  // The input's gradient sum, if any, runs after every layer's backward.
  for (Exec& exec : input_sum)
    pass->backward.push_back(std::move(exec));
  BuildLoss(pass);
}

memory Network::Impl::BuildLayer(Pass* pass, size_t index, const memory& src_in) {
  switch (spec.layers[index].kind) {
    case LayerKind::kConv:
      return BuildConv(pass, index, src_in);
    case LayerKind::kRelu:
      return BuildRelu(pass, index, src_in);
    case LayerKind::kLinear:
      return BuildLinear(pass, index, src_in);
    case LayerKind::kDeconv:
      return BuildDeconv(pass, index, src_in);
    case LayerKind::kConcat:
      return BuildConcat(pass, index);
    case LayerKind::kAdd:
      return BuildAdd(pass, index);
    case LayerKind::kPositional:
      return BuildPositional(pass, index);
    case LayerKind::kAttention:
      return BuildAttention(pass, index);
    default:
      return BuildPool(pass, index, src_in);
  }
}

memory Network::Impl::BuildConv(Pass* pass, size_t index, const memory& src_in) {
  const LayerSpec& layer = spec.layers[index];
  const Shape& in = spec.shapes[InputOf(index)];
  const size_t axes = in.size() - 1;
  memory::dims strides(axes, layer.stride);
  memory::dims dilates(axes, layer.dilation - 1);  // oneDNN counts dilation from 0
  memory::dims padding(axes, layer.padding);
  size_t weights = first_param[index];
  memory::desc weights_any(params[weights].dims, kF32, Tag::any);
  memory::desc bias_md({layer.out}, kF32, Tag::x);
  memory::desc dst_any(BatchDims(pass->batch, spec.shapes[index + 1]), kF32, Tag::any);
  // Each conv picks its input layout and gets a reorder where the previous
  // output differs: forcing the previous blocked layout makes oneDNN 2.6 fall
  // back to the reference kernel for dilations >= 4.
  memory::desc src_md(src_in.get_desc().dims(), kF32, Tag::any);
  auto prop = pass->training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  dnnl::convolution_forward::desc desc(prop, dnnl::algorithm::convolution_direct, src_md,
                                       weights_any, bias_md, dst_any, strides, dilates,
                                       padding, padding);
  dnnl::convolution_forward::primitive_desc fwd_pd(desc, ScratchpadAttr(layer.fused_relu),
                                                   engine);
  Track(fwd_pd);

  memory src = Conform(pass, src_in, fwd_pd.src_desc());
  memory dst(fwd_pd.dst_desc(), engine);
  memory weights_view = WeightView(pass, weights, fwd_pd.weights_desc());
  memory bias_view = WeightView(pass, weights + 1, fwd_pd.bias_desc());
  pass->forward.push_back(
      MakeExec(dnnl::convolution_forward(fwd_pd), {{DNNL_ARG_SRC, src},
                                                   {DNNL_ARG_WEIGHTS, weights_view},
                                                   {DNNL_ARG_BIAS, bias_view},
                                                   {DNNL_ARG_DST, dst}}));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  // Backward: ReLU in place on the output gradient (from the conv output,
  // which the fused post-op already rectified), then weights, then data.
  memory diff_dst = DiffOf(pass, index + 1);
  if (layer.fused_relu) {
    auto relu = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    dnnl::eltwise_forward::primitive_desc hint(
        {dnnl::prop_kind::forward_training, relu, dst.get_desc(), 0.0f, 0.0f}, engine);
    dnnl::eltwise_backward::primitive_desc relu_pd(
        {relu, dst.get_desc(), dst.get_desc(), 0.0f, 0.0f}, ScratchpadAttr(), engine,
        hint);
    Track(relu_pd);
    pass->backward.push_back(
        MakeExec(dnnl::eltwise_backward(relu_pd), {{DNNL_ARG_DST, dst},
                                                   {DNNL_ARG_DIFF_DST, diff_dst},
                                                   {DNNL_ARG_DIFF_SRC, diff_dst}}));
  }

  // Backward pds pick their own layouts (a fixed one can force the slow
  // reference kernel); tensors are reordered where a pick differs.
  memory::desc src_any(src.get_desc().dims(), kF32, Tag::any);
  memory::desc diff_dst_any(dst.get_desc().dims(), kF32, Tag::any);
  // With fewer than 8 input channels, "any" picks a layout padded to 8
  // channels (8x the work for one channel), so channels-last comes first.
  // With oneDNN 2.6.3 on one AVX2 thread (batch 64, 1x28x28 -> 32 channels)
  // that took about 7 ms instead of 14 ms, including the diff_dst reorder.
  auto backward_weights_pd = [&](const memory::desc& src_md, const memory::desc& dst_md) {
    return dnnl::convolution_backward_weights::primitive_desc(
        {dnnl::algorithm::convolution_direct, src_md, weights_any, bias_md, dst_md,
         strides, dilates, padding, padding},
        ScratchpadAttr(), engine, fwd_pd);
  };
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  if (in[0] < 8) {
    Tag channels_last = axes == 1 ? Tag::nwc : Tag::nhwc;
    bwd_weights_pd =
        backward_weights_pd(memory::desc(src_any.dims(), kF32, channels_last),
                            memory::desc(diff_dst_any.dims(), kF32, channels_last));
  }
  if (!bwd_weights_pd || IsReference(bwd_weights_pd)) {
    bwd_weights_pd = backward_weights_pd(src_any, diff_dst_any);
  }
  Track(bwd_weights_pd);
  memory src_bwd = Reordered(pass, src, bwd_weights_pd.src_desc());
  memory diff_dst_bwd = Reordered(pass, diff_dst, bwd_weights_pd.diff_dst_desc());
  std::vector<Exec> grad_reorders;
  memory diff_weights =
      GradTarget(weights, bwd_weights_pd.diff_weights_desc(), &grad_reorders);
  memory diff_bias =
      GradTarget(weights + 1, bwd_weights_pd.diff_bias_desc(), &grad_reorders);
  pass->backward.push_back(MakeExec(dnnl::convolution_backward_weights(bwd_weights_pd),
                                    {{DNNL_ARG_SRC, src_bwd},
                                     {DNNL_ARG_DIFF_DST, diff_dst_bwd},
                                     {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                                     {DNNL_ARG_DIFF_BIAS, diff_bias}}));
  for (Exec& exec : grad_reorders)
    pass->backward.push_back(std::move(exec));
  if (!NeedsDiffSrc(InputOf(index))) return dst;

  dnnl::convolution_backward_data::primitive_desc bwd_data_pd(
      {dnnl::algorithm::convolution_direct, src_any, weights_any, diff_dst_any, strides,
       dilates, padding, padding},
      ScratchpadAttr(), engine, fwd_pd);
  Track(bwd_data_pd);
  memory diff_dst_data = bwd_data_pd.diff_dst_desc() == diff_dst_bwd.get_desc()
                             ? diff_dst_bwd
                             : Reordered(pass, diff_dst, bwd_data_pd.diff_dst_desc());
  memory weights_bwd = WeightView(pass, weights, bwd_data_pd.weights_desc());
  memory diff_src = DiffSlot(pass, index, 0);
  memory diff_src_out = diff_src.get_desc() == bwd_data_pd.diff_src_desc()
                            ? diff_src
                            : memory(bwd_data_pd.diff_src_desc(), engine);
  pass->backward.push_back(MakeExec(dnnl::convolution_backward_data(bwd_data_pd),
                                    {{DNNL_ARG_DIFF_DST, diff_dst_data},
                                     {DNNL_ARG_WEIGHTS, weights_bwd},
                                     {DNNL_ARG_DIFF_SRC, diff_src_out}}));
  if (diff_src_out != diff_src)
    Reordered(pass, diff_src_out, diff_src.get_desc(), diff_src);
  return dst;
}

memory Network::Impl::BuildPool(Pass* pass, size_t index, const memory& src) {
  const LayerSpec& layer = spec.layers[index];
  const Shape& in = spec.shapes[InputOf(index)];
  const size_t axes = in.size() - 1;
  memory::dims kernel(axes, layer.kernel), strides(axes, layer.stride);
  memory::dims padding(axes, layer.padding);
  auto algorithm = layer.kind == LayerKind::kMaxPool
                       ? dnnl::algorithm::pooling_max
                       : dnnl::algorithm::pooling_avg_include_padding;
  if (layer.kind == LayerKind::kGlobalAvgPool) {
    // GAP is an average pool whose window is the whole spatial extent.
    kernel.assign(in.begin() + 1, in.end());
    strides.assign(axes, 1);
    padding.assign(axes, 0);
    algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
  }
  auto prop = pass->training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  memory::desc dst_any(BatchDims(pass->batch, spec.shapes[index + 1]), kF32, Tag::any);
  dnnl::pooling_forward::primitive_desc fwd_pd(
      {prop, algorithm, src.get_desc(), dst_any, strides, kernel, padding, padding},
      ScratchpadAttr(), engine);
  Track(fwd_pd);
  memory dst(fwd_pd.dst_desc(), engine);
  std::vector<std::pair<int, memory>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
  memory workspace;
  if (fwd_pd.workspace_desc().get_size() > 0) {
    workspace = memory(fwd_pd.workspace_desc(), engine);
    args.emplace_back(DNNL_ARG_WORKSPACE, workspace);
  }
  pass->forward.push_back(MakeExec(dnnl::pooling_forward(fwd_pd), args));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  if (!NeedsDiffSrc(InputOf(index))) return dst;
  dnnl::pooling_backward::primitive_desc bwd_pd(
      {algorithm, src.get_desc(), dst.get_desc(), strides, kernel, padding, padding},
      ScratchpadAttr(), engine, fwd_pd);
  Track(bwd_pd);
  std::vector<std::pair<int, memory>> bwd_args = {
      {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_SRC, DiffSlot(pass, index, 0)}};
  if (workspace) bwd_args.emplace_back(DNNL_ARG_WORKSPACE, workspace);
  pass->backward.push_back(MakeExec(dnnl::pooling_backward(bwd_pd), bwd_args));
  return dst;
}

memory Network::Impl::BuildRelu(Pass* pass, size_t index, const memory& src) {
  auto prop = pass->training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  auto relu = dnnl::algorithm::eltwise_relu;
  dnnl::eltwise_forward::primitive_desc fwd_pd({prop, relu, src.get_desc(), 0.0f, 0.0f},
                                               ScratchpadAttr(), engine);
  Track(fwd_pd);
  memory dst(fwd_pd.dst_desc(), engine);
  pass->forward.push_back(MakeExec(dnnl::eltwise_forward(fwd_pd),
                                   {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  if (!NeedsDiffSrc(InputOf(index))) return dst;
  dnnl::eltwise_backward::primitive_desc bwd_pd(
      {relu, src.get_desc(), src.get_desc(), 0.0f, 0.0f}, ScratchpadAttr(), engine,
      fwd_pd);
  Track(bwd_pd);
  pass->backward.push_back(MakeExec(dnnl::eltwise_backward(bwd_pd),
                                    {{DNNL_ARG_SRC, src},
                                     {DNNL_ARG_DIFF_DST, diff_dst},
                                     {DNNL_ARG_DIFF_SRC, DiffSlot(pass, index, 0)}}));
  return dst;
}

memory Network::Impl::BuildLinear(Pass* pass, size_t index, const memory& src_in) {
  size_t weights = first_param[index];
  const LayerSpec& layer = spec.layers[index];
  memory::desc weights_any(params[weights].dims, kF32, Tag::any);
  memory::desc bias_md({layer.out}, kF32, Tag::x);
  memory::desc dst_md({pass->batch, layer.out}, kF32, Tag::nc);
  auto prop = pass->training ? dnnl::prop_kind::forward_training
                             : dnnl::prop_kind::forward_inference;
  // oneDNN 2.6 has no gemm inner product for a blocked 3D (1D net) input, so
  // when the previous layout leads to the reference kernel the input is
  // reordered to the layout oneDNN picks.
  auto forward_pd = [&](const memory::desc& src_md) {
    return dnnl::inner_product_forward::primitive_desc(
        {prop, src_md, weights_any, bias_md, dst_md}, ScratchpadAttr(), engine);
  };
  dnnl::inner_product_forward::primitive_desc fwd_pd = forward_pd(src_in.get_desc());
  if (IsReference(fwd_pd)) {
    fwd_pd = forward_pd(memory::desc(src_in.get_desc().dims(), kF32, Tag::any));
  }
  Track(fwd_pd);
  memory src = Conform(pass, src_in, fwd_pd.src_desc());
  memory dst(fwd_pd.dst_desc(), engine);
  memory weights_view = WeightView(pass, weights, fwd_pd.weights_desc());
  memory bias_view = WeightView(pass, weights + 1, fwd_pd.bias_desc());
  pass->forward.push_back(
      MakeExec(dnnl::inner_product_forward(fwd_pd), {{DNNL_ARG_SRC, src},
                                                     {DNNL_ARG_WEIGHTS, weights_view},
                                                     {DNNL_ARG_BIAS, bias_view},
                                                     {DNNL_ARG_DST, dst}}));
  pass->acts[index + 1] = dst;
  if (!pass->training) return dst;

  memory diff_dst = DiffOf(pass, index + 1);
  dnnl::inner_product_backward_weights::primitive_desc bwd_weights_pd(
      {src.get_desc(), weights_any, bias_md, dst.get_desc()}, ScratchpadAttr(), engine,
      fwd_pd);
  Track(bwd_weights_pd);
  std::vector<Exec> grad_reorders;
  memory diff_weights =
      GradTarget(weights, bwd_weights_pd.diff_weights_desc(), &grad_reorders);
  memory diff_bias =
      GradTarget(weights + 1, bwd_weights_pd.diff_bias_desc(), &grad_reorders);
  pass->backward.push_back(MakeExec(dnnl::inner_product_backward_weights(bwd_weights_pd),
                                    {{DNNL_ARG_SRC, src},
                                     {DNNL_ARG_DIFF_DST, diff_dst},
                                     {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                                     {DNNL_ARG_DIFF_BIAS, diff_bias}}));
  for (Exec& exec : grad_reorders)
    pass->backward.push_back(std::move(exec));

  if (NeedsDiffSrc(InputOf(index))) {
    dnnl::inner_product_backward_data::primitive_desc bwd_data_pd(
        {src.get_desc(), weights_any, dst.get_desc()}, ScratchpadAttr(), engine, fwd_pd);
    Track(bwd_data_pd);
    memory weights_bwd = WeightView(pass, weights, bwd_data_pd.weights_desc());
    memory diff_src = DiffSlot(pass, index, 0);
    memory diff_src_out = diff_src.get_desc() == bwd_data_pd.diff_src_desc()
                              ? diff_src
                              : memory(bwd_data_pd.diff_src_desc(), engine);
    pass->backward.push_back(MakeExec(dnnl::inner_product_backward_data(bwd_data_pd),
                                      {{DNNL_ARG_DIFF_DST, diff_dst},
                                       {DNNL_ARG_WEIGHTS, weights_bwd},
                                       {DNNL_ARG_DIFF_SRC, diff_src_out}}));
    if (diff_src_out != diff_src) {
      Reordered(pass, diff_src_out, diff_src.get_desc(), diff_src);
    }
  }
  return dst;
}

// Brings the network output to a plain layout; for the classification
// objectives adds the log-softmax over axis 1 (classes). In training, the
// loss writes its gradient into the plain loss_diff, which a reorder at the
// start of the backward list copies into the output's gradient buffer when
// their layouts differ.
void Network::Impl::BuildLoss(Pass* pass) {
  memory output = pass->acts.back();
  memory::desc plain_md(output.get_desc().dims(), kF32,
                        PlainTag(output.get_desc().dims().size()));
  memory plain = Conform(pass, output, plain_md);
  if (spec.objective == Objective::kRegression) {
    pass->logp = plain;
  } else {
    auto prop = pass->training ? dnnl::prop_kind::forward_training
                               : dnnl::prop_kind::forward_inference;
    dnnl::softmax_v2_forward::primitive_desc pd(
        {prop, dnnl::algorithm::softmax_log, plain_md, plain_md, 1}, ScratchpadAttr(),
        engine);
    Track(pd);
    pass->logp = memory(pd.dst_desc(), engine);
    pass->forward.push_back(
        MakeExec(dnnl::softmax_v2_forward(pd),
                 {{DNNL_ARG_SRC, plain}, {DNNL_ARG_DST, pass->logp}}));
  }
  if (!pass->training) return;

  memory diff = DiffOf(pass, pass->acts.size() - 1);
  if (diff.get_desc() == plain_md) {
    pass->loss_diff = diff;
    return;
  }
  pass->loss_diff = memory(plain_md, engine);
  dnnl::reorder::primitive_desc pd(engine, plain_md, engine, diff.get_desc(),
                                   ScratchpadAttr());
  Track(pd);
  pass->backward.insert(pass->backward.begin(),
                        MakeExec(dnnl::reorder(pd), {{DNNL_ARG_FROM, pass->loss_diff},
                                                     {DNNL_ARG_TO, diff}}));
}

void Network::Impl::BindScratchpad() {
  memory::desc md({static_cast<memory::dim>(std::max<size_t>(scratchpad_size, 1))},
                  memory::data_type::u8, Tag::x);
  scratchpad = memory(md, engine);
  for (Pass* pass : {&train, &eval}) {
    for (auto* list : {&pass->weight_sync, &pass->forward, &pass->backward}) {
      for (Exec& exec : *list) {
        exec.bound.emplace_back(DNNL_ARG_SCRATCHPAD, scratchpad);
        exec.args.clear();
        for (const auto& [arg, mem] : exec.bound)
          exec.args.push_back({arg, mem.get()});
      }
    }
  }
}

void Network::Impl::RunForward(Pass* pass) {
  if (!pass->weights_current) {
    for (const Exec& exec : pass->weight_sync)
      exec.Run(stream);
    pass->weights_current = true;
  }
  for (const Exec& exec : pass->forward)
    exec.Run(stream);
  stream.wait();
}

void Network::Impl::CheckTargets(const Targets& targets) const {
  bool regression = spec.objective == Objective::kRegression;
  if (regression ? targets.values == nullptr : targets.labels == nullptr) {
    Fail(ErrorCode::kInvalidInput,
         "network targets: expected {} for a network trained with {}",
         regression ? "real-valued targets" : "class labels",
         regression ? "mean squared error" : "cross-entropy");
  }
}

// Mean loss of the first count samples of pass (see the file comment of
// network.h for the objectives). With backward, also writes d(mean batch
// loss)/d(output) into pass.loss_diff: (softmax - onehot) / (batch *
// positions) for classes, 2 * (prediction - target) / (batch * outputs) for
// regression. tally, when given, accumulates hits and absolute errors.
double Network::Impl::Loss(const Pass& pass, const Targets& targets, int64_t count,
                           bool backward, EvalTally* tally) {
  const int64_t outputs = ShapeSize(spec.shapes.back());  // per sample
  const float* out = static_cast<const float*>(pass.logp.get_data_handle());
  float* diff =
      backward ? static_cast<float*>(pass.loss_diff.get_data_handle()) : nullptr;
  double sum = 0.0;
  if (spec.objective == Objective::kRegression) {
    const float scale = 2.0f / static_cast<float>(pass.batch * outputs);
    for (int64_t i = 0; i < count * outputs; ++i) {
      double error = static_cast<double>(out[i]) - targets.values[i];
      sum += error * error;
      if (tally != nullptr) tally->absolute_error += std::abs(error);
      if (diff != nullptr) diff[i] = static_cast<float>(error) * scale;
    }
    return sum / static_cast<double>(count * outputs);
  }

  // Classes sit on axis 1: logp[n][k][p] for position p of sample n.
  const int64_t classes = spec.num_classes;
  const int64_t positions = outputs / classes;
  const float scale = 1.0f / static_cast<float>(pass.batch * positions);
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t p = 0; p < positions; ++p) {
      int32_t label = targets.labels[n * positions + p];
      if (label < 0 || label >= classes) {
        Fail(ErrorCode::kInvalidInput,
             "label {} of sample {} (position {}): expected a class in [0, {})", label, n,
             p, classes);
      }
      const int64_t base = n * outputs + p;
      sum -= out[base + label * positions];
      int64_t best = 0;
      for (int64_t k = 1; k < classes; ++k) {
        if (out[base + k * positions] > out[base + best * positions]) best = k;
      }
      if (tally != nullptr && best == label) ++tally->correct;
      if (diff == nullptr) continue;
      for (int64_t k = 0; k < classes; ++k) {
        float target = k == label ? 1.0f : 0.0f;
        diff[base + k * positions] =
            (std::exp(out[base + k * positions]) - target) * scale;
      }
    }
  }
  return sum / static_cast<double>(count * positions);
}

double Network::Impl::Step(const float* inputs, const Targets& targets, bool backward) {
  CheckTargets(targets);
  train.input.set_data_handle(const_cast<float*>(inputs));
  RunForward(&train);
  double loss = Loss(train, targets, train.batch, backward, nullptr);
  if (!backward) return loss;
  for (const Exec& exec : train.backward)
    exec.Run(stream);
  stream.wait();
  return loss;
}

EvalResult Network::Impl::EvaluateAll(const float* inputs, const Targets& targets,
                                      int64_t count) {
  CheckTargets(targets);
  const int64_t sample = ShapeSize(spec.input);
  const int64_t outputs = ShapeSize(spec.shapes.back());
  const int64_t labels_per_sample = outputs / spec.num_classes;
  const int64_t batch = eval.batch;
  double loss_sum = 0.0;
  EvalTally tally;
  eval.input.set_data_handle(eval_inputs.data());
  for (int64_t start = 0; start < count; start += batch) {
    // The last partial batch is zero-padded; only its first rows are scored.
    int64_t rows = std::min(batch, count - start);
    std::copy(inputs + start * sample, inputs + (start + rows) * sample,
              eval_inputs.begin());
    std::fill(eval_inputs.begin() + rows * sample, eval_inputs.end(), 0.0f);
    RunForward(&eval);
    Targets part = targets;
    if (part.labels != nullptr) part.labels += start * labels_per_sample;
    if (part.values != nullptr) part.values += start * outputs;
    loss_sum += Loss(eval, part, rows, false, &tally) * static_cast<double>(rows);
  }
  EvalResult result;
  if (count <= 0) return result;
  result.loss = loss_sum / static_cast<double>(count);
  if (spec.objective == Objective::kRegression) {
    result.mae = tally.absolute_error / static_cast<double>(count * outputs);
  } else {
    result.accuracy = static_cast<double>(tally.correct) /
                      static_cast<double>(count * labels_per_sample);
  }
  return result;
}

std::vector<float> Network::Impl::ToPlain(const memory& mem) const {
  memory::desc md = mem.get_desc();
  memory::desc plain_md(md.dims(), kF32, PlainTag(md.dims().size()));
  std::vector<float> out(plain_md.get_size() / sizeof(float));
  memory plain(plain_md, engine, out.data());
  dnnl::reorder(mem, plain).execute(stream, const_cast<memory&>(mem), plain);
  stream.wait();
  return out;
}

Network::Network(const NetSpec& spec, const NetworkOptions& options)
    : impl_(std::make_unique<Impl>(spec, options)) {}

Network::~Network() = default;

double Network::ForwardLoss(const float* inputs, const int32_t* labels) {
  return impl_->Step(inputs, Targets{labels, nullptr}, false);
}

double Network::ForwardLoss(const float* inputs, const float* targets) {
  return impl_->Step(inputs, Targets{nullptr, targets}, false);
}

double Network::TrainStep(const float* inputs, const int32_t* labels) {
  return impl_->Step(inputs, Targets{labels, nullptr}, true);
}

double Network::TrainStep(const float* inputs, const float* targets) {
  return impl_->Step(inputs, Targets{nullptr, targets}, true);
}

EvalResult Network::Evaluate(const float* inputs, const int32_t* labels, int64_t count) {
  return impl_->EvaluateAll(inputs, Targets{labels, nullptr}, count);
}

EvalResult Network::Evaluate(const float* inputs, const float* targets, int64_t count) {
  return impl_->EvaluateAll(inputs, Targets{nullptr, targets}, count);
}

std::vector<float> Network::BackwardFromOutput(
    const float* inputs, const std::vector<float>& output_gradient) {
  Impl& net = *impl_;
  const size_t expected =
      static_cast<size_t>(net.train.batch * ShapeSize(net.spec.shapes.back()));
  if (output_gradient.size() != expected) {
    Fail(ErrorCode::kInvalidInput,
         "output gradient of {} values: expected batch {} x output size {} = {}",
         output_gradient.size(), net.train.batch, ShapeSize(net.spec.shapes.back()),
         expected);
  }
  net.train.input.set_data_handle(const_cast<float*>(inputs));
  net.RunForward(&net.train);
  float* diff = static_cast<float*>(net.train.loss_diff.get_data_handle());
  std::copy(output_gradient.begin(), output_gradient.end(), diff);
  for (const Exec& exec : net.train.backward)
    exec.Run(net.stream);
  net.stream.wait();
  return InputGradient();
}

std::vector<Param>& Network::params() {
  return impl_->params;
}

void Network::MarkParamsChanged() {
  impl_->train.weights_current = false;
  impl_->eval.weights_current = false;
}

std::vector<float> Network::Activation(size_t layer) const {
  if (layer + 1 >= impl_->train.acts.size()) {
    Fail(ErrorCode::kInvalidInput, "activation of layer {}: the network has {} layers",
         layer, impl_->spec.layers.size());
  }
  return impl_->ToPlain(impl_->train.acts[layer + 1]);
}

std::vector<float> Network::InputGradient() const {
  if (!impl_->options.input_gradient) {
    Fail(ErrorCode::kInvalidInput,
         "input gradient: not computed; construct the network with input_gradient set");
  }
  return impl_->ToPlain(impl_->train.diffs[0]);
}

size_t Network::scratchpad_bytes() const {
  return impl_->scratchpad_size;
}

}  // namespace scalelock
