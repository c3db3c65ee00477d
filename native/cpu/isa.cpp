// Kernel tables per ISA level: the run-time dispatch point.
#include "isa_kernels.h"

#include "resnorm/context.h"

namespace rn {

#define RN_ISA_TABLE(ns)                                                                      \
  IsaKernels {                                                                                \
    #ns, &ns::sgd_step, &ns::sgd_step_unfused, &ns::gemm_bcast, &ns::gemm_bcast_phases2, &ns::gemm_bcast_grouped, &ns::pack_c16, &ns::pack_planar, &ns::interleave2, &ns::phase_blocks, &ns::unpack_c16, &ns::crelu_split, &ns::wino4_input_row, \
        &ns::wino4_output_row, &ns::wino4_grad_row, &ns::wino4_filters, &ns::wino4_filter_grads, &ns::epilogue_c16,          \
        &ns::epilogue_grad                                                                                                    \
  }

const IsaKernels& isa_kernels(int isa) {
  static const IsaKernels tables[] = {RN_ISA_TABLE(generic), RN_ISA_TABLE(avx2), RN_ISA_TABLE(avx512)};
  if (isa < RN_ISA_GENERIC || isa > RN_ISA_AVX512) isa = RN_ISA_GENERIC;
  return tables[isa];
}

}  // namespace rn
