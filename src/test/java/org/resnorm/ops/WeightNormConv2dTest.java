package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.toDouble;
import static org.resnorm.TestSupport.toFloat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.resnorm.TestSupport;
import org.resnorm.WithEngine;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Reference.ConvShape;
import org.resnorm.ops.WeightNormConv2d.Kind;

/**
 * The NormProp family (weight-normalized conv with the scale, bias and activation in the conv's
 * epilogue): forward vs the float64 reference, every gradient vs central finite differences,
 * fused vs the unfused sequence (explicit weight normalization, plain conv + bias, separate
 * activation), the conv's fused epilogue on its own, and the statistical property NormProp
 * promises (and that the residual identity path breaks, the paper's Proposition 3).
 */
class WeightNormConv2dTest extends WithEngine {
  static final List<ConvShape> SHAPES = List.of(
      new ConvShape(2, 3, 7, 6, 5, 3, 3, 1, 1),
      new ConvShape(3, 5, 7, 6, 4, 3, 3, 2, 1),
      new ConvShape(2, 4, 5, 5, 3, 1, 1, 1, 0),
      new ConvShape(2, 18, 6, 5, 17, 3, 3, 1, 1));

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (ConvShape g : SHAPES) {
      for (Kind kind : Kind.values()) {
        for (Act act : Act.values()) {
          out.add(Arguments.of(g, kind, act));
        }
      }
    }
    return out.stream();
  }

  static Conv2d geometry(ConvShape g, ConvAlgo algo) {
    return new Conv2d(g.c(), g.k(), g.r(), g.s(), g.stride(), g.stride(), g.pad(), g.pad(), algo);
  }

  /** Random parameters with every pre-activation at least 1e-3 from the ReLU kink. */
  record Data(double[] x, double[] v, double[] gamma, double[] beta, double[] dy) {}

  static Data data(ConvShape g, Act act, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    for (int attempt = 0; ; attempt++) {
      double[] x = random(rng, g.n() * g.c() * g.h() * g.w());
      double[] v = random(rng, g.k() * g.c() * g.r() * g.s());
      double[] gamma = new double[g.k()];
      for (int k = 0; k < gamma.length; k++) {
        gamma[k] = (float) (0.5 + rng.nextDouble());
      }
      double[] beta = random(rng, g.k());
      double[] u = WeightNormReference.forward(g, x, v, gamma, beta, Act.NONE, 1, 0);
      boolean clear = act == Act.NONE;
      if (!clear) {
        clear = true;
        for (double e : u) {
          clear &= Math.abs(e) > 1e-3;
        }
      }
      if (clear || attempt > 100) {
        double[] dy = random(rng, g.n() * act.outputChannels(g.k()) * g.p() * g.q());
        return new Data(x, v, gamma, beta, dy);
      }
    }
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void matchesReferenceAndFiniteDifferences(ConvShape g, Kind kind, Act act) {
    Data d = data(g, act, g.hashCode() * 31L + kind.ordinal() * 7L + act.ordinal());
    try (WeightNormConv2d op = new WeightNormConv2d(geometry(g, ConvAlgo.AUTO), kind, act)) {
      // The re-centring of the spec, written here rather than read from the op: NormProp after
      // an activation maps it to mean 0 / variance 1 for a unit Gaussian input,
      // (act - 1/sqrt(2 pi)) / sqrt(0.5 (1 - 1/pi)); normprop2/3 and no activation: identity.
      boolean recentred = kind == Kind.NORMPROP && act != Act.NONE;
      double reluMean = 1 / Math.sqrt(2 * Math.PI);
      double reluStd = Math.sqrt(0.5 * (1 - 1 / Math.PI));
      double a = recentred ? 1 / reluStd : 1;
      double b = recentred ? -reluMean / reluStd : 0;
      assertEquals(a, op.postScale(), 1e-6 * a, "post scale");
      assertEquals(b, op.postShift(), 1e-6, "post shift");
      int[] ys = op.outputShape(g.input());
      double[] yRef = WeightNormReference.forward(g, d.x(), d.v(), d.gamma(), d.beta(), act, a, b);
      double h = 1e-5;
      double[] dxFd = finiteDifference(t -> dot(WeightNormReference.forward(g, t, d.v(), d.gamma(), d.beta(), act, a,
          b), d.dy()), d.x(), h);
      double[] dvFd = finiteDifference(t -> dot(WeightNormReference.forward(g, d.x(), t, d.gamma(), d.beta(), act, a,
          b), d.dy()), d.v(), h);
      double[] dgFd = finiteDifference(t -> dot(WeightNormReference.forward(g, d.x(), d.v(), t, d.beta(), act, a,
          b), d.dy()), d.gamma(), h);
      double[] dbFd = finiteDifference(t -> dot(WeightNormReference.forward(g, d.x(), d.v(), d.gamma(), t, act, a,
          b), d.dy()), d.beta(), h);
      for (Isa isa : TestSupport.supportedIsas()) {
        engine.isa(isa);
        try (Tensor x = Tensor.of(toFloat(d.x()), g.input());
            Tensor v = Tensor.of(toFloat(d.v()), g.weight());
            Tensor gamma = Tensor.of(toFloat(d.gamma()), g.k());
            Tensor beta = Tensor.of(toFloat(d.beta()), g.k());
            Tensor dy = Tensor.of(toFloat(d.dy()), ys);
            Tensor y = poisoned(ys);
            Tensor du = poisoned(g.output());
            Tensor dx = poisoned(g.input());
            Tensor dv = poisoned(g.weight());
            Tensor dgamma = poisoned(g.k());
            Tensor dbeta = poisoned(g.k())) {
          String at = isa + " ";
          op.forward(engine, x, v, gamma, beta, y);
          assertClose(at + "forward", y.toFloatArray(), yRef, 1e-5);
          op.backward(engine, x, v, gamma, y, dy, du, dx, dv, op.learnsGamma() ? dgamma : null, dbeta);
          assertClose(at + "dx vs FD", dx.toFloatArray(), dxFd, 1e-4);
          assertClose(at + "dv vs FD", dv.toFloatArray(), dvFd, 1e-4);
          assertClose(at + "dbeta vs FD", dbeta.toFloatArray(), dbFd, 1e-4);
          if (op.learnsGamma()) {
            assertClose(at + "dgamma vs FD", dgamma.toFloatArray(), dgFd, 1e-4);
          } else {
            for (float untouched : dgamma.toFloatArray()) {
              assertTrue(Float.isNaN(untouched), "NORMPROP3 must not write dgamma");
            }
          }
        }
      }
    }
  }

  /** Fused == the unfused sequence: explicit v/||v||, plain conv + bias, then the activation. */
  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void fusedEqualsUnfused(ConvShape g, Kind kind, Act act) {
    Data d = data(g, act, 99 + g.hashCode());
    for (ConvAlgo algo : ConvAlgo.values()) {
      if (!algo.appliesTo(g.r(), g.s(), g.stride(), g.stride())) {
        continue;
      }
      try (WeightNormConv2d op = new WeightNormConv2d(geometry(g, algo), kind, act);
          Conv2d plain = geometry(g, algo);
          Tensor x = Tensor.of(toFloat(d.x()), g.input());
          Tensor v = Tensor.of(toFloat(d.v()), g.weight());
          Tensor gamma = Tensor.of(toFloat(d.gamma()), g.k());
          Tensor beta = Tensor.of(toFloat(d.beta()), g.k());
          Tensor wEff = Tensor.of(toFloat(WeightNormReference.effectiveFilters(g, toDouble(toFloat(d.v())),
              toDouble(toFloat(d.gamma())))), g.weight());
          Tensor u = poisoned(g.output());
          Tensor y = poisoned(op.outputShape(g.input()))) {
        for (Isa isa : TestSupport.supportedIsas()) {
          engine.isa(isa);
          u.fill(Float.NaN);
          y.fill(Float.NaN);
          op.forward(engine, x, v, gamma, beta, y);
          plain.forward(engine, x, wEff, beta, u);
          double[] unfused = WeightNormReference.activate(g.n(), g.k(), g.p() * g.q(), toDouble(u.toFloatArray()),
              act, op.postScale(), op.postShift());
          assertClose(algo + " " + isa + " fused vs unfused", y.toFloatArray(), unfused, 2e-6);
        }
      }
    }
  }

  /** The conv's epilogue on its own: scale, bias, activation, post map, every algorithm. */
  @Test
  void convEpilogueMatchesReference() {
    SplittableRandom rng = new SplittableRandom(5);
    for (ConvShape g : SHAPES) {
      double[] x = random(rng, g.n() * g.c() * g.h() * g.w());
      double[] w = random(rng, g.k() * g.c() * g.r() * g.s());
      double[] scale = random(rng, g.k());
      double[] bias = random(rng, g.k());
      double[] conv = Reference.conv2dForward(g, x, w, null);
      for (Act act : Act.values()) {
        double[] u = conv.clone();
        int plane = g.p() * g.q();
        for (int i = 0; i < u.length; i++) {
          int k = (i / plane) % g.k();
          u[i] = u[i] * scale[k] + bias[k];
        }
        double[] ref = WeightNormReference.activate(g.n(), g.k(), plane, u, act, 1.5, -0.25);
        for (ConvAlgo algo : ConvAlgo.values()) {
          if (!algo.appliesTo(g.r(), g.s(), g.stride(), g.stride())) {
            continue;
          }
          try (Conv2d c = geometry(g, algo);
              Tensor tx = Tensor.of(toFloat(x), g.input());
              Tensor tw = Tensor.of(toFloat(w), g.weight());
              Tensor ts = Tensor.of(toFloat(scale), g.k());
              Tensor tb = Tensor.of(toFloat(bias), g.k());
              Tensor y = poisoned(g.n(), act.outputChannels(g.k()), g.p(), g.q())) {
            for (Isa isa : TestSupport.supportedIsas()) {  // the epilogue kernels are per ISA level
              engine.isa(isa);
              y.fill(Float.NaN);
              c.forwardFused(engine, tx, tw, ts, tb, act, 1.5f, -0.25f, y);
              assertClose(algo + " " + isa + " " + act + " epilogue", y.toFloatArray(), ref, 1e-5);
            }
          }
        }
      }
    }
  }

  /** Per-channel mean and variance of y [N, K, P, Q]. */
  static double[][] channelMoments(float[] y, int n, int k, int plane) {
    double[][] m = new double[k][2];
    for (int c = 0; c < k; c++) {
      double sum = 0;
      double sq = 0;
      for (int img = 0; img < n; img++) {
        for (int i = 0; i < plane; i++) {
          double e = y[(img * k + c) * plane + i];
          sum += e;
          sq += e * e;
        }
      }
      double mean = sum / (n * plane);
      m[c][0] = mean;
      m[c][1] = sq / (n * plane) - mean * mean;
    }
    return m;
  }

  static float[] gaussian(SplittableRandom rng, int count) {
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      // Box-Muller
      v[i] = (float) (Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble()));
    }
    return v;
  }

  /**
   * NormProp's promise: with x ~ N(0, 1) (independent entries) and any filters, each channel of
   * (ReLU(conv(x, v/||v||)) - 1/sqrt(2 pi)) / sqrt((1 - 1/pi) / 2) has mean 0 and variance 1, and
   * the pre-activation conv(x, v/||v||) has variance 1. (gamma = 1, beta = 0: the property the
   * normalization itself provides; no padding, so every output sees a full window.)
   */
  @Test
  void normPropKeepsZeroMeanUnitVariancePerChannel() {
    int n = 32;
    int c = 16;
    int k = 16;
    int hw = 18;
    ConvShape g = new ConvShape(n, c, hw, hw, k, 3, 3, 1, 0);
    SplittableRandom rng = new SplittableRandom(11);
    float[] ones = new float[k];
    java.util.Arrays.fill(ones, 1f);
    try (WeightNormConv2d normprop = new WeightNormConv2d(geometry(g, ConvAlgo.AUTO), Kind.NORMPROP, Act.RELU);
        WeightNormConv2d linear = new WeightNormConv2d(geometry(g, ConvAlgo.AUTO), Kind.NORMPROP, Act.NONE);
        Tensor x = Tensor.of(gaussian(rng, n * c * hw * hw), g.input());
        Tensor v = Tensor.of(gaussian(rng, k * c * 9), g.weight());
        Tensor gamma = Tensor.of(ones, k);
        Tensor y = poisoned(g.output());
        Tensor u = poisoned(g.output())) {
      normprop.forward(engine, x, v, gamma, null, y);
      linear.forward(engine, x, v, gamma, null, u);
      int plane = g.p() * g.q();
      double[][] my = channelMoments(y.toFloatArray(), n, k, plane);
      double[][] mu = channelMoments(u.toFloatArray(), n, k, plane);
      for (int ch = 0; ch < k; ch++) {
        assertEquals(0, mu[ch][0], 0.05, "pre-activation mean, channel " + ch);
        assertEquals(1, mu[ch][1], 0.1, "pre-activation variance, channel " + ch);
        assertEquals(0, my[ch][0], 0.05, "normprop output mean, channel " + ch);
        assertEquals(1, my[ch][1], 0.1, "normprop output variance, channel " + ch);
      }
    }
  }

  /**
   * The paper's Proposition 3: a residual block x + F(x), F a NormProp layer with unit-variance
   * output, no longer has unit variance (about 2, and dependent on the weights), so NormProp's
   * constant re-scaling cannot keep the promise above along a ResNet's identity path.
   */
  @Test
  void identityPathBreaksUnitVariance() {
    int n = 32;
    int c = 16;
    int hw = 16;
    ConvShape g = new ConvShape(n, c, hw, hw, c, 3, 3, 1, 1);
    SplittableRandom rng = new SplittableRandom(13);
    float[] ones = new float[c];
    java.util.Arrays.fill(ones, 1f);
    float[] xs = gaussian(rng, n * c * hw * hw);
    try (WeightNormConv2d f = new WeightNormConv2d(geometry(g, ConvAlgo.AUTO), Kind.NORMPROP, Act.NONE);
        Tensor x = Tensor.of(xs, g.input());
        Tensor v = Tensor.of(gaussian(rng, c * c * 9), g.weight());
        Tensor gamma = Tensor.of(ones, c);
        Tensor fx = poisoned(g.output())) {
      f.forward(engine, x, v, gamma, null, fx);
      float[] sum = fx.toFloatArray();
      for (int i = 0; i < sum.length; i++) {
        sum[i] += xs[i];
      }
      double[][] m = channelMoments(sum, n, c, hw * hw);
      double[][] mf = channelMoments(fx.toFloatArray(), n, c, hw * hw);
      for (int ch = 0; ch < c; ch++) {
        // F(x) alone: close to unit variance (zero padding at the border lowers it a little).
        assertEquals(1, mf[ch][1], 0.15, "F(x) variance, channel " + ch);
        assertTrue(m[ch][1] > 1.5 && m[ch][1] < 2.6, "x + F(x) variance should be ~2, channel " + ch + ": " + m[ch][1]);
      }
    }
  }

  @Test
  void rejectsBadArguments() {
    ConvShape g = SHAPES.get(0);
    try (WeightNormConv2d op = new WeightNormConv2d(geometry(g, ConvAlgo.AUTO), Kind.NORMPROP3, Act.CRELU);
        Tensor x = Tensor.zeros(g.input());
        Tensor v = Tensor.zeros(g.weight());
        Tensor gamma = Tensor.zeros(g.k());
        Tensor y = Tensor.zeros(op.outputShape(g.input()));
        Tensor du = Tensor.zeros(g.output());
        Tensor dv = Tensor.zeros(g.weight());
        Tensor dgamma = Tensor.zeros(g.k())) {
      assertThrows(IllegalArgumentException.class, () -> op.forward(engine, x, v, gamma, null, y),
          "zero-norm filters");
      assertThrows(IllegalArgumentException.class, () -> op.forward(engine, x, v, gamma, null, du),
          "K-channel y with CReLU");
      assertThrows(IllegalArgumentException.class, () -> op.forward(engine, null, v, gamma, null, y));
      assertThrows(IllegalArgumentException.class,
          () -> op.backward(engine, x, v, gamma, y, y, du, null, dv, dgamma, null), "dgamma with NORMPROP3");
      IllegalArgumentException dyAsDu = assertThrows(IllegalArgumentException.class,
          () -> op.backward(engine, x, v, gamma, y, y, y, null, dv, null, null), "du == dy with CReLU");
      assertTrue(dyAsDu.getMessage().startsWith("du "), dyAsDu.getMessage());  // du's K-channel shape
      assertThrows(IllegalArgumentException.class, () -> new WeightNormConv2d(null, Kind.NORMPROP, Act.RELU));
    }
  }
}
