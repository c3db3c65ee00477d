/*
 * Fully connected layer, float32, row-major.
 *   y[n, o] = bias[o] + sum_i x[n, i] * w[o, i]
 * x: [n, in]   w: [out, in] (PyTorch nn.Linear layout)   bias: [out] or NULL   y: [n, out]
 * Gradients are overwritten, not accumulated.
 */
#ifndef RESNORM_LINEAR_H
#define RESNORM_LINEAR_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

RN_API int rn_linear_forward(rn_context* ctx, int32_t n, int32_t in, int32_t out,
                             const float* x, const float* w, const float* bias, float* y);
/* dx[n, in] = dy[n, out] * w[out, in] */
RN_API int rn_linear_backward_data(rn_context* ctx, int32_t n, int32_t in, int32_t out,
                                   const float* dy, const float* w, float* dx);
/* dw[out, in] = dy^T x;  dbias[out] = sum_n dy (dbias may be NULL) */
RN_API int rn_linear_backward_weight(rn_context* ctx, int32_t n, int32_t in, int32_t out,
                                     const float* x, const float* dy, float* dw, float* dbias);

#ifdef __cplusplus
}
#endif
#endif
