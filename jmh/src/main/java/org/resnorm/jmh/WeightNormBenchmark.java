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
import org.resnorm.bench.ConvCase;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Act;
import org.resnorm.ops.Conv2d;
import org.resnorm.ops.WeightNormConv2d;

/**
 * The weight-normalized conv (normprop2 with its ReLU, everything fused) against the plain conv
 * with bias on the same shape: forward, and backward (dx, dW, dbias for plain; dx, dv, dgamma,
 * dbeta for normprop2). The plain side gets no activation at all, so the ratio charges the
 * normalization and the activation to normprop2. Target: normprop2 <= 1.10x plain.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class WeightNormBenchmark {
  /** Index into ConvCase.RESNET110 (the stride-1 widths 16, 32, 64). */
  @Param({"0", "1", "2"})
  public int shape;

  @Param({"plain", "normprop2"})
  public String variant;

  @Param({"128"})
  public int batch;

  private Engine engine;
  private Conv2d conv;
  private WeightNormConv2d wn;
  private Tensor x;
  private Tensor w;
  private Tensor gamma;
  private Tensor beta;
  private Tensor y;
  private Tensor dy;
  private Tensor du;
  private Tensor dx;
  private Tensor dw;
  private Tensor dgamma;
  private Tensor dbeta;

  @Setup(Level.Trial)
  public void setUp() {
    ConvCase cc = ConvCase.RESNET110.get(shape);
    engine = Engine.create();
    conv = new Conv2d(cc.c(), cc.k(), 3, cc.stride(), 1);
    wn = new WeightNormConv2d(new Conv2d(cc.c(), cc.k(), 3, cc.stride(), 1), WeightNormConv2d.Kind.NORMPROP2,
        Act.RELU);
    int[] xs = {batch, cc.c(), cc.hw(), cc.hw()};
    int[] ys = conv.outputShape(xs);
    x = ConvBenchmark.random(xs, 1);
    w = ConvBenchmark.random(conv.weightShape(), 2);
    gamma = Tensor.full(WeightNormConv2d.DEFAULT_GAMMA, cc.k());
    beta = ConvBenchmark.random(new int[] {cc.k()}, 3);
    y = Tensor.zeros(ys);
    dy = ConvBenchmark.random(ys, 4);
    du = Tensor.zeros(ys);
    dx = Tensor.zeros(xs);
    dw = Tensor.zeros(conv.weightShape());
    dgamma = Tensor.zeros(cc.k());
    dbeta = Tensor.zeros(cc.k());
    wn.forward(engine, x, w, gamma, beta, y);  // a real forward output for the masks
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (AutoCloseable c : new AutoCloseable[] {x, w, gamma, beta, y, dy, du, dx, dw, dgamma, dbeta, conv, wn,
        engine}) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  @Benchmark
  public void forward() {
    if (variant.equals("plain")) {
      conv.forward(engine, x, w, beta, y);
    } else {
      wn.forward(engine, x, w, gamma, beta, y);
    }
  }

  @Benchmark
  public void backward() {
    if (variant.equals("plain")) {
      conv.backwardData(engine, dy, w, dx);
      conv.backwardFilter(engine, x, dy, dw, dbeta);
    } else {
      wn.backward(engine, x, w, gamma, y, dy, du, dx, dw, dgamma, dbeta);
    }
  }
}
