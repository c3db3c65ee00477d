// Fused SGD update, one pass over memory (compiled per ISA level; the loops are
// simple enough that the compiler's vectorizer writes the SIMD code).
#include "isa_kernels.h"

namespace rn::RN_ISA_NS {

void sgd_step(const rn_sgd_params& p, int64_t count, float* __restrict param, const float* __restrict grad,
              float* __restrict velocity) {
  const float lr = p.lr, wd = p.weight_decay, mom = p.momentum, keep = 1.0f - p.dampening;
  if (mom == 0.0f) {
    for (int64_t i = 0; i < count; ++i) param[i] -= lr * (grad[i] + wd * param[i]);
    return;
  }
  // One loop per (first_step, nesterov) combination keeps branches out of the loop.
  if (p.first_step) {
    if (p.nesterov) {
      for (int64_t i = 0; i < count; ++i) {
        float g = grad[i] + wd * param[i];
        velocity[i] = g;
        param[i] -= lr * (g + mom * g);
      }
    } else {
      for (int64_t i = 0; i < count; ++i) {
        float g = grad[i] + wd * param[i];
        velocity[i] = g;
        param[i] -= lr * g;
      }
    }
  } else if (p.nesterov) {
    for (int64_t i = 0; i < count; ++i) {
      float g = grad[i] + wd * param[i];
      float v = mom * velocity[i] + keep * g;
      velocity[i] = v;
      param[i] -= lr * (g + mom * v);
    }
  } else {
    for (int64_t i = 0; i < count; ++i) {
      float g = grad[i] + wd * param[i];
      float v = mom * velocity[i] + keep * g;
      velocity[i] = v;
      param[i] -= lr * v;
    }
  }
}

void sgd_step_unfused(const rn_sgd_params& p, int64_t count, float* __restrict param, const float* __restrict grad,
                      float* __restrict velocity, float* __restrict g) {
  const float lr = p.lr, wd = p.weight_decay, mom = p.momentum, keep = 1.0f - p.dampening;
  for (int64_t i = 0; i < count; ++i) g[i] = grad[i] + wd * param[i];  // pass 1: decay
  if (mom != 0.0f) {
    if (p.first_step) {                                                   // pass 2: momentum
      for (int64_t i = 0; i < count; ++i) velocity[i] = g[i];
    } else {
      for (int64_t i = 0; i < count; ++i) velocity[i] = mom * velocity[i] + keep * g[i];
    }
    if (p.nesterov) {                                                     // pass 3: direction
      for (int64_t i = 0; i < count; ++i) g[i] = g[i] + mom * velocity[i];
    } else {
      for (int64_t i = 0; i < count; ++i) g[i] = velocity[i];
    }
  }
  for (int64_t i = 0; i < count; ++i) param[i] -= lr * g[i];            // pass 4: update
}

}  // namespace rn::RN_ISA_NS
