package org.resnorm.cli;

import org.resnorm.core.CudaSupport;
import org.resnorm.core.Engine;

/** The {@code --device} of train, eval and bench. */
enum Device {
  cpu,
  cuda;

  /** Fails early (before any data is read) when this device cannot be used here, with the reason. */
  void require() {
    if (this == cuda && !CudaSupport.status().usable()) {
      throw new IllegalStateException("--device cuda: CUDA " + CudaSupport.status().message());
    }
  }

  /**
   * The engine the command runs on: the CPU pool ({@code threads}, null: all CPUs), or CUDA device
   * 0, which throws IllegalStateException with the reason (library not built, no driver, no device)
   * when CUDA cannot be used here.
   */
  Engine engine(Integer threads) {
    if (this == cuda) {
      if (threads != null) {
        throw new IllegalArgumentException("--threads sets the CPU pool; it does not apply to --device cuda");
      }
      try {
        return Engine.cuda(0);
      } catch (IllegalStateException e) {
        throw new IllegalStateException("--device cuda: " + e.getMessage(), e);
      }
    }
    return threads == null ? Engine.create() : Engine.create(threads);
  }
}
