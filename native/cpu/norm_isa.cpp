// Kernel tables of the batch-norm / activation family per ISA level (see norm_kernels.h).
#include "norm_kernels.h"

#include "resnorm/context.h"

namespace rn {

#define RN_NORM_TABLE(ns)                                                                          \
  NormKernels {                                                                                    \
    &ns::bn_stats, &ns::bn_apply, &ns::bn_apply_add_relu, &ns::bn_backward_reduce, &ns::bn_backward_dx, &ns::relu_forward, \
        &ns::relu_backward, &ns::crelu_forward, &ns::crelu_backward, &ns::add_relu_forward,        \
        &ns::add_relu_backward, &ns::relu_backward_sum                                             \
  }

const NormKernels& norm_kernels(int isa) {
  static const NormKernels tables[] = {RN_NORM_TABLE(generic), RN_NORM_TABLE(avx2), RN_NORM_TABLE(avx512)};
  if (isa < RN_ISA_GENERIC || isa > RN_ISA_AVX512) isa = RN_ISA_GENERIC;
  return tables[isa];
}

}  // namespace rn
