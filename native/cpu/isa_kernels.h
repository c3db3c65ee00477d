// Kernels compiled once per ISA level (see cmake/ResnormIsa.cmake) and the
// table the entry points dispatch through. A kernel file defines its functions
// inside namespace rn::RN_ISA_NS; this header declares them for every level.
#pragma once

#include <cstdint>

#include "resnorm/sgd.h"
#include "winograd.h"

#define RN_ISA_KERNEL_DECLARATIONS                                                              \
  /* sgd_kernels.cpp */                                                                         \
  void sgd_step(const rn_sgd_params& p, int64_t count, float* param, const float* grad,         \
                float* velocity);                                                             \
  /* winograd_kernels.cpp: see winograd.h */                                                    \
  void wino_input_transform(const wino::Geometry& g, const float* x, int64_t row0, int32_t rows, \
                            float* v, float* scratch);                                          \
  void wino_output_transform(const wino::Geometry& g, const float* m, const float* bias,        \
                             int64_t row0, int32_t rows, float* y, float* scratch);             \
  void wino_grad_transform(const wino::Geometry& g, const float* dy, int64_t row0, int32_t rows, \
                           float* z);                                                           \
  void wino_gemm(int32_t k, int32_t c, int32_t tb, const float* u, const float* v, float* m);   \
  void wino_gemm_acc_nt(int32_t k, int32_t c, int32_t tb, const float* z, const float* v,       \
                        float* acc);

namespace rn {
namespace generic { RN_ISA_KERNEL_DECLARATIONS }
namespace avx2 { RN_ISA_KERNEL_DECLARATIONS }
namespace avx512 { RN_ISA_KERNEL_DECLARATIONS }

struct IsaKernels {
  const char* name;
  decltype(&generic::sgd_step) sgd_step;
  decltype(&generic::wino_input_transform) wino_input_transform;
  decltype(&generic::wino_output_transform) wino_output_transform;
  decltype(&generic::wino_grad_transform) wino_grad_transform;
  decltype(&generic::wino_gemm) wino_gemm;
  decltype(&generic::wino_gemm_acc_nt) wino_gemm_acc_nt;
};

// The kernel table of an ISA level (RN_ISA_*); the caller has checked the CPU has it.
const IsaKernels& isa_kernels(int isa);

}  // namespace rn
