package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
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

/**
 * BatchNorm2d (+ ReLU / CReLU fused) against the float64 {@link NormReference}: forward,
 * running statistics, inference, backward vs central finite differences, fused == unfused,
 * on odd shapes, every ISA level, affine on and off.
 */
class BatchNorm2dTest extends WithEngine {
  static final double EPS = 1e-5;
  static final double H = 1e-3;
  record Shape(int n, int c, int h, int w) {
    int hw() {
      return h * w;
    }

    int count() {
      return n * c * h * w;
    }

    @Override
    public String toString() {
      return "[" + n + "," + c + "," + h + "," + w + "]";
    }
  }

  static final Shape[] SHAPES = {new Shape(3, 5, 7, 6), new Shape(1, 3, 5, 5), new Shape(4, 3, 1, 1),
      new Shape(2, 4, 9, 11)};

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : TestSupport.supportedIsas()) {
      for (Shape s : SHAPES) {
        for (Act act : Act.values()) {
          out.add(Arguments.of(isa, s, act, true));
        }
      }
      out.add(Arguments.of(isa, SHAPES[0], Act.CRELU, false));
      out.add(Arguments.of(isa, SHAPES[2], Act.RELU, false));
    }
    return out.stream();
  }

  /** Random inputs whose normalized values u stay at least 10h away from the ReLU kink. */
  static double[] inputAwayFromKink(SplittableRandom rng, Shape s, double[] gamma, double[] beta) {
    double[] x = TestSupport.random(rng, s.count());
    for (int round = 0; round < 100; round++) {
      double[] u = NormReference.batchNormTraining(s.n(), s.c(), s.hw(), Act.NONE, EPS, x, gamma, beta).u();
      boolean clean = true;
      for (int i = 0; i < x.length; i++) {
        if (Math.abs(u[i]) < 10 * H) {
          x[i] = (float) (rng.nextDouble() * 2 - 1);
          clean = false;
        }
      }
      if (clean) {
        return x;
      }
    }
    throw new AssertionError("could not draw an input away from the kink");
  }

  static double[] uniform(SplittableRandom rng, int n, double lo, double hi) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (lo + rng.nextDouble() * (hi - lo));
    }
    return v;
  }

  @ParameterizedTest(name = "{0} {1} {2} affine={3}")
  @MethodSource("cases")
  void matchesReferenceAndFiniteDifferences(Isa isa, Shape s, Act act, boolean affine) {
    engine.isa(isa);
    SplittableRandom rng = new SplittableRandom(s.count() * 31L + act.ordinal());
    int c = s.c();
    double[] gamma = affine ? uniform(rng, c, 0.5, 1.5) : null;
    double[] beta = affine ? uniform(rng, c, -0.5, 0.5) : null;
    double[] x = inputAwayFromKink(rng, s, gamma, beta);
    double[] rm = uniform(rng, c, -0.2, 0.2);
    double[] rv = uniform(rng, c, 0.5, 1.5);
    BatchNorm2d bn = new BatchNorm2d(c, (float) EPS, 0.1f, act);
    int[] yShape = bn.outputShape(s.n(), s.h(), s.w());
    double[] dy = TestSupport.random(rng, yShape[0] * yShape[1] * yShape[2] * yShape[3]);
    try (Tensor tx = Tensor.of(toFloat(x), s.n(), c, s.h(), s.w());
        Tensor tg = affine ? Tensor.of(toFloat(gamma), c) : null;
        Tensor tb = affine ? Tensor.of(toFloat(beta), c) : null;
        Tensor trm = Tensor.of(toFloat(rm), c);
        Tensor trv = Tensor.of(toFloat(rv), c);
        Tensor sm = poisoned(c);
        Tensor si = poisoned(c);
        Tensor y = poisoned(yShape);
        Tensor tdy = Tensor.of(toFloat(dy), yShape);
        Tensor dx = poisoned(s.n(), c, s.h(), s.w());
        Tensor dg = affine ? poisoned(c) : null;
        Tensor db = affine ? poisoned(c) : null;
        Tensor yi = poisoned(yShape)) {
      bn.forwardTraining(engine, tx, tg, tb, trm, trv, sm, si, y);
      NormReference.BatchNormResult ref = NormReference.batchNormTraining(s.n(), c, s.hw(), act, EPS, x, gamma, beta);
      assertClose("y", y.toFloatArray(), ref.y(), 1e-5);
      assertClose("saveInvstd", si.toFloatArray(), ref.invstd(), 1e-5);
      float[] mean = sm.toFloatArray();
      for (int ch = 0; ch < c; ch++) {
        assertTrue(Math.abs(mean[ch] - ref.mean()[ch]) < 1e-6 * (1 + Math.sqrt(ref.var()[ch])), "saveMean[" + ch + "]");
      }
      double[][] running = NormReference.runningUpdate(rm, rv, 0.1f, ref.mean(), ref.var(), (long) s.n() * s.hw());
      assertClose("runningMean", trm.toFloatArray(), running[0], 1e-6);
      assertClose("runningVar", trv.toFloatArray(), running[1], 1e-6);

      // Inference with the updated running statistics.
      bn.forwardInference(engine, tx, tg, tb, trm, trv, yi);
      double[] rmNow = toDouble(trm.toFloatArray());
      double[] rvNow = toDouble(trv.toFloatArray());
      assertClose("inference y", yi.toFloatArray(),
          NormReference.batchNormInference(s.n(), c, s.hw(), act, EPS, x, gamma, beta, rmNow, rvNow).y(), 1e-5);
      // The same map as a per-channel scale and shift (what the executor folds into the conv).
      try (Tensor scale = poisoned(c); Tensor shift = poisoned(c)) {
        bn.inferenceAffine(engine, tg, tb, trm, trv, scale, shift);
        float[] sc = scale.toFloatArray();
        float[] sh = shift.toFloatArray();
        float[] folded = new float[x.length];  // in float, as the conv's epilogue evaluates it
        for (int i = 0; i < x.length; i++) {
          int ch = i / s.hw() % c;
          folded[i] = sc[ch] * (float) x[i] + sh[ch];
        }
        assertClose("inference affine", folded,
            NormReference.batchNormInference(s.n(), c, s.hw(), Act.NONE, EPS, x, gamma, beta, rmNow, rvNow).y(), 1e-5);
      }

      // Backward vs finite differences of L = <y(x, gamma, beta), dy> through the reference.
      bn.backward(engine, tx, tg, tb, sm, si, tdy, dx, dg, db);
      assertClose("dx vs FD", dx.toFloatArray(), finiteDifference(
          v -> dot(NormReference.batchNormTraining(s.n(), c, s.hw(), act, EPS, v, gamma, beta).y(), dy), x, H), 1e-4);
      NormReference.BatchNormGrad g = NormReference.batchNormBackward(s.n(), c, s.hw(), act, EPS, x, gamma, beta, dy);
      assertClose("dx vs reference", dx.toFloatArray(), g.dx(), 1e-4);
      if (affine) {
        assertClose("dgamma vs FD", dg.toFloatArray(), finiteDifference(
            v -> dot(NormReference.batchNormTraining(s.n(), c, s.hw(), act, EPS, x, v, beta).y(), dy), gamma, H), 1e-4);
        assertClose("dbeta vs FD", db.toFloatArray(), finiteDifference(
            v -> dot(NormReference.batchNormTraining(s.n(), c, s.hw(), act, EPS, x, gamma, v).y(), dy), beta, H), 1e-4);
      }
    }
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void fusedEqualsUnfused(Isa isa, Shape s, Act act, boolean affine) {
    if (act == Act.NONE) {
      return;
    }
    engine.isa(isa);
    SplittableRandom rng = new SplittableRandom(s.count() * 17L + act.ordinal());
    int c = s.c();
    BatchNorm2d fused = new BatchNorm2d(c, act);
    BatchNorm2d plain = new BatchNorm2d(c, Act.NONE);
    int[] xShape = {s.n(), c, s.h(), s.w()};
    int[] yShape = fused.outputShape(s.n(), s.h(), s.w());
    try (Tensor x = Tensor.of(toFloat(TestSupport.random(rng, s.count())), xShape);
        Tensor g = affine ? Tensor.of(toFloat(uniform(rng, c, 0.5, 1.5)), c) : null;
        Tensor b = affine ? Tensor.of(toFloat(uniform(rng, c, -0.5, 0.5)), c) : null;
        Tensor dy = Tensor.of(toFloat(TestSupport.random(rng, yShape[0] * yShape[1] * yShape[2] * yShape[3])), yShape);
        Tensor sm = poisoned(c);
        Tensor si = poisoned(c);
        Tensor y = poisoned(yShape);
        Tensor dx = poisoned(xShape);
        Tensor dg = affine ? poisoned(c) : null;
        Tensor db = affine ? poisoned(c) : null;
        Tensor sm2 = poisoned(c);
        Tensor si2 = poisoned(c);
        Tensor u = poisoned(xShape);
        Tensor y2 = poisoned(yShape);
        Tensor du = poisoned(xShape);
        Tensor dx2 = poisoned(xShape);
        Tensor dg2 = affine ? poisoned(c) : null;
        Tensor db2 = affine ? poisoned(c) : null) {
      fused.forwardTraining(engine, x, g, b, null, null, sm, si, y);
      fused.backward(engine, x, g, b, sm, si, dy, dx, dg, db);
      plain.forwardTraining(engine, x, g, b, null, null, sm2, si2, u);
      if (act == Act.RELU) {
        Activation.relu(engine, u, y2);
        Activation.reluBackward(engine, y2, dy, du);
      } else {
        Activation.crelu(engine, u, y2);
        Activation.creluBackward(engine, u, dy, du);
      }
      plain.backward(engine, x, g, b, sm2, si2, du, dx2, dg2, db2);
      // Same statistics and the same u bit for bit, so the forward outputs are identical.
      assertEquals(java.util.Arrays.toString(sm.toFloatArray()), java.util.Arrays.toString(sm2.toFloatArray()));
      assertClose("y fused vs unfused", y.toFloatArray(), toDouble(y2.toFloatArray()), 1e-7);
      assertClose("dx fused vs unfused", dx.toFloatArray(), toDouble(dx2.toFloatArray()), 1e-6);
      if (affine) {
        assertClose("dgamma fused vs unfused", dg.toFloatArray(), toDouble(dg2.toFloatArray()), 1e-6);
        assertClose("dbeta fused vs unfused", db.toFloatArray(), toDouble(db2.toFloatArray()), 1e-6);
      }
    }
  }

  @Test
  void largeBatchStatisticsStayAccurate() {
    // A large mean next to a small spread over 2 * 8 * 64 * 64 values per channel.
    int n = 8;
    int c = 2;
    int hw = 64 * 64;
    SplittableRandom rng = new SplittableRandom(5);
    double[] x = TestSupport.random(rng, n * c * hw);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (100 + x[i]);
    }
    BatchNorm2d bn = new BatchNorm2d(c, Act.NONE);
    try (Tensor tx = Tensor.of(toFloat(x), n, c, 64, 64); Tensor sm = poisoned(c); Tensor si = poisoned(c);
        Tensor y = poisoned(n, c, 64, 64)) {
      for (Isa isa : TestSupport.supportedIsas()) {
        engine.isa(isa);
        bn.forwardTraining(engine, tx, null, null, null, null, sm, si, y);
        NormReference.BatchNormResult ref = NormReference.batchNormTraining(n, c, hw, Act.NONE, EPS, x, null, null);
        assertClose(isa + " invstd", si.toFloatArray(), ref.invstd(), 1e-5);
        assertClose(isa + " mean", sm.toFloatArray(), ref.mean(), 1e-7);
        assertClose(isa + " y", y.toFloatArray(), ref.y(), 1e-4); // x itself has only ~1e-5 of precision here
      }
    }
  }

  /** A block's last batch norm with the shortcut and ReLU fused: the same bits as the two ops. */
  @Test
  void addReluFusedMatchesTheTwoOps() {
    int n = 3;
    int c = 5;
    BatchNorm2d bn = new BatchNorm2d(c, Act.NONE);
    SplittableRandom rng = new SplittableRandom(17);
    try (Tensor x = Tensor.of(toFloat(TestSupport.random(rng, n * c * 7 * 9)), n, c, 7, 9);
        Tensor res = Tensor.of(toFloat(TestSupport.random(rng, n * c * 7 * 9)), n, c, 7, 9);
        Tensor g = Tensor.of(toFloat(uniform(rng, c, 0.5, 1.5)), c);
        Tensor b = Tensor.of(toFloat(uniform(rng, c, -0.5, 0.5)), c);
        Tensor rm1 = Tensor.zeros(c); Tensor rv1 = Tensor.full(1f, c); Tensor rm2 = Tensor.zeros(c);
        Tensor rv2 = Tensor.full(1f, c); Tensor sm1 = poisoned(c); Tensor si1 = poisoned(c); Tensor sm2 = poisoned(c);
        Tensor si2 = poisoned(c); Tensor u = poisoned(n, c, 7, 9); Tensor want = poisoned(n, c, 7, 9);
        Tensor got = poisoned(n, c, 7, 9)) {
      for (Isa isa : TestSupport.supportedIsas()) {
        engine.isa(isa);
        bn.forwardTraining(engine, x, g, b, rm1, rv1, sm1, si1, u);
        Activation.addRelu(engine, u, res, want);
        bn.forwardTrainingAddRelu(engine, x, g, b, rm2, rv2, sm2, si2, res, got);
        assertArrayEquals(want.toFloatArray(), got.toFloatArray(), isa + " y");
        assertArrayEquals(rm1.toFloatArray(), rm2.toFloatArray(), isa + " running mean");
        assertArrayEquals(si1.toFloatArray(), si2.toFloatArray(), isa + " saveInvstd");
      }
      BatchNorm2d withAct = new BatchNorm2d(c, Act.RELU);
      assertThrows(IllegalStateException.class,
          () -> withAct.forwardTrainingAddRelu(engine, x, g, b, null, null, sm1, si1, res, got));
      assertThrows(IllegalArgumentException.class,
          () -> bn.forwardTrainingAddRelu(engine, x, g, b, null, null, sm1, si1, sm2, got), "residual of the wrong shape");
      assertThrows(IllegalArgumentException.class,
          () -> bn.forwardTrainingAddRelu(engine, x, g, b, null, null, sm1, si1, res, u.slice(0, 2)), "y too small");
    }
  }

  @Test
  void inPlaceForReluMatchesOutOfPlace() {
    engine.isa(Isa.best());
    SplittableRandom rng = new SplittableRandom(9);
    BatchNorm2d bn = new BatchNorm2d(5, Act.RELU);
    float[] data = toFloat(TestSupport.random(rng, 3 * 5 * 42));
    try (Tensor x = Tensor.of(data, 3, 5, 6, 7); Tensor xy = Tensor.of(data, 3, 5, 6, 7); Tensor y = poisoned(3, 5, 6, 7);
        Tensor sm = poisoned(5); Tensor si = poisoned(5)) {
      bn.forwardTraining(engine, x, null, null, null, null, sm, si, y);
      bn.forwardTraining(engine, xy, null, null, null, null, sm, si, xy);
      assertEquals(java.util.Arrays.toString(y.toFloatArray()), java.util.Arrays.toString(xy.toFloatArray()));
    }
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new BatchNorm2d(0, Act.RELU));
    assertThrows(IllegalArgumentException.class, () -> new BatchNorm2d(3, -1f, 0.1f, Act.RELU));
    assertThrows(IllegalArgumentException.class, () -> new BatchNorm2d(3, Float.NaN, 0.1f, Act.RELU));
    assertThrows(IllegalArgumentException.class, () -> new BatchNorm2d(3, 1e-5f, 1.5f, Act.RELU));
    assertThrows(IllegalArgumentException.class, () -> new BatchNorm2d(3, 1e-5f, 0.1f, null));
    BatchNorm2d bn = new BatchNorm2d(3, Act.CRELU);
    try (Tensor x = Tensor.zeros(2, 3, 4, 4); Tensor g = Tensor.full(1f, 3); Tensor b = Tensor.zeros(3);
        Tensor sm = Tensor.zeros(3); Tensor si = Tensor.zeros(3); Tensor y = Tensor.zeros(2, 6, 4, 4);
        Tensor yWrong = Tensor.zeros(2, 3, 4, 4); Tensor x2 = Tensor.zeros(2, 4, 4, 4); Tensor x3 = Tensor.zeros(2, 3, 16);
        Tensor c4 = Tensor.zeros(4); Tensor one = Tensor.zeros(1, 3, 1, 1); Tensor yOne = Tensor.zeros(1, 6, 1, 1);
        Tensor dx = Tensor.zeros(2, 3, 4, 4); Tensor dg = Tensor.zeros(3); Tensor db = Tensor.zeros(3)) {
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(null, x, g, b, null, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, null, g, b, null, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x, g, b, null, null, sm, si, yWrong));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x2, g, b, null, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x3, g, b, null, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x, g, null, null, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x, c4, c4, null, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x, g, b, sm, null, sm, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x, g, b, null, null, null, si, y));
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, x, g, b, null, null, sm, sm, y));
      assertThrows(IllegalArgumentException.class,
          () -> bn.forwardTraining(engine, one, g, b, null, null, sm, si, yOne)); // one value per channel
      assertThrows(IllegalArgumentException.class, () -> bn.forwardInference(engine, x, g, b, null, null, y));
      assertThrows(IllegalArgumentException.class, () -> bn.inferenceAffine(engine, g, b, sm, si, dg, c4),
          "shift of the wrong size");
      assertThrows(IllegalArgumentException.class, () -> bn.inferenceAffine(engine, g, b, sm, si, dg, sm),
          "shift over the running mean");
      assertThrows(IllegalArgumentException.class, () -> bn.inferenceAffine(engine, g, null, sm, si, dg, db),
          "gamma without beta");
      assertThrows(IllegalArgumentException.class, () -> bn.backward(engine, x, g, b, sm, si, y, dx, null, null));
      assertThrows(IllegalArgumentException.class, () -> bn.backward(engine, x, null, null, sm, si, y, dx, dg, db));
      assertThrows(IllegalArgumentException.class, () -> bn.backward(engine, x, g, b, sm, si, yWrong, dx, dg, db));
      assertThrows(IllegalArgumentException.class, () -> bn.backward(engine, x, g, b, sm, si, y, x, dg, db));
      Tensor closed = Tensor.zeros(2, 3, 4, 4);
      closed.close();
      assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(engine, closed, g, b, null, null, sm, si, y));
      // A valid call still works after all the rejections.
      bn.forwardTraining(engine, x, g, b, null, null, sm, si, y);
    }
  }
}
