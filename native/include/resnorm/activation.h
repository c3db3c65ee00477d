/*
 * Standalone activations over float32 (the unfused path, and the residual block's final
 * add + ReLU). NaN propagates through the forward ops (max(NaN, 0) = NaN, as PyTorch).
 *
 *   relu:     y = max(x, 0);                dx = dy*[y > 0]
 *   crelu:    x [N, C, HW] -> y [N, 2C, HW] = [max(x, 0), max(-x, 0)] per image;
 *             dx = dy[:, c]*[x > 0] - dy[:, C+c]*[x < 0]
 *   add_relu: y = max(a + b, 0) (residual add fused with the block's final ReLU);
 *             da = dy*[y > 0], db = da (db may be NULL: the caller reuses da)
 *
 * In place (an output pointer equal to an input pointer; partial overlaps are never allowed):
 *   rn_relu_forward y == x; rn_relu_backward dx == dy (or dx == y);
 *   rn_add_relu_forward y == a or y == b; rn_add_relu_backward da == dy or db == dy (or == y);
 *   rn_relu_backward_sum dx == da or dx == db (or == y).
 *   rn_crelu_forward / rn_crelu_backward: never (the two sides have different sizes).
 */
#ifndef RESNORM_ACTIVATION_H
#define RESNORM_ACTIVATION_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The activations the fused ops apply (batch norm, the conv epilogue, the
 * weight-normalized conv). CReLU(u) = [max(u, 0), max(-u, 0)] along channels: its
 * output has twice the channels. */
typedef enum rn_activation {
  RN_ACT_NONE = 0,
  RN_ACT_RELU = 1,
  RN_ACT_CRELU = 2
} rn_activation;

RN_API int rn_relu_forward(rn_context* ctx, int64_t count, const float* x, float* y);
RN_API int rn_relu_backward(rn_context* ctx, int64_t count, const float* y, const float* dy, float* dx);

RN_API int rn_crelu_forward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x, float* y);
RN_API int rn_crelu_backward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, const float* x,
                             const float* dy, float* dx);

RN_API int rn_add_relu_forward(rn_context* ctx, int64_t count, const float* a, const float* b, float* y);
RN_API int rn_add_relu_backward(rn_context* ctx, int64_t count, const float* y, const float* dy, float* da,
                                float* db);

/* dx = (da + db)·[y > 0]: the gradient of a ReLU output y that two paths read, summed and
 * passed back through the ReLU in one pass (the same bits as rn_add, then rn_relu_backward).
 * The executor's use: a residual block's input is the block below's output relu(main +
 * shortcut), so the block's main-path and shortcut gradients meet there and go straight on
 * into the block below's add + ReLU backward. */
RN_API int rn_relu_backward_sum(rn_context* ctx, int64_t count, const float* y, const float* da, const float* db,
                                float* dx);

/* y = a + b: where two gradient paths meet (a residual block's input gets the
 * main path's and the shortcut's). y may be a or b. */
RN_API int rn_add(rn_context* ctx, int64_t count, const float* a, const float* b, float* y);

#ifdef __cplusplus
}
#endif
#endif
