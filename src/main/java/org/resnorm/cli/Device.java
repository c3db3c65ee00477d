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
    return engine(threads, null);
  }

  /** As {@link #engine(Integer)}, with the CUDA convs' implementation (null: native; see Engine#convImpl). */
  Engine engine(Integer threads, String convImpl) {
    if (this == cuda) {
      if (threads != null) {
        throw new IllegalArgumentException("--threads sets the CPU pool; it does not apply to --device cuda");
      }
      Engine e;
      try {
        e = Engine.cuda(0);
      } catch (IllegalStateException ex) {
        throw new IllegalStateException("--device cuda: " + ex.getMessage(), ex);
      }
      try {
        if (convImpl != null) {
          e.convImpl(convImpl);
        }
        return e;
      } catch (RuntimeException ex) {
        e.close();
        throw new IllegalStateException("--conv-impl " + convImpl + ": " + ex.getMessage(), ex);
      }
    }
    if (convImpl != null && !convImpl.equals("native")) {
      throw new IllegalArgumentException("--conv-impl " + convImpl + " needs --device cuda");
    }
    return threads == null ? Engine.create() : Engine.create(threads);
  }
}
