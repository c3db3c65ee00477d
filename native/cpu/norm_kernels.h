// Per-ISA inner loops of the batch-norm and activation ops (batchnorm_act.cpp,
// activation.cpp), with their own dispatch table so that this op family adds no
// lines to the shared isa_kernels.h / isa.cpp tables (they can be folded in later).
// Same mechanism as isa_kernels.h: the kernel files are compiled once per level by
// resnorm_add_isa_kernels and define these functions inside namespace rn::RN_ISA_NS.
//
// Conventions: reductions *add* to their double outputs; act is RN_ACT_*. u = (x - mean)*scale + beta
// is evaluated the same way (same instructions, vector tails padded) in every kernel, so
// forward and backward agree on the sign of u bit for bit.
#pragma once

#include <cstdint>

namespace rn {

// `planes` runs of `len` floats of one channel: run i of x starts at x + i*x_stride, of the
// other tensor (y in forward, dy in backward) at other + i*other_stride; for CReLU the
// negative half of that tensor is neg_offset floats further on. out (dx in backward) has
// x's layout. A contiguous segment is planes = 1.
struct BnRuns {
  const float* x;
  int64_t planes, len, x_stride;
  int64_t other_stride, neg_offset;
};

// Per-channel constants: u = (x - mean)*scale + beta; dx = a*du + b*(x - mean) + c.
struct BnChannel {
  float mean, scale, beta, a, b, c;
};

}  // namespace rn

#define RN_NORM_KERNEL_DECLARATIONS                                                               \
  /* batchnorm_kernels.cpp */                                                                     \
  void bn_stats(const BnRuns& r, float shift, double* s1, double* s2);                            \
  void bn_apply(int act, const BnRuns& r, const BnChannel& ch, float* y);                         \
  /* y = max(u + res, 0), res laid out as y (act NONE's layout) */                                \
  void bn_apply_add_relu(const BnRuns& r, const BnChannel& ch, const float* res, float* y);       \
  void bn_backward_reduce(int act, const BnRuns& r, const BnChannel& ch, const float* dy,         \
                          double* sdu, double* sdux);                                             \
  void bn_backward_dx(int act, const BnRuns& r, const BnChannel& ch, const float* dy, float* dx); \
  /* activation_kernels.cpp */                                                                    \
  void relu_forward(int64_t count, const float* x, float* y);                                     \
  void relu_backward(int64_t count, const float* y, const float* dy, float* dx);                  \
  void crelu_forward(int64_t len, const float* x, float* ypos, float* yneg);                      \
  void crelu_backward(int64_t len, const float* x, const float* dypos, const float* dyneg,        \
                      float* dx);                                                                 \
  void add_relu_forward(int64_t count, const float* a, const float* b, float* y);                 \
  void add_relu_backward(int64_t count, const float* y, const float* dy, float* da, float* db);     \
  void relu_backward_sum(int64_t count, const float* y, const float* da, const float* db, float* dx);

namespace rn {
namespace generic { RN_NORM_KERNEL_DECLARATIONS }
namespace avx2 { RN_NORM_KERNEL_DECLARATIONS }
namespace avx512 { RN_NORM_KERNEL_DECLARATIONS }

struct NormKernels {
  decltype(&generic::bn_stats) bn_stats;
  decltype(&generic::bn_apply) bn_apply;
  decltype(&generic::bn_apply_add_relu) bn_apply_add_relu;
  decltype(&generic::bn_backward_reduce) bn_backward_reduce;
  decltype(&generic::bn_backward_dx) bn_backward_dx;
  decltype(&generic::relu_forward) relu_forward;
  decltype(&generic::relu_backward) relu_backward;
  decltype(&generic::crelu_forward) crelu_forward;
  decltype(&generic::crelu_backward) crelu_backward;
  decltype(&generic::add_relu_forward) add_relu_forward;
  decltype(&generic::add_relu_backward) add_relu_backward;
  decltype(&generic::relu_backward_sum) relu_backward_sum;
};

// The table of an ISA level (RN_ISA_*); the caller has checked the CPU has it.
const NormKernels& norm_kernels(int isa);

}  // namespace rn
