// rn_sgd_step: checks, then splits the parameter vector across the pool.
#include "context_impl.h"
#include "isa_kernels.h"

namespace {

int check(const rn_sgd_params* p, int64_t count, const float* param, const float* grad, const float* velocity) {
  if (p == nullptr || count < 0 || (count > 0 && (!param || !grad))) return RN_STATUS_BAD_ARGUMENT;
  if (p->momentum != 0.0f && velocity == nullptr && count > 0) return RN_STATUS_BAD_ARGUMENT;
  if (p->nesterov && (p->momentum <= 0.0f || p->dampening != 0.0f)) return RN_STATUS_BAD_ARGUMENT;
  return RN_STATUS_OK;
}

}  // namespace

extern "C" {

int rn_sgd_step(rn_context* ctx, const rn_sgd_params* p, int64_t count, float* param, const float* grad,
                float* velocity) {
  if (int st = check(p, count, param, grad, velocity); st != RN_STATUS_OK) return st;
  return rn_guarded(ctx, [&] {
    const auto& k = rn::isa_kernels(ctx->isa);
    const rn_sgd_params params = *p;
    ctx->pool.parallel_for(count, 1 << 14, [&](int64_t b, int64_t e, int) {
      k.sgd_step(params, e - b, param + b, grad + b, velocity ? velocity + b : nullptr);
    });
    return RN_STATUS_OK;
  });
}

int rn_sgd_step_unfused(rn_context* ctx, const rn_sgd_params* p, int64_t count, float* param, const float* grad,
                        float* velocity) {
  if (int st = check(p, count, param, grad, velocity); st != RN_STATUS_OK) return st;
  return rn_guarded(ctx, [&] {
    const auto& k = rn::isa_kernels(ctx->isa);
    const rn_sgd_params params = *p;
    float* scratch = static_cast<float*>(ctx->workspace.require(sizeof(float) * (count > 0 ? count : 1)));
    ctx->pool.parallel_for(count, 1 << 14, [&](int64_t b, int64_t e, int) {
      k.sgd_step_unfused(params, e - b, param + b, grad + b, velocity ? velocity + b : nullptr, scratch + b);
    });
    return RN_STATUS_OK;
  });
}

}  // extern "C"
