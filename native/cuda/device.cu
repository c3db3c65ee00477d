// CUDA backend library: the kernels arrive with the CUDA issue. For now it
// builds, links statically against cudart and reports the devices it sees, so
// the build switch, the toolchain and the packaging are exercised early.
#include <cuda_runtime.h>

#include "resnorm/context.h"

extern "C" {

// Number of CUDA devices, or -(cudaError_t) when the runtime cannot start
// (no driver, no device): never a crash on a machine without a GPU.
RN_API int rn_cuda_device_count(void) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  return err == cudaSuccess ? count : -static_cast<int>(err);
}

RN_API int rn_cuda_runtime_version(void) {
  int v = 0;
  return cudaRuntimeGetVersion(&v) == cudaSuccess ? v : -1;
}

}  // extern "C"
