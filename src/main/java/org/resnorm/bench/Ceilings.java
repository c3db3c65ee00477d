package org.resnorm.bench;

import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * The machine's ceilings that kernel speeds are reported against, measured in the same run:
 * OpenBLAS sgemm (2048^3 by default, OpenBLAS's own threads) and memory copy bandwidth
 * (resnorm's pool, 256 MiB buffers).
 */
public final class Ceilings {
  private Ceilings() {}

  /**
   * How long to wait after the last threaded sgemm: OpenBLAS's worker threads busy-wait a while
   * after a threaded call before they sleep, and a kernel timed meanwhile shares the cores with
   * them (measured, Zen 3, 2 threads: a 3x3/2 32->64 backward-data right after sgemm ran at 56-70
   * GFLOP/s, 50 ms later at 116-141).
   */
  static final long OPENBLAS_SPIN_MILLIS = 200;

  /**
   * Best-of-{@code reps} sgemm GFLOP/s for n x n x n on {@code threads} OpenBLAS threads; returns
   * once OpenBLAS's threads have gone idle ({@link #OPENBLAS_SPIN_MILLIS}).
   */
  public static double sgemmGflops(int n, int threads, int reps) {
    try (Tensor a = Tensor.full(0.5f, n, n); Tensor b = Tensor.full(0.25f, n, n); Tensor c = Tensor.zeros(n, n)) {
      double best = 0;
      for (int i = 0; i < reps + 1; i++) {
        long t0 = System.nanoTime();
        NativeStatus.check(ResnormNative.rn_blas_sgemm_ceiling(threads, n, n, n, a.floatPointer(), b.floatPointer(),
            c.floatPointer()), "sgemm");
        double s = (System.nanoTime() - t0) * 1e-9;
        if (i > 0) {
          best = Math.max(best, 2.0 * n * n * n / s * 1e-9);
        }
      }
      waitForOpenBlasIdle();
      return best;
    }
  }

  /** Busy: after a sleep the cores' first calls measured slower (native bench_conv_paired). */
  private static void waitForOpenBlasIdle() {
    long end = System.nanoTime() + OPENBLAS_SPIN_MILLIS * 1_000_000L;
    while (System.nanoTime() < end) {
      Thread.onSpinWait();
    }
  }

  /** Best-of-{@code reps} copy bandwidth in GB/s (bytes read + bytes written per second). */
  public static double copyGBps(Engine engine, int reps) {
    int n = 64 << 20; // 64 Mi floats = 256 MiB each way
    try (Tensor src = Tensor.full(1f, n); Tensor dst = Tensor.zeros(n)) {
      double best = 0;
      for (int i = 0; i < reps + 1; i++) {
        long t0 = System.nanoTime();
        NativeStatus.check(ResnormNative.rn_copy_floats(engine.handle(), n, src.floatPointer(), dst.floatPointer()),
            "copy");
        double s = (System.nanoTime() - t0) * 1e-9;
        if (i > 0) {
          best = Math.max(best, 2.0 * 4L * n / s * 1e-9);
        }
      }
      return best;
    }
  }
}
