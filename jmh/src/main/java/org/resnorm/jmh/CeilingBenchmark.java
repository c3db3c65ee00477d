package org.resnorm.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * The machine's ceilings, measured in the same run as the kernels: OpenBLAS sgemm 2048^3 on
 * all cores (OpenBLAS's own threads) and a 256 MiB memory copy on resnorm's pool.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class CeilingBenchmark {
  static final int SGEMM_N = 2048;
  static final int COPY_FLOATS = 64 << 20;

  private Engine engine;
  private Tensor a;
  private Tensor b;
  private Tensor c;
  private Tensor src;
  private Tensor dst;

  @Setup(Level.Trial)
  public void setUp() {
    engine = Engine.create();
    a = Tensor.full(0.5f, SGEMM_N, SGEMM_N);
    b = Tensor.full(0.25f, SGEMM_N, SGEMM_N);
    c = Tensor.zeros(SGEMM_N, SGEMM_N);
    src = Tensor.full(1f, COPY_FLOATS);
    dst = Tensor.zeros(COPY_FLOATS);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    a.close();
    b.close();
    c.close();
    src.close();
    dst.close();
    engine.close();
  }

  @Benchmark
  public void sgemm2048() {
    NativeStatus.check(ResnormNative.rn_blas_sgemm_ceiling(engine.threads(), SGEMM_N, SGEMM_N, SGEMM_N,
        a.floatPointer(), b.floatPointer(), c.floatPointer()), "sgemm");
  }

  @Benchmark
  public void copy256MiB() {
    NativeStatus.check(ResnormNative.rn_copy_floats(engine.handle(), COPY_FLOATS, src.floatPointer(),
        dst.floatPointer()), "copy");
  }
}
