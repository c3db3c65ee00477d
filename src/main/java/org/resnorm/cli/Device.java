package org.resnorm.cli;

import org.resnorm.core.CudaSupport;

/** The {@code --device} of train, eval and bench. */
enum Device {
  cpu,
  cuda;

  /**
   * Throws, with the reason in one line, unless the command can run on this device: cuda needs
   * the CUDA library in this build, a driver and a device, and even then the Java executor
   * does not drive the CUDA kernels yet (they are reached through the C API and the GPU check
   * script), which is said rather than silently running on the CPU.
   */
  void require() {
    if (this == cpu) {
      return;
    }
    CudaSupport.Status s = CudaSupport.status();
    if (!s.usable()) {
      throw new IllegalStateException("--device cuda: CUDA " + s.message());
    }
    throw new UnsupportedOperationException("--device cuda: found " + s.message() + ", but the Java executor runs on"
        + " the CPU only so far; the CUDA kernels and whole training steps run from native code"
        + " (native/include/resnorm/cuda.h, scripts/gpu-check.sh)");
  }
}
