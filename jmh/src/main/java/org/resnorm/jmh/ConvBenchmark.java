package org.resnorm.jmh;

import java.util.SplittableRandom;
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
import org.resnorm.bench.ConvCase;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Conv2d;
import org.resnorm.ops.ConvAlgo;

/**
 * conv2d forward / backward-data / backward-filter on the CIFAR ResNet-110 shapes
 * ({@link ConvCase#RESNET110}) at batch 128. Time per call; {@link Report} turns it into GFLOP/s
 * (direct count 2*N*K*C*R*S*P*Q, also for Winograd) next to the sgemm ceiling.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class ConvBenchmark {
  /** Index into ConvCase.RESNET110. */
  @Param({"0", "1", "2", "3", "4", "5", "6", "7"})
  public int shape;

  /** auto (fastest for the shape) or im2col (the plain GEMM path, for comparison). */
  @Param({"auto"})
  public String algo;

  @Param({"128"})
  public int batch;

  /** cpu, or cuda (device 0; -p device=cuda): the same op on the CUDA library, timed to completion. */
  @Param({"cpu"})
  public String device;

  private Engine engine;
  private Conv2d conv;
  private Tensor x;
  private Tensor w;
  private Tensor y;
  private Tensor dy;
  private Tensor dx;
  private Tensor dw;

  @Setup(Level.Trial)
  public void setUp() {
    ConvCase cc = ConvCase.RESNET110.get(shape);
    engine = engine(device);
    conv = new Conv2d(cc.c(), cc.k(), 3, 3, cc.stride(), cc.stride(), 1, 1, ConvAlgo.parse(algo));
    int[] xs = {batch, cc.c(), cc.hw(), cc.hw()};
    x = random(engine, xs, 1);
    w = random(engine, conv.weightShape(), 2);
    y = Tensor.zeros(engine, conv.outputShape(xs));
    dy = random(engine, conv.outputShape(xs), 3);
    dx = Tensor.zeros(engine, xs);
    dw = Tensor.zeros(engine, conv.weightShape());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    closeAll(x, w, y, dy, dx, dw, conv, engine);
  }

  /** Closes every resource of a benchmark state (tensors, ops, the engine), in order. */
  static void closeAll(AutoCloseable... resources) {
    for (AutoCloseable c : resources) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** The engine of a benchmark's {@code device} parameter. */
  static Engine engine(String device) {
    return switch (device) {
      case "cpu" -> Engine.create();
      case "cuda" -> Engine.cuda(0);
      default -> throw new IllegalArgumentException("device must be cpu or cuda, got " + device);
    };
  }

  // engine.synchronize(): a CUDA op only queues its kernels; a no-op on the CPU.

  @Benchmark
  public void forward() {
    conv.forward(engine, x, w, null, y);
    engine.synchronize();
  }

  @Benchmark
  public void backwardData() {
    conv.backwardData(engine, dy, w, dx);
    engine.synchronize();
  }

  @Benchmark
  public void backwardFilter() {
    conv.backwardFilter(engine, x, dy, dw, null);
    engine.synchronize();
  }

  static Tensor random(Engine engine, int[] shape, long seed) {
    Tensor t = Tensor.empty(engine, shape);
    SplittableRandom rng = new SplittableRandom(seed);
    float[] v = new float[(int) t.numel()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    t.copyFrom(v);
    return t;
  }
}
