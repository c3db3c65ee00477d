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
import org.resnorm.ops.Act;
import org.resnorm.ops.Activation;
import org.resnorm.ops.BatchNorm2d;

/**
 * Training batch norm fused with ReLU / CReLU (one op) against the unfused sequence (batch norm
 * with no activation, then the standalone activation; backward: activation backward, then batch
 * norm backward), on the CIFAR ResNet stage shapes.
 *
 * <p>Memory-bound: {@link Report} prints GB/s of the op's compulsory traffic, the same byte
 * count for both variants (so the GB/s ratio is the speedup). With E = N*C*H*W floats of x and
 * k = 2 output channels per input channel for CReLU (1 for ReLU):
 * <ul>
 *   <li>forward: read x, write y (k*E): (1 + k)*E*4 bytes;
 *   <li>backward: read x and dy (k*E), write dx: (2 + k)*E*4 bytes.
 * </ul>
 * The kernels make two passes (statistics, then normalize; reductions, then dx); the second
 * pass's reads are not counted: they are what a good schedule serves from cache.
 * Per-channel vectors (statistics, gamma, beta) are negligible and not counted.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class BatchNormBenchmark {
  /** x as NxCxHxW (named "tensor", not "shape": ConvBenchmark's int "shape" would clash under -p). */
  @Param({"128x16x32x32", "128x32x16x16", "128x64x8x8"})
  public String tensor;

  @Param({"crelu", "relu"})
  public String act;

  @Param({"fused", "unfused"})
  public String variant;

  /** cpu, or cuda (device 0; -p device=cuda), as in ConvBenchmark. */
  @Param({"cpu"})
  public String device;

  private Engine engine;
  private BatchNorm2d fused;
  private BatchNorm2d plain;
  private Act a;
  private Tensor x;
  private Tensor gamma;
  private Tensor beta;
  private Tensor runningMean;
  private Tensor runningVar;
  private Tensor saveMean;
  private Tensor saveInvstd;
  private Tensor u;
  private Tensor y;
  private Tensor dy;
  private Tensor du;
  private Tensor dx;
  private Tensor dgamma;
  private Tensor dbeta;

  static int[] dims(String shape) {
    String[] p = shape.split("x");
    return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]), Integer.parseInt(p[3])};
  }

  /** Bytes of the fused op's minimal traffic (see the class comment). */
  static double bytes(String shape, String act, boolean backward) {
    int[] d = dims(shape);
    double e = (double) d[0] * d[1] * d[2] * d[3];
    int k = act.equals("crelu") ? 2 : 1;
    return 4 * e * (backward ? 2 + k : 1 + k);
  }

  @Setup(Level.Trial)
  public void setUp() {
    engine = ConvBenchmark.engine(device);
    a = act.equals("crelu") ? Act.CRELU : Act.RELU;
    int[] d = dims(tensor);
    int n = d[0];
    int c = d[1];
    fused = new BatchNorm2d(c, a);
    plain = new BatchNorm2d(c, Act.NONE);
    int[] yShape = fused.outputShape(n, d[2], d[3]);
    java.util.SplittableRandom rng = new java.util.SplittableRandom(1);
    x = random(engine, rng, d);
    dy = random(engine, rng, yShape);
    gamma = full(1.1f, c);
    beta = full(0.05f, c);
    runningMean = Tensor.zeros(engine, c);
    runningVar = full(1f, c);
    saveMean = Tensor.zeros(engine, c);
    saveInvstd = Tensor.zeros(engine, c);
    u = Tensor.zeros(engine, d);
    y = Tensor.zeros(engine, yShape);
    du = Tensor.zeros(engine, d);
    dx = Tensor.zeros(engine, d);
    dgamma = Tensor.zeros(engine, c);
    dbeta = Tensor.zeros(engine, c);
    // Statistics and u for the backward benchmarks.
    plain.forwardTraining(engine, x, gamma, beta, null, null, saveMean, saveInvstd, u);
  }

  private Tensor full(float value, int... shape) {
    Tensor t = Tensor.empty(engine, shape);
    t.fill(value);
    return t;
  }

  /** Uniform values in [-1, 1) on the engine (also for CreluChainBenchmark). */
  static Tensor random(Engine engine, java.util.SplittableRandom rng, int... shape) {
    Tensor t = Tensor.zeros(engine, shape);
    float[] v = new float[(int) t.numel()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    t.copyFrom(v);
    return t;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor t : new Tensor[] {x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd, u, y, dy, du, dx,
        dgamma, dbeta}) {
      t.close();
    }
    engine.close();
  }

  @Benchmark
  public void forward() {
    if (variant.equals("fused")) {
      fused.forwardTraining(engine, x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd, y);
    } else {
      plain.forwardTraining(engine, x, gamma, beta, runningMean, runningVar, saveMean, saveInvstd, u);
      if (a == Act.CRELU) {
        Activation.crelu(engine, u, y);
      } else {
        Activation.relu(engine, u, y);
      }
    }
    engine.synchronize();  // CUDA: the queued kernels done (a no-op on the CPU)
  }

  @Benchmark
  public void backward() {
    if (variant.equals("fused")) {
      fused.backward(engine, x, gamma, beta, saveMean, saveInvstd, dy, dx, dgamma, dbeta);
    } else {
      if (a == Act.CRELU) {
        Activation.creluBackward(engine, u, dy, du);
      } else {
        Activation.reluBackward(engine, y, dy, du);
      }
      plain.backward(engine, x, gamma, beta, saveMean, saveInvstd, du, dx, dgamma, dbeta);
    }
    engine.synchronize();
  }
}
