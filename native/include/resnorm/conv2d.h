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

#include "resnorm/activation.h"
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
/* A forward epilogue fused into the conv: what the algorithm applies to each
 * output tile while it is still in cache (no extra pass over y):
 *   u[n,k,p,q] = scale[k] * conv(x, w)[n,k,p,q] + bias[k]
 *   a = u (NONE) | max(u, 0) (RELU) | [max(u, 0), max(-u, 0)] (CRELU)
 *   y = post_scale * a + post_shift
 * With CRELU, y is [n, 2k, p, q]: channels 0..k-1 the positive part, k..2k-1 the
 * negative part. post_scale/post_shift are NormProp's re-centering of the
 * activation (1 and 0 otherwise). NaN in u propagates to y. */
typedef struct rn_conv2d_epilogue {
  const float* scale; /* [k] or NULL (1) */
  const float* bias;  /* [k] or NULL (0) */
  int32_t act;        /* rn_activation */
  float post_scale;
  float post_shift;
} rn_conv2d_epilogue;

RN_API int rn_conv2d_forward_epilogue(rn_context* ctx, const rn_conv2d_desc* d, const float* x,
                                      const float* w, const rn_conv2d_epilogue* ep, float* y);

/* The conv of CReLU(x) without the 2C tensor in memory: x is [n, c/2, h, w] (the
 * pre-activation), the conv sees crelu(x) = [max(x, 0), max(-x, 0)] with d->c = 2 *
 * (x's channels). Where AUTO (or d->algo) runs the conv as Winograd and c/2 is a
 * multiple of 16, the CReLU is formed as the Winograd pack reads each tile row (no
 * extra pass; rn_conv2d_crelu_input_in_pack says 1); otherwise crelu(x) is expanded a
 * few images at a time into cache-sized scratch and the conv runs chunk by chunk,
 * which is slower than the conv of a stored 2C tensor.
 * Backward-data: rn_conv2d_backward_data gives the gradient of crelu(x) (2C channels), which
 * rn_batchnorm_backward with RN_ACT_CRELU (or rn_crelu_backward) folds onto x by the sign of
 * the pre-activation; rn_conv2d_backward_data_crelu_input does both, see below. */
RN_API int rn_conv2d_forward_crelu_input(rn_context* ctx, const rn_conv2d_desc* d, const float* x,
                                         const float* w, const float* bias, float* y);
RN_API int rn_conv2d_backward_filter_crelu_input(rn_context* ctx, const rn_conv2d_desc* d,
                                                 const float* x, const float* dy, float* dw,
                                                 float* dbias);
/* rn_conv2d_forward_crelu_input with rn_conv2d_forward_epilogue's epilogue (y has 2K
 * channels for an RN_ACT_CRELU epilogue). */
RN_API int rn_conv2d_forward_crelu_input_epilogue(rn_context* ctx, const rn_conv2d_desc* d, const float* x,
                                                  const float* w, const rn_conv2d_epilogue* ep, float* y);
/* The gradient with respect to x of the conv of crelu(x): dx [n, c/2, h, w] = dX[:, i]·[x > 0]
 * - dX[:, c/2 + i]·[x < 0], dX = rn_conv2d_backward_data's 2C-channel gradient, with the same
 * bits as that call followed by rn_crelu_backward. Where the backward-data conv runs as Winograd
 * (rn_conv2d_resolve_algo(d, 1)) and c/2 is a multiple of 16, dX exists only a tile row at a
 * time, in cache; otherwise a few images at a time in scratch. dx must not overlap the other
 * arguments. */
RN_API int rn_conv2d_backward_data_crelu_input(rn_context* ctx, const rn_conv2d_desc* d, const float* dy,
                                               const float* w, const float* x, float* dx);
/* 1 where the forward and filter-gradient CReLU-input calls above form the CReLU in the conv's pack for this
 * descriptor (the fast case), 0 where they go through chunks, -1 for a bad descriptor
 * (as rn_conv2d_check, or an odd d->c). */
RN_API int rn_conv2d_crelu_input_in_pack(const rn_conv2d_desc* d);

RN_API int rn_conv2d_backward_data(rn_context* ctx, const rn_conv2d_desc* d,
                                   const float* dy, const float* w, float* dx);
RN_API int rn_conv2d_backward_filter(rn_context* ctx, const rn_conv2d_desc* d,
                                     const float* x, const float* dy, float* dw, float* dbias);

#ifdef __cplusplus
}
#endif
#endif
