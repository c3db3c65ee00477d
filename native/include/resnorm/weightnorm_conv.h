/*
 * Weight-normalized convolution: the NormProp family of the paper (Arpit et al.
 * 2016's NormProp; Salimans & Kingma 2016's weight normalization) as one op.
 *
 *   vhat_k = v_k / ||v_k||            (norm over c, r, s of filter k; v: [k, c, r, s])
 *   u      = gamma_k * conv(x, vhat)_k + beta_k
 *   y      = post_scale * act(u) + post_shift      (act: rn_activation; CReLU gives 2k channels)
 *
 * The per-channel scale gamma_k / ||v_k||, the bias and the activation run in the
 * conv's epilogue (rn_conv2d_forward_epilogue): no extra pass over y.
 *   normprop:  act ReLU or CReLU, post_scale = 1 / sqrt(0.5 (1 - 1/pi)),
 *              post_shift = -post_scale / sqrt(2 pi); gamma learned (init 1/1.21);
 *              with act NONE (after a block's second conv) post is 1, 0.
 *   normprop2: post_scale 1, post_shift 0; gamma learned.
 *   normprop3: normprop2 with gamma fixed: pass dgamma = NULL to backward.
 *
 * Backward recovers act'(u) from y (no saved mask): with post_scale > 0, u > 0
 * exactly where the (positive half of) y exceeds post_shift, u < 0 where the
 * negative half does. Then, with du = dL/du and G = conv backward-filter(x, du)
 * (the gradient of the effective filters gamma_k vhat_k):
 *   dbeta_k  = sum du_k
 *   dgamma_k = G_k . vhat_k
 *   dv_k     = gamma_k / ||v_k|| * (G_k - dgamma_k vhat_k)
 *   dx       = conv backward-data(du, gamma vhat)
 * du is the caller's scratch, [n, k, p, q]; it may be dy itself when act is not
 * CReLU (dy is then overwritten). dx, dgamma and dbeta may be NULL (not wanted).
 * A filter with zero norm, or post_scale <= 0, is RN_STATUS_BAD_ARGUMENT.
 */
#ifndef RESNORM_WEIGHTNORM_CONV_H
#define RESNORM_WEIGHTNORM_CONV_H

#include "resnorm/conv2d.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NormProp's post-activation constants (the mean and standard deviation of
 * ReLU(z), z ~ N(0, 1)). */
#define RN_NORMPROP_RELU_MEAN 0.3989422804014327f /* 1 / sqrt(2 pi) */
#define RN_NORMPROP_RELU_STD 0.5838487448353205f  /* sqrt(0.5 (1 - 1/pi)) */

RN_API int rn_wnconv_forward(rn_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale,
                             float post_shift, const float* x, const float* v, const float* gamma,
                             const float* beta, float* y);

RN_API int rn_wnconv_backward(rn_context* ctx, const rn_conv2d_desc* d, int32_t act, float post_scale,
                              float post_shift, const float* x, const float* v, const float* gamma,
                              const float* y, const float* dy, float* du, float* dx, float* dv,
                              float* dgamma, float* dbeta);

#ifdef __cplusplus
}
#endif
#endif
