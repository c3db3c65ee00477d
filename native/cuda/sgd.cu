// Fused SGD step on CUDA (sgd.h; PyTorch SGD semantics, first step v = g): one pass
// over param, grad and velocity. Rounded multiplies and adds (__fmul_rn, __fadd_rn: no
// FMA contraction), the CPU loop's operations in the CPU loop's order.
#include "cuda_impl.cuh"
#include "resnorm/sgd.h"

namespace rn::cuda {

namespace {

enum Mode { kPlain, kFirst, kFirstNesterov, kMomentum, kNesterov };

template <int M>
__global__ void __launch_bounds__(256)
    sgd_kernel(int64_t count, float lr, float wd, float mom, float keep, float* param, const float* grad,
               float* velocity) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x) {
    const float p = param[i];
    const float g = __fadd_rn(grad[i], __fmul_rn(wd, p));
    float step;
    if constexpr (M == kPlain) {
      step = g;
    } else if constexpr (M == kFirst) {
      velocity[i] = g;
      step = g;
    } else if constexpr (M == kFirstNesterov) {
      velocity[i] = g;
      step = __fadd_rn(g, __fmul_rn(mom, g));
    } else {
      const float v = __fadd_rn(__fmul_rn(mom, velocity[i]), __fmul_rn(keep, g));
      velocity[i] = v;
      step = M == kNesterov ? __fadd_rn(g, __fmul_rn(mom, v)) : v;
    }
    param[i] = __fsub_rn(p, __fmul_rn(lr, step));
  }
}

}  // namespace

}  // namespace rn::cuda

using namespace rn::cuda;

extern "C" {

RN_API int rn_cuda_sgd_step(rn_cuda_context* ctx, const rn_sgd_params* p, int64_t count, float* param,
                            const float* grad, float* velocity) {
  if (p == nullptr || count < 0 || (count > 0 && (!param || !grad))) return RN_STATUS_BAD_ARGUMENT;
  if (p->momentum != 0.0f && velocity == nullptr && count > 0) return RN_STATUS_BAD_ARGUMENT;
  if (p->nesterov && (p->momentum <= 0.0f || p->dampening != 0.0f)) return RN_STATUS_BAD_ARGUMENT;
  const rn_sgd_params q = *p;
  return guarded(ctx, [&] {
    if (count == 0) return int(RN_STATUS_OK);
    const unsigned int blocks = stride_blocks(ctx, count);
    const float keep = 1.0f - q.dampening;
    cudaStream_t s = ctx->stream;
    if (q.momentum == 0.0f)
      RN_LAUNCH(sgd_kernel<kPlain>, blocks, 256, s, count, q.lr, q.weight_decay, 0.0f, keep, param, grad, velocity);
    else if (q.first_step && q.nesterov)
      RN_LAUNCH(sgd_kernel<kFirstNesterov>, blocks, 256, s, count, q.lr, q.weight_decay, q.momentum, keep, param, grad,
                velocity);
    else if (q.first_step)
      RN_LAUNCH(sgd_kernel<kFirst>, blocks, 256, s, count, q.lr, q.weight_decay, q.momentum, keep, param, grad,
                velocity);
    else if (q.nesterov)
      RN_LAUNCH(sgd_kernel<kNesterov>, blocks, 256, s, count, q.lr, q.weight_decay, q.momentum, keep, param, grad,
                velocity);
    else
      RN_LAUNCH(sgd_kernel<kMomentum>, blocks, 256, s, count, q.lr, q.weight_decay, q.momentum, keep, param, grad,
                velocity);
    RN_CUDA_CHECK_LAUNCH();
    return int(RN_STATUS_OK);
  });
}

}  // extern "C"
