// Internal interface between the conv2d entry points (conv2d.cpp) and the
// algorithm files (conv2d_im2col.cpp, conv2d_winograd.cpp).
#pragma once

#include "context_impl.h"
#include "resnorm/conv2d.h"

namespace rn::conv {

inline int64_t in_plane(const rn_conv2d_desc& d) { return int64_t(d.h) * d.w; }
inline int64_t out_plane(const rn_conv2d_desc& d) { return int64_t(d.p) * d.q; }
inline int64_t filter_size(const rn_conv2d_desc& d) { return int64_t(d.c) * d.r * d.s; }

// True for the shapes the Winograd F(4x4,3x3) path handles: 3x3, stride 1.
bool winograd_applicable(const rn_conv2d_desc& d);

// dbias[k] = sum of dy over n, p, q (in double), split over k across the pool.
void bias_gradient(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, float* dbias);

// im2col + GEMM: every shape. 1x1 stride-1 unpadded convs skip the im2col copy.
int im2col_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y);
int im2col_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx);
int im2col_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias);

// Winograd F(4x4,3x3): 3x3, stride 1 (winograd_applicable).
int winograd_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                     const float* bias, float* y);
int winograd_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                           float* dx);
int winograd_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                             float* dw, float* dbias);

// Direct convolution on channel-blocked data: every shape.
int direct_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y);
int direct_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx);
int direct_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias);

}  // namespace rn::conv
