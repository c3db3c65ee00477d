// conv2d on CUDA: all three directions as implicit GEMMs (gemm.cuh) that read the
// NCHW tensors in place, with the fused forward epilogue (per-channel scale and bias,
// ReLU / CReLU, NormProp's post map) applied as each output element leaves the GEMM.
//   forward:         M = k output channels, N = n*p*q output pixels, K = c*r*s taps
//   backward-data:   M = c input channels,  N = n*h*w input pixels,  K = k*r*s; with
//                    stride > 1 one GEMM per phase of the input pixels, over the taps
//                    that reach that phase ((h + pad - r) a multiple of the stride), all
//                    phases in one launch (gemm_parts) for strides up to 2x2
//   backward-filter: M = k, N = c*r*s, K = n*p*q: a small output over a long reduction,
//                    so K is split over blocks (split-K) into scratch partial sums that
//                    a second kernel adds in a fixed order (deterministic, no atomics).
// The crelu-input variants read crelu(x) = [max(x, 0), max(-x, 0)] from the C/2-channel
// pre-activation x while loading the B operand: the 2C tensor never exists.
// A context switched to cuDNN (rn_cuda_context_set_conv_impl, cuda_cudnn.h) runs the
// plain forward / backward-data / backward-filter through ctx->conv_routes instead.
#include "conv2d.cuh"
#include "conv2d_problems.cuh"
#include "gemm.cuh"
#include "reduce.cuh"

