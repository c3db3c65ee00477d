/*
 * Option A residual shortcut (parameter-free; fb.resnet.torch's CIFAR default), float32 NCHW:
 *   y[n, k, i, j] = x[n, k, i*stride, j*stride]   for k < c_in
 *                 = 0                              for c_in <= k < c_out
 * x [n, c_in, h, w] -> y [n, c_out, ceil(h/stride), ceil(w/stride)].
 * The zero channels are appended after the identity channels, the layout of
 * fb.resnet.torch's Concat(Identity, MulConstant(0)) (not split before and after).
 * Requires c_out >= c_in >= 1 and stride >= 1.
 * Backward overwrites dx [n, c_in, h, w]: dy at the subsampled positions, 0 elsewhere
 * (the zero channels of dy are ignored).
 */
#ifndef RESNORM_SHORTCUT_H
#define RESNORM_SHORTCUT_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

RN_API int rn_shortcut_a_forward(rn_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w,
                                 int32_t c_out, int32_t stride, const float* x, float* y);
RN_API int rn_shortcut_a_backward(rn_context* ctx, int32_t n, int32_t c_in, int32_t h, int32_t w,
                                  int32_t c_out, int32_t stride, const float* dy, float* dx);

#ifdef __cplusplus
}
#endif
#endif
