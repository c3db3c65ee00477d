// Softmax cross-entropy (mean over the batch) and top-k counts on CUDA
// (softmax_xent.h): one warp per row, the log-sum-exp in double as on the CPU; the
// batch loss is the sum of the per-row losses in a fixed order (deterministic). The
// loss and the count are written to device memory.
#include <cmath>

#include "cuda_impl.cuh"
#include "resnorm/softmax_xent.h"

namespace rn::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // warps of a 256-thread block

__device__ __forceinline__ double warp_all_max(double v) {
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ double warp_all_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// log(sum_j exp(row[j] - max)) + max in double, in every lane; NaN if any entry is NaN.
__device__ double row_lse(const float* row, int32_t classes, int lane) {
  double mx = -INFINITY;
  bool nan = false;
  for (int32_t j = lane; j < classes; j += 32) {
    const float v = row[j];
    mx = fmax(mx, double(v));
    nan |= isnan(v);
  }
  mx = warp_all_max(mx);
  nan = __any_sync(0xffffffffu, nan);
  double sum = 0.0;
  for (int32_t j = lane; j < classes; j += 32) sum += exp(double(row[j]) - mx);
  sum = warp_all_sum(sum);
  return nan ? double(NAN) : log(sum) + mx;
}

__global__ void row_losses(int32_t n, int32_t classes, const float* logits, const int32_t* labels, double* out,
                           unsigned int* error_word) {
  const int32_t row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= n) return;  // whole warps leave together
  const float* r = logits + int64_t(row) * classes;
  const double lse = row_lse(r, classes, lane);
  if (lane != 0) return;
  const int32_t label = labels[row];
  if (label < 0 || label >= classes) {
    atomicOr(error_word, kErrLabel);
    out[row] = NAN;
  } else {
    out[row] = lse - double(r[label]);
  }
}

// *loss = float(sum of the n row losses / n), one block.
__global__ void mean_loss(int32_t n, const double* rows, float* loss) {
  double s = 0.0, unused = 0.0;
  for (int32_t i = threadIdx.x; i < n; i += 256) s += rows[i];
  block_sum2<256>(s, unused);
  if (threadIdx.x == 0) *loss = float(s / n);
}

__global__ void xent_backward(int32_t n, int32_t classes, const float* logits, const int32_t* labels, double factor,
                              float* dlogits, unsigned int* error_word) {
  const int32_t row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= n) return;
  const float* r = logits + int64_t(row) * classes;
  float* out = dlogits + int64_t(row) * classes;
  // Every lane reads its entries (in row_lse) before any lane writes: dlogits may alias logits.
  const double lse = row_lse(r, classes, lane);
  const int32_t label = labels[row];
  if (lane == 0 && (label < 0 || label >= classes)) atomicOr(error_word, kErrLabel);
  for (int32_t j = lane; j < classes; j += 32) {
    const double prob = exp(double(r[j]) - lse);
    out[j] = float(factor * (prob - (j == label ? 1.0 : 0.0)));
  }
}

__global__ void topk(int32_t n, int32_t classes, const float* logits, const int32_t* labels, int32_t k,
                     unsigned long long* correct, unsigned int* error_word) {
  const int32_t row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= n) return;
  const float* r = logits + int64_t(row) * classes;
  const int32_t label = labels[row];
  const bool label_ok = label >= 0 && label < classes;
  const float target = label_ok ? r[label] : 0.0f;
  int32_t greater = 0;
  bool nan = false;
  for (int32_t j = lane; j < classes; j += 32) {
    const float v = r[j];
    nan |= isnan(v);
    greater += v > target;
  }
  for (int o = 16; o > 0; o >>= 1) greater += __shfl_xor_sync(0xffffffffu, greater, o);
  nan = __any_sync(0xffffffffu, nan);
  if (lane != 0) return;
  if (!label_ok) {
    atomicOr(error_word, kErrLabel);
    return;
  }
  if (!nan && greater < k) atomicAdd(correct, 1ull);
}

bool bad_args(int32_t n, int32_t classes, const void* logits, const void* labels) {
  return n <= 0 || classes <= 0 || !logits || !labels;
}

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;

extern "C" {

RN_API int rn_cuda_softmax_xent_forward(rn_cuda_context* ctx, int32_t n, int32_t classes, const float* logits,
                                        const int32_t* labels, float* loss) {
  if (bad_args(n, classes, logits, labels) || !loss) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    void* rows = nullptr;
    if (int st = workspace(ctx, sizeof(double) * size_t(n), &rows); st != RN_STATUS_OK) return st;
    RN_LAUNCH(row_losses, blocks_for(n, kRowsPerBlock), 256, ctx->stream, n, classes, logits, labels,
              static_cast<double*>(rows), ctx->error_word);
    RN_CUDA_CHECK_LAUNCH();
    RN_LAUNCH(mean_loss, 1, 256, ctx->stream, n, static_cast<double*>(rows), loss);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_softmax_xent_backward(rn_cuda_context* ctx, int32_t n, int32_t classes, const float* logits,
                                         const int32_t* labels, float scale, float* dlogits) {
  if (bad_args(n, classes, logits, labels) || !dlogits) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    RN_LAUNCH(xent_backward, blocks_for(n, kRowsPerBlock), 256, ctx->stream, n, classes, logits, labels,
              double(scale) / n, dlogits, ctx->error_word);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

RN_API int rn_cuda_topk_correct(rn_cuda_context* ctx, int32_t n, int32_t classes, const float* logits,
                                const int32_t* labels, int32_t k, int64_t* correct) {
  if (bad_args(n, classes, logits, labels) || k <= 0 || !correct) return RN_STATUS_BAD_ARGUMENT;
  return guarded(ctx, [&] {
    RN_CUDA_TRY(cudaMemsetAsync(correct, 0, sizeof(int64_t), ctx->stream));
    RN_LAUNCH(topk, blocks_for(n, kRowsPerBlock), 256, ctx->stream, n, classes, logits, labels, k,
              reinterpret_cast<unsigned long long*>(correct), ctx->error_word);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