namespace rn::cuda::conv {

namespace {

// dw[i] = sum over splits of partial[split][i] in double, in a fixed order (the result
// does not depend on timing): lane j of the block's kSumLanes (threadIdx.y) adds splits
// j, j + kSumLanes, ..., then lane 0 adds the lane sums in lane order. (One thread per
// output, adding all splits itself, left only a few thousand threads, each with a chain of
// hundreds of loads and adds.)
constexpr int kSumColumns = 32, kSumLanes = 8;
__global__ void __launch_bounds__(kSumColumns * kSumLanes)
    sum_splits(const float* partial, int64_t count, int32_t splits, float* dw) {
  __shared__ double lane_sum[kSumLanes][kSumColumns];
  const int64_t i = int64_t(blockIdx.x) * kSumColumns + threadIdx.x;
  double s = 0.0;
  if (i < count)
    for (int32_t k = int32_t(threadIdx.y); k < splits; k += kSumLanes) s += partial[int64_t(k) * count + i];
  lane_sum[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y != 0 || i >= count) return;
  double total = 0.0;
  for (int l = 0; l < kSumLanes; ++l) total += lane_sum[l][threadIdx.x];
  dw[i] = float(total);
}

bool positive(int32_t v) { return v > 0; }

}  // namespace

int check(const rn_conv2d_desc* d) {
  if (d == nullptr) return RN_STATUS_BAD_ARGUMENT;
  if (!positive(d->n) || !positive(d->c) || !positive(d->h) || !positive(d->w) || !positive(d->k) ||
      !positive(d->r) || !positive(d->s) || !positive(d->stride_h) || !positive(d->stride_w))
    return RN_STATUS_BAD_ARGUMENT;
  if (d->pad_h < 0 || d->pad_w < 0 || d->pad_h >= d->r || d->pad_w >= d->s) return RN_STATUS_BAD_ARGUMENT;
  const int64_t hp = int64_t(d->h) + 2 * int64_t(d->pad_h) - d->r, wp = int64_t(d->w) + 2 * int64_t(d->pad_w) - d->s;
  if (hp < 0 || wp < 0) return RN_STATUS_BAD_ARGUMENT;
  if (d->p != hp / d->stride_h + 1 || d->q != wp / d->stride_w + 1) return RN_STATUS_BAD_ARGUMENT;
  if (int64_t(d->c) * d->r * d->s > INT32_MAX || int64_t(d->p) * d->q > INT32_MAX || int64_t(d->h) * d->w > INT32_MAX)
    return RN_STATUS_BAD_ARGUMENT;
  if (d->algo < RN_CONV_ALGO_AUTO || d->algo > RN_CONV_ALGO_DIRECT) return RN_STATUS_BAD_ARGUMENT;
  // 32-bit index math (FastDiv): every GEMM dimension and tensor below 2^31 elements.
  const int64_t n = d->n;
  if (n * d->c * d->h * d->w >= kMaxIndex || 2 * n * d->k * d->p * d->q >= kMaxIndex ||
      int64_t(d->k) * d->c * d->r * d->s >= kMaxIndex)
    return RN_STATUS_UNSUPPORTED;
  return RN_STATUS_OK;
}

size_t backward_filter_scratch(const rn_cuda_context* ctx, const rn_conv2d_desc& d, bool with_bias) {
  const int32_t n_cols = d.c * d.r * d.s, k_len = d.n * d.p * d.q;
  const SplitK sk = plan_split_k(ctx, d.k, n_cols, k_len);
  Layout l;
  if (sk.splits > 1) l.add<float>(size_t(sk.splits) * d.k * n_cols);
  if (with_bias) l.add<char>(channel_sum_scratch_bytes(ctx, d.k, int64_t(d.n) * d.p * d.q));
  return l.total();
}

int forward(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias,
            const rn_conv2d_epilogue* ep, bool crelu_input, float* y) {
  return launch_gemm(ctx, forward_problem(d, x, w, bias, ep, crelu_input, y));
}

int backward_data(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx) {
  // The phases of dx (stride_h * stride_w at most) as one launch where they are few enough
  // (every stride-2 conv): one after another, each phase's GEMM had too few blocks to fill
  // the device. Larger strides launch a GEMM per phase.
  constexpr int kMaxPhases = 4;
  if (int64_t(d.stride_h) * d.stride_w <= kMaxPhases) {
    GemmParts<BackwardData, kMaxPhases> phases;
    for_each_backward_data_phase(d, dy, w, dx, [&](const BackwardData& phase) {
      phases.part[phases.count++] = phase;
      return int(RN_STATUS_OK);
    });
    return phases.count == 1 ? launch_gemm(ctx, phases.part[0]) : launch_parts(ctx, phases);
  }
  return for_each_backward_data_phase(d, dy, w, dx,
                                      [&](const BackwardData& phase) { return launch_gemm(ctx, phase); });
}

int backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                    float* dbias, bool crelu_input, void* scratch) {
  BackwardFilter b = backward_filter_problem(d, x, dy, crelu_input, dw);
  const SplitK sk = plan_split_k(ctx, b.M, b.N, b.K);
  Layout l;
  const size_t partial_at = sk.splits > 1 ? l.add<float>(size_t(sk.splits) * b.M * b.N) : 0;
  const size_t bias_at = l.add<char>(0);
  float* partial = at<float>(scratch, partial_at);
  b.out = sk.splits > 1 ? partial : dw;
  if (int st = launch_gemm(ctx, b, sk.splits, sk.chunk); st != RN_STATUS_OK) return st;
  if (sk.splits > 1) {
    const int64_t count = int64_t(b.M) * b.N;
    RN_LAUNCH(sum_splits, blocks_for(count, kSumColumns), dim3(kSumColumns, kSumLanes), ctx->stream, partial, count,
              sk.splits, dw);
    RN_CUDA_CHECK_LAUNCH();
  }
  if (dbias != nullptr) return channel_sum(ctx, d.n, d.k, d.p * d.q, dy, dbias, at<char>(scratch, bias_at));
  return RN_STATUS_OK;
}

}  // namespace rn::cuda::conv

using rn::cuda::guarded;
namespace conv = rn::cuda::conv;

namespace {

// The crelu-input ops: x holds d.c / 2 channels.
int check_crelu_input(const rn_conv2d_desc* d) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  return d->c % 2 == 0 ? RN_STATUS_OK : RN_STATUS_BAD_ARGUMENT;
}

int filter_entry(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* dy, float* dw,
                 float* dbias, bool crelu_input) {
  return guarded(ctx, [&] {
    if (ctx->conv_routes != nullptr && !crelu_input) return ctx->conv_routes->backward_filter(ctx, *d, x, dy, dw, dbias);
    void* scratch = nullptr;
    if (int st = rn::cuda::workspace(ctx, conv::backward_filter_scratch(ctx, *d, dbias != nullptr), &scratch);
        st != RN_STATUS_OK)
      return st;
    return conv::backward_filter(ctx, *d, x, dy, dw, dbias, crelu_input, scratch);
  });
}

}  // namespace

