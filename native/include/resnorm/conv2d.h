/*
 * 2-D convolution (cross-correlation, as in every DL framework), NCHW float32.
 *
 *   y[n,k,p,q] = bias[k] + sum_{c,r,s} w[k,c,r,s] * x[n,c, p*stride_h - pad_h + r,
 *                                                       q*stride_w - pad_w + s]
 * x: [n, c, h, w]   w: [k, c, r, s]   y: [n, k, p, q]
 * p = (h + 2*pad_h - r) / stride_h + 1,  q = (w + 2*pad_w - s) / stride_w + 1
 * Padding must be smaller than the kernel (pad_h < r, pad_w < s).
 *
 * backward_data:   dx = dL/dx given dy (dx is overwritten, not accumulated)
 * backward_filter: dw = dL/dw, dbias = dL/dbias (overwritten; dbias may be NULL)
 */
#ifndef RESNORM_CONV2D_H
#define RESNORM_CONV2D_H

#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rn_conv_algo {
  RN_CONV_ALGO_AUTO = 0,     /* fastest available for the shape */
  RN_CONV_ALGO_IM2COL = 1,   /* im2col (or direct for 1x1) + GEMM: every shape */
  RN_CONV_ALGO_WINOGRAD = 2, /* F(4x4,3x3): 3x3, stride 1 only */
  RN_CONV_ALGO_DIRECT = 3    /* direct convolution on channel-blocked data: every shape */
} rn_conv_algo;

typedef struct rn_conv2d_desc {
  int32_t n, c, h, w;           /* input */
  int32_t k, r, s;              /* filters: k outputs, r x s window */
  int32_t stride_h, stride_w;
  int32_t pad_h, pad_w;
  int32_t p, q;                 /* output size; must equal the formula above */
  int32_t algo;                 /* rn_conv_algo */
} rn_conv2d_desc;

/* RN_STATUS_OK if desc is consistent (positive sizes, p/q as above, padding < kernel
 * size, algo applicable to the shape). */
RN_API int rn_conv2d_check(const rn_conv2d_desc* d);
/* The algorithm AUTO resolves to for this shape and direction (0 fwd, 1 data, 2 filter). */
RN_API int rn_conv2d_resolve_algo(const rn_conv2d_desc* d, int direction);

RN_API int rn_conv2d_forward(rn_context* ctx, const rn_conv2d_desc* d,
                             const float* x, const float* w, const float* bias, float* y);
RN_API int rn_conv2d_backward_data(rn_context* ctx, const rn_conv2d_desc* d,
                                   const float* dy, const float* w, float* dx);
RN_API int rn_conv2d_backward_filter(rn_context* ctx, const rn_conv2d_desc* d,
                                     const float* x, const float* dy, float* dw, float* dbias);

#ifdef __cplusplus
}
#endif
#endif
