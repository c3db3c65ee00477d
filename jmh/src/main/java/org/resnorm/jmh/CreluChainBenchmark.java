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
import org.resnorm.ops.Conv2d;

/**
 * Batch norm + CReLU as a network runs it: feeding the next 3x3 conv (2C -> C channels, the CReLU
 * basic block's conv2), forward and a whole training step of the three, in the three ways the
 * engine can compute the same function:
 * <ul>
 *   <li>{@code unfused}: batch norm, the standalone CReLU (a 2C tensor), the conv; backward the
 *       conv's two gradients, the CReLU backward, the batch norm backward;
 *   <li>{@code fused}: batch norm + CReLU in one op writing the 2C tensor, the conv reading it;
 *       backward the conv's gradients, then the fused batch norm + CReLU backward;
 *   <li>{@code inconv}: batch norm writing the C-channel u, the conv forming CReLU(u) as it packs
 *       its input (what the CPU executor runs, see docs/ARCHITECTURE.md); backward as fused, the
 *       filter gradient reading u.
 * </ul>
 * {@link Report} prints each variant's time and its speedup over unfused. The conv dominates, so
 * these ratios are far below the batch-norm op's own (BatchNormBenchmark): they are what the
 * fusion is worth to a training step.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class CreluChainBenchmark {
  /** The batch norm's input u as NxCxHxW; the conv reads 2C channels and writes C. */
  @Param({"128x16x32x32", "128x32x16x16", "128x64x8x8"})
  public String tensor;

  @Param({"unfused", "fused", "inconv"})
  public String variant;

  private Engine engine;
  private BatchNorm2d crelu;
  private BatchNorm2d plain;
  private Conv2d conv;
  private Tensor x;
  private Tensor gamma;
  private Tensor beta;
  private Tensor saveMean;
  private Tensor saveInvstd;
  private Tensor u;
  private Tensor both;
  private Tensor w;
  private Tensor z;
  private Tensor dz;
  private Tensor dw;
  private Tensor dBoth;
  private Tensor du;
  private Tensor dx;
  private Tensor dgamma;
  private Tensor dbeta;

  @Setup(Level.Trial)
  public void setUp() {
    engine = Engine.create();
    int[] d = BatchNormBenchmark.dims(tensor);
    int n = d[0];
    int c = d[1];
    crelu = new BatchNorm2d(c, Act.CRELU);
    plain = new BatchNorm2d(c, Act.NONE);
    conv = new Conv2d(2 * c, c, 3, 1, 1);
    java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
    x = BatchNormBenchmark.random(engine, rng, d);
    gamma = BatchNormBenchmark.random(engine, rng, c);
    beta = BatchNormBenchmark.random(engine, rng, c);
    saveMean = Tensor.zeros(engine, c);
    saveInvstd = Tensor.zeros(engine, c);
    u = Tensor.zeros(engine, d);
    both = Tensor.zeros(engine, n, 2 * c, d[2], d[3]);
    w = BatchNormBenchmark.random(engine, rng, conv.weightShape());
    z = Tensor.zeros(engine, d);
    dz = BatchNormBenchmark.random(engine, rng, d);
    dw = Tensor.zeros(engine, conv.weightShape());
    dBoth = Tensor.zeros(engine, n, 2 * c, d[2], d[3]);
    du = Tensor.zeros(engine, d);
    dx = Tensor.zeros(engine, d);
    dgamma = Tensor.zeros(engine, c);
    dbeta = Tensor.zeros(engine, c);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor t : new Tensor[] {x, gamma, beta, saveMean, saveInvstd, u, both, w, z, dz, dw, dBoth, du, dx, dgamma,
        dbeta}) {
      t.close();
    }
    conv.close();
    engine.close();
  }

  /** Batch norm (+ CReLU) and the conv that reads it. */
  @Benchmark
  public void forward() {
    switch (variant) {
      case "unfused" -> {
        plain.forwardTraining(engine, x, gamma, beta, null, null, saveMean, saveInvstd, u);
        Activation.crelu(engine, u, both);
        conv.forward(engine, both, w, null, z);
      }
      case "fused" -> {
        crelu.forwardTraining(engine, x, gamma, beta, null, null, saveMean, saveInvstd, both);
        conv.forward(engine, both, w, null, z);
      }
      default -> {
        plain.forwardTraining(engine, x, gamma, beta, null, null, saveMean, saveInvstd, u);
        conv.forwardCreluInput(engine, u, w, null, z);
      }
    }
  }

  /** {@link #forward}, then the conv's two gradients and the batch norm (+ CReLU) backward. */
  @Benchmark
  public void step() {
    forward();
    switch (variant) {
      case "unfused" -> {
        conv.backwardFilter(engine, both, dz, dw, null);
        conv.backwardData(engine, dz, w, dBoth);
        Activation.creluBackward(engine, u, dBoth, du);
        plain.backward(engine, x, gamma, beta, saveMean, saveInvstd, du, dx, dgamma, dbeta);
      }
      case "fused" -> {
        conv.backwardFilter(engine, both, dz, dw, null);
        conv.backwardData(engine, dz, w, dBoth);
        crelu.backward(engine, x, gamma, beta, saveMean, saveInvstd, dBoth, dx, dgamma, dbeta);
      }
      default -> {
        conv.backwardFilterCreluInput(engine, u, dz, dw, null);
        conv.backwardData(engine, dz, w, dBoth);
        crelu.backward(engine, x, gamma, beta, saveMean, saveInvstd, dBoth, dx, dgamma, dbeta);
      }
    }
  }
}