extern "C" {

RN_API size_t rn_cuda_conv2d_workspace_bytes(const rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                             int32_t direction) {
  if (ctx == nullptr || conv::check(d) != RN_STATUS_OK) return 0;
  return direction == 2 ? conv::backward_filter_scratch(ctx, *d, true) : 0;
}

RN_API int rn_cuda_conv2d_forward(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x, const float* w,
                                  const float* bias, float* y) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (ctx->conv_routes != nullptr) return ctx->conv_routes->forward(ctx, *d, x, w, bias, y);
    return conv::forward(ctx, *d, x, w, bias, nullptr, false, y);
  });
}

RN_API int rn_cuda_conv2d_forward_epilogue(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                           const float* w, const rn_conv2d_epilogue* ep, float* y) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y || !ep) return RN_STATUS_BAD_ARGUMENT;
  if (ep->act < RN_ACT_NONE || ep->act > RN_ACT_CRELU) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::forward(ctx, *d, x, w, nullptr, ep, false, y); });
}

RN_API int rn_cuda_conv2d_forward_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                              const float* w, const float* bias, float* y) {
  if (int st = check_crelu_input(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::forward(ctx, *d, x, w, bias, nullptr, true, y); });
}

RN_API int rn_cuda_conv2d_forward_crelu_input_epilogue(rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                                       const float* x, const float* w,
                                                       const rn_conv2d_epilogue* ep, float* y) {
  if (int st = check_crelu_input(d); st != RN_STATUS_OK) return st;
  if (!x || !w || !y || !ep) return RN_STATUS_BAD_ARGUMENT;
  if (ep->act < RN_ACT_NONE || ep->act > RN_ACT_CRELU) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] { return conv::forward(ctx, *d, x, w, nullptr, ep, true, y); });
}

RN_API int rn_cuda_conv2d_backward_data(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                        const float* w, float* dx) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!dy || !w || !dx) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    if (ctx->conv_routes != nullptr) return ctx->conv_routes->backward_data(ctx, *d, dy, w, dx);
    return conv::backward_data(ctx, *d, dy, w, dx);
  });
}

// The 2C-channel gradient into the workspace (always resnorm's own GEMM: a cuDNN route would take
// the workspace for itself), then folded onto x by its sign: two launches.
RN_API int rn_cuda_conv2d_backward_data_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                                    const float* w, const float* x, float* dx) {
  if (int st = check_crelu_input(d); st != RN_STATUS_OK) return st;
  if (!dy || !w || !x || !dx) return RN_STATUS_BAD_ARGUMENT;
  const int64_t full = int64_t(d->n) * d->c * d->h * d->w;
  if (full >= rn::cuda::kMaxIndex) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    void* scratch = nullptr;
    if (int st = rn::cuda::workspace(ctx, sizeof(float) * size_t(full), &scratch); st != RN_STATUS_OK) return st;
    float* dfull = static_cast<float*>(scratch);
    if (int st = conv::backward_data(ctx, *d, dy, w, dfull); st != RN_STATUS_OK) return st;
    return rn::cuda::crelu_backward_planes(ctx, d->n, d->c / 2, d->h * d->w, x, dfull, dx);
  });
}

RN_API int rn_cuda_conv2d_backward_filter(rn_cuda_context* ctx, const rn_conv2d_desc* d, const float* x,
                                          const float* dy, float* dw, float* dbias) {
  if (int st = conv::check(d); st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return filter_entry(ctx, d, x, dy, dw, dbias, false);
}

RN_API int rn_cuda_conv2d_backward_filter_crelu_input(rn_cuda_context* ctx, const rn_conv2d_desc* d,
                                                      const float* x, const float* dy, float* dw, float* dbias) {
  if (int st = check_crelu_input(d); st != RN_STATUS_OK) return st;
  if (!x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  return filter_entry(ctx, d, x, dy, dw, dbias, true);
}

}  // extern "C"
