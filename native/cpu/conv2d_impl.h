// Internal interface between the conv2d entry points (conv2d.cpp) and the
// algorithm files (conv2d_im2col.cpp, conv2d_winograd.cpp).
#pragma once

#include "context_impl.h"
#include "gemm.h"
#include "resnorm/conv2d.h"

namespace rn::conv {

inline int64_t in_plane(const rn_conv2d_desc& d) { return int64_t(d.h) * d.w; }
inline int64_t out_plane(const rn_conv2d_desc& d) { return int64_t(d.p) * d.q; }
inline int64_t filter_size(const rn_conv2d_desc& d) { return int64_t(d.c) * d.r * d.s; }

// A fused forward epilogue (rn_conv2d_forward_epilogue), as the algorithms get it:
// args for epilogue_c16 (lane-padded scale/bias), the unpadded vectors for the
// im2col path, and where each image's output starts in y.
struct Epilogue {
  EpilogueArgs args;
  const float* scale = nullptr;  // [k] or null
  const float* bias = nullptr;   // [k] or null
  bool crelu() const { return args.act == RN_ACT_CRELU; }
  // floats from one image of y to the next: k (or 2k with CReLU) planes
  int64_t image(const rn_conv2d_desc& d) const { return (crelu() ? 2 : 1) * int64_t(d.k) * d.p * d.q; }
};

// The entry points' work without the checks and the context lock, for ops built
// on the conv (weightnorm_conv.cpp): validate with check(), then call inside one
// rn_guarded. The algorithm is resolved as rn_conv2d_resolve_algo says.
int check(const rn_conv2d_desc* d);
int forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w, const float* bias, float* y,
            const Epilogue* ep);
int forward_epilogue(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                     const rn_conv2d_epilogue& e, float* y);
// The algorithms' form of e in *ep (lane-padded copies of scale and bias in the context's
// channel_params block, valid until the next call that takes it); false when e is only a
// bias, which the plain conv adds (pass e.bias as the conv's bias, no epilogue).
bool prepare_epilogue(rn_context* ctx, const rn_conv2d_desc& d, const rn_conv2d_epilogue& e, Epilogue* ep);
int backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w, float* dx);
int backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy, float* dw,
                    float* dbias);

// The epilogue on one image's NCHW output planes (k of them, pq each) in place,
// the CReLU negative half written k planes further on.
void epilogue_planes(const rn_conv2d_desc& d, const Epilogue& ep, float* y_image);

// True for the shapes the Winograd F(4x4,3x3) path handles: 3x3, stride 1.
bool winograd_applicable(const rn_conv2d_desc& d);

// Sum of count floats (vectorized partial sums, combined in double).
double plane_sum(const float* v, int64_t count);

// dbias[k] = sum of dy over n, p, q (in double), split over k across the pool.
void bias_gradient(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, float* dbias);

// Backward-filter's deterministic reduction: adds the accumulators of groups 1 .. groups-1
// (floats each, acc_of(group) gives one) into group 0's, in group order, and returns it.
template <class AccOf>
float* sum_group_accumulators(ThreadPool& pool, int groups, int64_t floats, const AccOf& acc_of) {
  float* total = acc_of(0);
  if (groups > 1) {
    pool.parallel_for(floats, 4096, [&](int64_t b, int64_t e, int) {
      for (int group = 1; group < groups; ++group) {
        const float* a = acc_of(group);
        for (int64_t i = b; i < e; ++i) total[i] += a[i];
      }
    });
  }
  return total;
}

// im2col + GEMM: every shape. 1x1 stride-1 unpadded convs skip the im2col copy.
int im2col_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue* ep = nullptr);
int im2col_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx);
int im2col_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias);

// Winograd F(4x4,3x3): 3x3, stride 1 (winograd_applicable). With crelu_input, x holds
// d.c/2 channels and the conv reads [relu(x), relu(-x)], formed as each tile row is
// packed; only where winograd_crelu_input_applicable (d.c/2 a multiple of 16).
bool winograd_crelu_input_applicable(const rn_conv2d_desc& d);
int winograd_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                     const float* bias, float* y, const Epilogue* ep = nullptr, bool crelu_input = false);
int winograd_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                           float* dx);
int winograd_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                             float* dw, float* dbias, bool crelu_input = false);

// Direct convolution on channel-blocked data: every shape.
int direct_forward(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* w,
                   const float* bias, float* y, const Epilogue* ep = nullptr);
int direct_backward_data(rn_context* ctx, const rn_conv2d_desc& d, const float* dy, const float* w,
                         float* dx);
int direct_backward_filter(rn_context* ctx, const rn_conv2d_desc& d, const float* x, const float* dy,
                           float* dw, float* dbias);

}  // namespace rn::conv
