// Fully connected layer on CUDA (linear.h) on the conv's GEMM engine (gemm.cuh), the
// three problems in linear_problems.cuh, and dbias (column sums of dy) in double.
#include "gemm.cuh"
#include "linear_problems.cuh"
#include "resnorm/linear.h"

namespace rn::cuda {

namespace {

__global__ void column_sums(int32_t n, int32_t out, const float* dy, float* dbias) {
  const int32_t o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= out) return;
  double sum = 0.0;
  for (int32_t i = 0; i < n; ++i) sum += dy[int64_t(i) * out + o];
  dbias[o] = float(sum);
}

bool bad_sizes(int32_t n, int32_t in, int32_t out) { return n <= 0 || in <= 0 || out <= 0; }
bool too_large(int32_t n, int32_t in, int32_t out) {
  return int64_t(n) * in >= kMaxIndex || int64_t(n) * out >= kMaxIndex || int64_t(in) * out >= kMaxIndex;
}

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;
using namespace rn::cuda::linear;

extern "C" {

RN_API int rn_cuda_linear_forward(rn_cuda_context* ctx, int32_t n, int32_t in, int32_t out, const float* x,
                                  const float* w, const float* bias, float* y) {
  if (bad_sizes(n, in, out) || !x || !w || !y) return RN_STATUS_BAD_ARGUMENT;
  if (too_large(n, in, out)) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] { return launch_gemm(ctx, LinearForward{out, n, in, x, w, bias, y}); });
}

RN_API int rn_cuda_linear_backward_data(rn_cuda_context* ctx, int32_t n, int32_t in, int32_t out, const float* dy,
                                        const float* w, float* dx) {
  if (bad_sizes(n, in, out) || !dy || !w || !dx) return RN_STATUS_BAD_ARGUMENT;
  if (too_large(n, in, out)) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] { return launch_gemm(ctx, LinearBackwardData{in, n, out, dy, w, dx}); });
}

RN_API int rn_cuda_linear_backward_weight(rn_cuda_context* ctx, int32_t n, int32_t in, int32_t out, const float* x,
                                          const float* dy, float* dw, float* dbias) {
  if (bad_sizes(n, in, out) || !x || !dy || !dw) return RN_STATUS_BAD_ARGUMENT;
  if (too_large(n, in, out)) return RN_STATUS_UNSUPPORTED;
  return guarded(ctx, [&] {
    if (int st = launch_gemm(ctx, LinearBackwardWeight{out, in, n, x, dy, dw}); st != RN_STATUS_OK) return st;
    if (dbias != nullptr) {
      RN_LAUNCH(column_sums, blocks_for(out, 128), 128, ctx->stream, n, out, dy, dbias);
      RN_CUDA_CHECK_LAUNCH();
    }
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
