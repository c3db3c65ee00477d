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
import org.resnorm.ops.Activation;
import org.resnorm.ops.Conv2d;
import org.resnorm.ops.WeightNormConv2d;

/**
 * The weight-normalized conv (normprop2 with its ReLU, everything fused) against the plain conv
 * with bias on the same shape: forward, and backward (dx, dW, dbias for plain; dx, dv, dgamma,
 * dbeta for normprop2). Two baselines: {@code plain} (the conv alone: normprop2 is charged for
 * the normalization and for its activation) and {@code plain_relu} (conv + bias, then the
 * standalone ReLU; backward: ReLU backward, then the conv's: the same function without the
 * normalization, so the ratio is what the normalization costs). Target: <= 1.10x. The
 * backward passes run in place where the ops allow it (du = dy, relu dx = dy), as an executor
 * that owns the gradient buffers does; the masks are idempotent, so repeating is stable.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class WeightNormBenchmark {
  /** Index into ConvCase.RESNET110 (the stride-1 widths 16, 32, 64). */
  @Param({"0", "1", "2"})
  public int shape;

  @Param({"plain", "plain_relu", "normprop2"})
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
  private Tensor u;
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
    x = ConvBenchmark.random(engine, xs, 1);
    w = ConvBenchmark.random(engine, conv.weightShape(), 2);
    gamma = Tensor.full(WeightNormConv2d.DEFAULT_GAMMA, cc.k());
    beta = ConvBenchmark.random(engine, new int[] {cc.k()}, 3);
    y = Tensor.zeros(ys);
    dy = ConvBenchmark.random(engine, ys, 4);
    u = Tensor.zeros(ys);
    dx = Tensor.zeros(xs);
    dw = Tensor.zeros(conv.weightShape());
    dgamma = Tensor.zeros(cc.k());
    dbeta = Tensor.zeros(cc.k());
    wn.forward(engine, x, w, gamma, beta, y);  // a real forward output for the masks
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    ConvBenchmark.closeAll(x, w, gamma, beta, y, dy, u, dx, dw, dgamma, dbeta, conv, wn, engine);
  }

  @Benchmark
  public void forward() {
    switch (variant) {
      case "plain" -> conv.forward(engine, x, w, beta, y);
      case "plain_relu" -> {
        conv.forward(engine, x, w, beta, u);
        Activation.relu(engine, u, y);
      }
      default -> wn.forward(engine, x, w, gamma, beta, y);
    }
  }

  @Benchmark
  public void backward() {
    switch (variant) {
      case "plain" -> {
        conv.backwardData(engine, dy, w, dx);
        conv.backwardFilter(engine, x, dy, dw, dbeta);
      }
      case "plain_relu" -> {
        Activation.reluBackward(engine, y, dy, dy);
        conv.backwardData(engine, dy, w, dx);
        conv.backwardFilter(engine, x, dy, dw, dbeta);
      }
      default -> wn.backward(engine, x, w, gamma, y, dy, dy, dx, dw, dgamma, dbeta);
    }
  }
}
