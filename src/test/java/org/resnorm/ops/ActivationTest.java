package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
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

/** ReLU, CReLU and add + ReLU against {@link NormReference}, every ISA level, odd shapes, in place. */
class ActivationTest extends WithEngine {
  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : TestSupport.supportedIsas()) {
      for (int[] s : new int[][] {{3, 5, 7, 6}, {1, 3, 5, 5}, {4, 2, 1, 1}, {2, 3, 101, 103}}) {
        out.add(Arguments.of(isa, s[0], s[1], s[2], s[3]));
      }
    }
    return out.stream();
  }

  /** Uniform values at least 0.01 away from 0 (finite differences with h = 1e-3 stay on one side). */
  static double[] awayFromZero(SplittableRandom rng, int n) {
    double[] v = TestSupport.random(rng, n);
    for (int i = 0; i < n; i++) {
      while (Math.abs(v[i]) < 0.01) {
        v[i] = (float) (rng.nextDouble() * 2 - 1);
      }
    }
    return v;
  }

  @ParameterizedTest(name = "{0} [{1},{2},{3},{4}]")
  @MethodSource("cases")
  void reluAndAddRelu(Isa isa, int n, int c, int h, int w) {
    engine.isa(isa);
    int count = n * c * h * w;
    SplittableRandom rng = new SplittableRandom(count);
    double[] x = awayFromZero(rng, count);
    double[] b = TestSupport.random(rng, count);
    double[] dy = TestSupport.random(rng, count);
    double[] a = new double[count]; // a + b away from 0 as well
    for (int i = 0; i < count; i++) {
      a[i] = (float) (x[i] - b[i]);
      if (Math.abs((float) a[i] + (float) b[i]) < 0.005) {
        a[i] = (float) (a[i] + 0.02);
      }
    }
    try (Tensor tx = Tensor.of(toFloat(x), n, c, h, w); Tensor ta = Tensor.of(toFloat(a), n, c, h, w);
        Tensor tb = Tensor.of(toFloat(b), n, c, h, w); Tensor tdy = Tensor.of(toFloat(dy), n, c, h, w);
        Tensor y = poisoned(n, c, h, w); Tensor dx = poisoned(n, c, h, w); Tensor da = poisoned(n, c, h, w);
        Tensor db = poisoned(n, c, h, w); Tensor inPlace = Tensor.of(toFloat(x), n, c, h, w)) {
      Activation.relu(engine, tx, y);
      assertClose("relu", y.toFloatArray(), NormReference.relu(x), 1e-7);
      Activation.reluBackward(engine, y, tdy, dx);
      assertClose("relu backward", dx.toFloatArray(), NormReference.reluBackward(x, dy), 1e-7);
      boolean small = count < 2000; // finite differences cost count^2
      if (small) {
        assertClose("relu backward vs FD", dx.toFloatArray(),
            finiteDifference(v -> dot(NormReference.relu(v), dy), x, 1e-3), 1e-6);
      }
      Activation.relu(engine, inPlace, inPlace);
      assertClose("relu in place", inPlace.toFloatArray(), NormReference.relu(x), 1e-7);

      double[] sum = new double[count];
      for (int i = 0; i < count; i++) {
        sum[i] = (float) a[i] + (float) b[i]; // the kernel adds in float
        sum[i] = (float) sum[i];
      }
      Activation.addRelu(engine, ta, tb, y);
      assertClose("addRelu", y.toFloatArray(), NormReference.relu(sum), 1e-7);
      Activation.addReluBackward(engine, y, tdy, da, db);
      double[] g = NormReference.reluBackward(sum, dy);
      assertClose("addRelu backward da", da.toFloatArray(), g, 1e-7);
      assertClose("addRelu backward db", db.toFloatArray(), g, 1e-7);
      if (small) {
        assertClose("addRelu backward da vs FD", da.toFloatArray(),
            finiteDifference(v -> dot(NormReference.addRelu(v, b), dy), a, 1e-3), 1e-5);
      }
      // In place: y == a, then da == dy with db omitted.
      Activation.addRelu(engine, ta, tb, ta);
      assertClose("addRelu in place", ta.toFloatArray(), NormReference.relu(sum), 1e-7);
      Activation.addReluBackward(engine, ta, tdy, tdy, null);
      assertClose("addRelu backward in place", tdy.toFloatArray(), g, 1e-7);
    }
    // reluBackwardSum: dx = (a + b) * [y > 0] with y = relu(x): the two gradients summed in float.
    try (Tensor y = Tensor.of(toFloat(NormReference.relu(x)), n, c, h, w); Tensor ta = Tensor.of(toFloat(a), n, c, h, w);
        Tensor tb = Tensor.of(toFloat(b), n, c, h, w); Tensor dx = poisoned(n, c, h, w);
        Tensor twoPass = poisoned(n, c, h, w)) {
      double[] sum = new double[count];
      for (int i = 0; i < count; i++) {
        sum[i] = (float) ((float) a[i] + (float) b[i]);
      }
      Activation.reluBackwardSum(engine, y, ta, tb, dx);
      assertClose("reluBackwardSum", dx.toFloatArray(), NormReference.reluBackward(x, sum), 1e-7);
      Activation.add(engine, ta, tb, twoPass);
      Activation.reluBackward(engine, y, twoPass, twoPass);
      assertArrayEquals(twoPass.toFloatArray(), dx.toFloatArray(), "reluBackwardSum vs add, then reluBackward");
      Activation.reluBackwardSum(engine, y, ta, tb, tb); // in place over a gradient
      assertArrayEquals(twoPass.toFloatArray(), tb.toFloatArray(), "reluBackwardSum in place");
    }
  }

  @ParameterizedTest(name = "{0} [{1},{2},{3},{4}]")
  @MethodSource("cases")
  void crelu(Isa isa, int n, int c, int h, int w) {
    engine.isa(isa);
    int count = n * c * h * w;
    int hw = h * w;
    SplittableRandom rng = new SplittableRandom(count + 1);
    double[] x = awayFromZero(rng, count);
    double[] dy = TestSupport.random(rng, 2 * count);
    try (Tensor tx = Tensor.of(toFloat(x), n, c, h, w); Tensor tdy = Tensor.of(toFloat(dy), n, 2 * c, h, w);
        Tensor y = poisoned(n, 2 * c, h, w); Tensor dx = poisoned(n, c, h, w)) {
      Activation.crelu(engine, tx, y);
      assertClose("crelu", y.toFloatArray(), NormReference.crelu(n, c, hw, x), 1e-7);
      Activation.creluBackward(engine, tx, tdy, dx);
      assertClose("crelu backward", dx.toFloatArray(), NormReference.creluBackward(n, c, hw, x, dy), 1e-7);
      if (count < 2000) { // finite differences cost count^2
        assertClose("crelu backward vs FD", dx.toFloatArray(),
            finiteDifference(v -> dot(NormReference.crelu(n, c, hw, v), dy), x, 1e-3), 1e-6);
      }
    }
  }

  @Test
  void nanPropagatesThroughRelu() {
    try (Tensor x = Tensor.of(new float[] {-1f, Float.NaN, 2f}, 3); Tensor y = poisoned(3)) {
      Activation.relu(engine, x, y);
      float[] v = y.toFloatArray();
      assertTrue(v[0] == 0f && Float.isNaN(v[1]) && v[2] == 2f);
    }
  }

  @Test
  void rejectsBadArguments() {
    try (Tensor x = Tensor.zeros(2, 3, 4, 4); Tensor y = Tensor.zeros(2, 3, 4, 4); Tensor y2 = Tensor.zeros(2, 6, 4, 4);
        Tensor small = Tensor.zeros(2, 3, 4, 3); Tensor flat = Tensor.zeros(96)) {
      assertThrows(IllegalArgumentException.class, () -> Activation.relu(null, x, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.relu(engine, null, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.relu(engine, x, small));
      assertThrows(IllegalArgumentException.class, () -> Activation.relu(engine, x, null));
      assertThrows(IllegalArgumentException.class, () -> Activation.reluBackward(engine, x, small, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.crelu(engine, x, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.crelu(engine, flat, y2));
      assertThrows(IllegalArgumentException.class, () -> Activation.creluBackward(engine, x, y, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.creluBackward(engine, x, y2, x));
      assertThrows(IllegalArgumentException.class, () -> Activation.addRelu(engine, x, small, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.addReluBackward(engine, x, y, null, null));
      assertThrows(IllegalArgumentException.class, () -> Activation.addReluBackward(engine, x, y, y2, null));
      assertThrows(IllegalArgumentException.class, () -> Activation.reluBackwardSum(engine, x, y, null, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.reluBackwardSum(engine, x, y, small, y));
      assertThrows(IllegalArgumentException.class, () -> Activation.reluBackwardSum(engine, x, y, y, y2));
      try (Tensor view = y2.view(2 * 6 * 4 * 4)) {
        // a partial overlap (not the same memory) is rejected
        Tensor part = view.slice(0, 96);
        Tensor shifted = view.slice(1, 97);
        assertThrows(IllegalArgumentException.class, () -> Activation.relu(engine, part, shifted));
      }
      Tensor closed = Tensor.zeros(2, 3, 4, 4);
      closed.close();
      assertThrows(IllegalArgumentException.class, () -> Activation.relu(engine, closed, y));
    }
  }

  @org.junit.jupiter.api.Test
  void addSumsElementwiseAlsoInPlace() {
    float[] a = {1.5f, -2f, 3f, 0.25f, -0.5f};
    float[] b = {0.5f, 2f, -1f, 0.25f, -0.5f};
    try (Tensor ta = Tensor.of(a, 5);
        Tensor tb = Tensor.of(b, 5);
        Tensor y = TestSupport.poisoned(5);
        Tensor shortY = Tensor.zeros(4)) {
      Activation.add(engine, ta, tb, y);
      org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {2f, 0f, 2f, 0.5f, -1f}, y.toFloatArray());
      Activation.add(engine, ta, tb, ta);
      org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {2f, 0f, 2f, 0.5f, -1f}, ta.toFloatArray());
      org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> Activation.add(engine, ta, tb, shortY));
    }
    // Long enough to split over the threads (more than 2 x 16384 elements) and odd.
    int n = 40_009;
    SplittableRandom rng = new SplittableRandom(3);
    double[] ra = TestSupport.random(rng, n);
    double[] rb = TestSupport.random(rng, n);
    double[] sum = new double[n];
    for (int i = 0; i < n; i++) {
      sum[i] = (double) (float) ra[i] + (double) (float) rb[i];
    }
    try (Tensor ta = Tensor.of(TestSupport.toFloat(ra), n);
        Tensor tb = Tensor.of(TestSupport.toFloat(rb), n);
        Tensor y = TestSupport.poisoned(n)) {
      for (Isa isa : TestSupport.supportedIsas()) {
        engine.isa(isa);
        y.fill(Float.NaN);
        Activation.add(engine, ta, tb, y);
        TestSupport.assertClose(isa + " add", y.toFloatArray(), sum, 1e-7);
      }
    }
  }
}
