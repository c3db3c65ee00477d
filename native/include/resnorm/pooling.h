/*
 * Pooling, float32, NCHW. Every kernel works plane by plane (one (n, c) pair at a
 * time); planes are split across the context's threads.
 *
 * Global average pooling: x [n, c, hw] (an image plane flattened) -> y [n, c].
 *
 * Max pooling, square window `kernel`, `stride`, zero-or-more `pad` on every side:
 *   x [n, c, h, w] -> y [n, c, p, q],  p = (h + 2*pad - kernel)/stride + 1 (floor, as
 *   PyTorch with ceil_mode=False), q likewise from w.
 *   Padding is -inf: it is never selected. Requires kernel, stride >= 1, 0 <= pad <=
 *   kernel/2 (PyTorch's rule) and h + 2*pad >= kernel, w + 2*pad >= kernel; then every
 *   window holds at least one real pixel.
 *   argmax [n, c, p, q] (optional) = h_in * w + w_in of the selected pixel within its
 *   input plane. Ties go to the first pixel in row-major window order; a NaN in the
 *   window is selected (the first NaN), so NaN propagates as in PyTorch.
 *
 * Backward kernels overwrite their output (dx is zeroed first, then gradients are
 * scattered; overlapping windows accumulate).
 */
#ifndef RESNORM_POOLING_H
#define RESNORM_POOLING_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[n, c] = mean of x[n, c, 0..hw) */
RN_API int rn_global_avgpool_forward(rn_context* ctx, int32_t n, int32_t c, int32_t hw,
                                     const float* x, float* y);
/* dx[n, c, i] = dy[n, c] / hw */
RN_API int rn_global_avgpool_backward(rn_context* ctx, int32_t n, int32_t c, int32_t hw,
                                      const float* dy, float* dx);

/* y = maxpool(x); argmax may be NULL. */
RN_API int rn_maxpool2d_forward(rn_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                int32_t kernel, int32_t stride, int32_t pad,
                                const float* x, float* y, int32_t* argmax);
/* dx = 0; dx[n, c, argmax[n, c, i, j]] += dy[n, c, i, j]. RN_STATUS_BAD_ARGUMENT if an
 * argmax entry lies outside [0, h*w) (dx is then partly written). */
RN_API int rn_maxpool2d_backward(rn_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                 int32_t kernel, int32_t stride, int32_t pad,
                                 const int32_t* argmax, const float* dy, float* dx);
/* As rn_maxpool2d_backward, with the argmax recomputed from x (same rule as forward), for
 * when it was not stored. Gives bitwise the same dx. */
RN_API int rn_maxpool2d_backward_recompute(rn_context* ctx, int32_t n, int32_t c, int32_t h, int32_t w,
                                           int32_t kernel, int32_t stride, int32_t pad,
                                           const float* x, const float* dy, float* dx);

#ifdef __cplusplus
}
#endif
#endif
