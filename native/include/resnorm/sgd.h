/*
 * Fused SGD step (one pass over memory), PyTorch torch.optim.SGD / Torch7 optim.sgd
 * semantics as used by fb.resnet.torch:
 *   g = grad + weight_decay * param                      (coupled L2 decay)
 *   if momentum != 0:
 *       v = first_step ? g : momentum * v + (1 - dampening) * g
 *       g = nesterov ? g + momentum * v : v
 *   param -= lr * g
 * velocity may be NULL only when momentum == 0. nesterov requires momentum > 0 and
 * dampening == 0 (as PyTorch). grad is not modified.
 */
#ifndef RESNORM_SGD_H
#define RESNORM_SGD_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rn_sgd_params {
  float lr;
  float momentum;
  float dampening;
  float weight_decay;
  int32_t nesterov;    /* 0 or 1 */
  int32_t first_step;  /* 1: velocity is initialised to g (its old content is ignored) */
} rn_sgd_params;

RN_API int rn_sgd_step(rn_context* ctx, const rn_sgd_params* params, int64_t count,
                       float* param, const float* grad, float* velocity);

/* The same update as four separate passes over memory (decay, momentum, Nesterov,
 * update), the way a framework without fusion composes it. For tests (fused must
 * equal unfused within float32 rounding) and benchmarks (what fusion saves). */
RN_API int rn_sgd_step_unfused(rn_context* ctx, const rn_sgd_params* params, int64_t count,
                               float* param, const float* grad, float* velocity);

#ifdef __cplusplus
}
#endif
#endif
