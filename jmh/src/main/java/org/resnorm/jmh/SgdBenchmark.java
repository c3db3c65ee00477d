package org.resnorm.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Sgd;

/**
 * The fused SGD step (one pass: read param, grad, velocity; write param, velocity) against the
 * same update as four passes. Memory-bound: {@link Report} prints GB/s of the fused step's
 * minimal traffic (20 bytes per parameter) next to the copy ceiling.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class SgdBenchmark {
  /** Parameters updated per step (16 Mi: far larger than the caches). */
  static final int COUNT = 16 << 20;

  @Param({"fused", "unfused"})
  public String variant;

  private Engine engine;
  private Sgd sgd;
  private Tensor param;
  private Tensor grad;
  private Tensor velocity;

  @Setup(Level.Trial)
  public void setUp() {
    engine = Engine.create();
    sgd = Sgd.paperRecipe(1e-4f);
    param = Tensor.full(0.5f, COUNT);
    grad = Tensor.full(1e-3f, COUNT);
    velocity = Tensor.zeros(COUNT);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    param.close();
    grad.close();
    velocity.close();
    sgd.close();
    engine.close();
  }

  @Benchmark
  public void step() {
    if (variant.equals("fused")) {
      sgd.step(engine, 1e-6f, param, grad, velocity, false);
    } else {
      sgd.stepUnfused(engine, 1e-6f, param, grad, velocity, false);
    }
  }
}
