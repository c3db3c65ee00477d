// Kernel tables per ISA level: the run-time dispatch point.
#include "isa_kernels.h"

#include "resnorm/context.h"

namespace rn {

#define RN_ISA_TABLE(ns)                                                                      \
  IsaKernels {                                                                                \
    #ns, &ns::sgd_step, &ns::wino_input_transform, &ns::wino_output_transform,                \
        &ns::wino_grad_transform, &ns::wino_gemm, &ns::wino_gemm_acc_nt                       \
  }

const IsaKernels& isa_kernels(int isa) {
  static const IsaKernels tables[] = {RN_ISA_TABLE(generic), RN_ISA_TABLE(avx2), RN_ISA_TABLE(avx512)};
  if (isa < RN_ISA_GENERIC || isa > RN_ISA_AVX512) isa = RN_ISA_GENERIC;
  return tables[isa];
}

}  // namespace rn
