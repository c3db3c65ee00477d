/*
 * Batch normalization over NCHW float32, fused with the activation that follows it
 * (PyTorch nn.BatchNorm2d semantics; the paper's "batchnorm" N with ReLU or CReLU).
 *
 * Per channel c, over the m = n*hw values x[:, c, :]:
 *   training:  mean, var = batch mean and biased variance (1/m); m < 2 -> RN_STATUS_BAD_ARGUMENT
 *              running_mean = (1-momentum)*running_mean + momentum*mean
 *              running_var  = (1-momentum)*running_var  + momentum*var*m/(m-1)   (unbiased)
 *              save_mean = mean, save_invstd = 1/sqrt(var + eps)   (for backward)
 *   inference: mean, var = running_mean, running_var
 *   u = gamma*(x - mean)/sqrt(var + eps) + beta
 *   act RN_ACT_NONE:  y = u                              y [N, C, HW]
 *   act RN_ACT_RELU:  y = max(u, 0)                      y [N, C, HW]
 *   act RN_ACT_CRELU: y = [max(u, 0), max(-u, 0)]        y [N, 2C, HW] (per image: channels
 *                     0..C-1 the positive part, C..2C-1 the negative part)
 * Statistics are accumulated in double (float partial sums over short blocks, shifted by a
 * per-channel sample), so large batches and large means stay accurate. u is evaluated as
 * x*scale + shift with scale = gamma*invstd, shift = beta - mean*scale computed in float from
 * the saved (float) statistics, the same way in forward and backward, so the backward pass
 * recomputes exactly the forward's sign of u (no mask is stored).
 *
 * gamma and beta are both NULL (affine off: gamma = 1, beta = 0) or both non-NULL;
 * running_mean and running_var are both NULL (no tracking) or both non-NULL.
 * Cost: training forward = one statistics pass over x + one normalize/activate pass;
 * backward = one reduction pass over (x, dy) + one pass writing dx.
 * In place: y == x is allowed for RN_ACT_NONE and RN_ACT_RELU (not CRELU); in backward
 * dx == dy is allowed for RN_ACT_NONE and RN_ACT_RELU. Other overlaps are not.
 */
#ifndef RESNORM_BATCHNORM_H
#define RESNORM_BATCHNORM_H

#include "resnorm/activation.h"
#include "resnorm/context.h"

#ifdef __cplusplus
extern "C" {
#endif

RN_API int rn_batchnorm_forward_training(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                         float eps, float momentum, const float* x, const float* gamma,
                                         const float* beta, float* running_mean, float* running_var,
                                         float* save_mean, float* save_invstd, float* y);

RN_API int rn_batchnorm_forward_inference(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                          float eps, const float* x, const float* gamma, const float* beta,
                                          const float* running_mean, const float* running_var, float* y);

/* The training forward of a residual block's last batch norm with the shortcut added and the
 * block's ReLU, in the normalize pass: y = max(u + residual, 0) (u as RN_ACT_NONE's; residual
 * and y [N, C, HW]). The same values as rn_batchnorm_forward_training with RN_ACT_NONE
 * followed by rn_add_relu_forward, without writing and re-reading u. y may be x or residual
 * itself; other overlaps are not allowed. Backward: rn_add_relu_backward on y, then
 * rn_batchnorm_backward with RN_ACT_NONE. */
RN_API int rn_batchnorm_forward_training_add_relu(rn_context* ctx, int32_t n, int32_t c, int32_t hw, float eps,
                                                  float momentum, const float* x, const float* gamma,
                                                  const float* beta, float* running_mean, float* running_var,
                                                  float* save_mean, float* save_invstd, const float* residual,
                                                  float* y);

/* The inference forward as a per-channel affine map, for folding into the conv that
 * feeds the batch norm (rn_conv2d_forward_epilogue's scale and bias): u = scale*x + shift
 * with scale = gamma/sqrt(running_var + eps) (gamma = 1 when NULL) and shift = beta -
 * running_mean*scale (beta = 0 when NULL), c floats each. Rounds differently from
 * rn_batchnorm_forward_inference, which evaluates (x - mean)*scale + beta: equal to within
 * float32 rounding of the larger of |u| and |mean*scale|. */
RN_API int rn_batchnorm_inference_affine(rn_context* ctx, int32_t c, float eps, const float* gamma,
                                         const float* beta, const float* running_mean,
                                         const float* running_var, float* scale, float* shift);

/* Gradients of the training forward. dy has the shape of y ([N, 2C, HW] for CRELU); dx is
 * [N, C, HW]; dgamma/dbeta [C] are overwritten (both NULL when gamma/beta are NULL).
 *   du = dy (NONE), dy*[u>0] (RELU), dy[:, c]*[u>0] - dy[:, C+c]*[u<0] (CRELU)
 *   dbeta = sum du, dgamma = sum du*xhat, dx = gamma*invstd/m * (m*du - dbeta - xhat*dgamma) */
RN_API int rn_batchnorm_backward(rn_context* ctx, int32_t n, int32_t c, int32_t hw, int32_t act,
                                 const float* x, const float* gamma, const float* beta,
                                 const float* save_mean, const float* save_invstd, const float* dy,
                                 float* dx, float* dgamma, float* dbeta);

#ifdef __cplusplus
}
#endif
#endif
