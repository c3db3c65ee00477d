package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.toFloat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.PoolingReference.PoolShape;

class PoolingTest extends WithEngine {
  /** Distinct values spaced 2/count apart in [-1, 1), shuffled: max pooling has no ties. */
  static double[] distinct(SplittableRandom rng, int count) {
    double[] v = new double[count];
    for (int i = 0; i < count; i++) {
      v[i] = (float) (-1.0 + 2.0 * i / count);
    }
    for (int i = count - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      double t = v[i];
      v[i] = v[j];
      v[j] = t;
    }
    return v;
  }

  @ParameterizedTest(name = "n={0} c={1} h={2} w={3}")
  @CsvSource({"3, 5, 7, 6", "1, 1, 1, 1", "2, 64, 8, 8", "4, 3, 7, 7", "2, 3, 1, 9"})
  void globalAvgPoolMatchesReferenceAndFiniteDifferences(int n, int c, int h, int w) {
    SplittableRandom rng = new SplittableRandom(n * 1000 + c * 100 + h * 10 + w);
    int hw = h * w;
    double[] x = random(rng, n * c * hw);
    double[] dy = random(rng, n * c);
    try (Tensor tx = Tensor.of(toFloat(x), n, c, h, w);
        Tensor tdy = Tensor.of(toFloat(dy), n, c);
        Tensor y = poisoned(n, c);
        Tensor dx = poisoned(n, c, h, w)) {
      GlobalAvgPool.forward(engine, tx, y);
      assertClose("forward", y.toFloatArray(), PoolingReference.globalAvgPoolForward(n, c, hw, x), 1e-6);
      GlobalAvgPool.backward(engine, tdy, dx);
      assertClose("backward vs reference", dx.toFloatArray(), PoolingReference.globalAvgPoolBackward(n, c, hw, dy), 1e-6);
      assertClose("backward vs FD", dx.toFloatArray(),
          finiteDifference(v -> dot(PoolingReference.globalAvgPoolForward(n, c, hw, v), dy), x, 1e-3), 1e-4);
    }
  }

  @ParameterizedTest(name = "n={0} c={1} h={2} w={3} k={4} s={5} p={6}")
  @CsvSource({
    "3, 5, 7, 6, 3, 2, 1", // ImageNet stem pool (3x3/2 pad 1), odd x even
    "2, 3, 8, 8, 3, 2, 1", // stem pool, even
    "1, 2, 7, 7, 3, 2, 1", // stem pool, odd
    "2, 3, 5, 5, 2, 2, 0",
    "1, 1, 1, 1, 1, 1, 0",
    "2, 4, 9, 6, 3, 1, 1", // overlapping windows, stride 1
    "1, 3, 6, 7, 3, 3, 1",
    "1, 2, 11, 10, 5, 3, 2",
    "3, 5, 7, 6, 2, 1, 1",
    "2, 2, 4, 4, 4, 1, 2",
    "2, 3, 2, 2, 3, 2, 1"
  })
  void maxPoolMatchesReferenceAndFiniteDifferences(int n, int c, int h, int w, int k, int s, int p) {
    PoolShape g = new PoolShape(n, c, h, w, k, s, p);
    MaxPool2d pool = new MaxPool2d(k, s, p);
    assertArrayEquals(g.output(), pool.outputShape(g.input()));
    SplittableRandom rng = new SplittableRandom(n * 7919 + c * 131 + h * 17 + w + k * 3 + s * 5 + p);
    int inCount = n * c * h * w;
    double[] x = distinct(rng, inCount);
    double[] dy = random(rng, n * c * g.p() * g.q());
    int[] argRef = PoolingReference.maxPool2dArgmax(g, x);
    try (Tensor tx = Tensor.of(toFloat(x), g.input());
        Tensor tdy = Tensor.of(toFloat(dy), g.output());
        Tensor y = poisoned(g.output());
        Tensor y2 = poisoned(g.output());
        Tensor arg = filledInts(-7, g.output());
        Tensor dx = poisoned(g.input());
        Tensor dx2 = poisoned(g.input())) {
      pool.forward(engine, tx, y, arg);
      // Max pooling selects an input value: exact.
      assertArrayEquals(toFloat(PoolingReference.maxPool2dForward(g, x)), y.toFloatArray());
      assertArrayEquals(argRef, arg.toIntArray());
      pool.forward(engine, tx, y2, null);
      assertArrayEquals(y.toFloatArray(), y2.toFloatArray());

      pool.backward(engine, arg, tdy, dx);
      assertClose("backward vs reference", dx.toFloatArray(), PoolingReference.maxPool2dBackward(g, argRef, dy), 1e-6);
      // Values are 2/inCount apart: a step of a quarter of that never changes a window's maximum.
      double step = 0.5 / inCount;
      assertClose("backward vs FD", dx.toFloatArray(),
          finiteDifference(v -> dot(PoolingReference.maxPool2dForward(g, v), dy), x, step), 1e-4);
      pool.backwardRecompute(engine, tx, tdy, dx2);
      assertArrayEquals(dx.toFloatArray(), dx2.toFloatArray(), "the two backward variants differ");
    }
  }

  static Tensor filledInts(int value, int... shape) {
    int count = 1;
    for (int d : shape) {
      count *= d;
    }
    int[] v = new int[count];
    Arrays.fill(v, value);
    return Tensor.ofInts(v, shape);
  }

  @Test
  void maxPoolTiesNanAndInfinity() {
    float nan = Float.NaN;
    float inf = Float.NEGATIVE_INFINITY;
    // 1x1x4x4, 2x2 windows stride 2: window 0 ties (first wins), window 1 holds a NaN after
    // its maximum, window 2 holds two NaNs (the first wins), window 3 is all -inf.
    float[] x = {
      5, 1, 2, 9,
      3, 5, nan, 0,
      nan, 1, inf, inf,
      nan, 7, inf, inf};
    MaxPool2d pool = new MaxPool2d(2, 2, 0);
    try (Tensor tx = Tensor.of(x, 1, 1, 4, 4); Tensor y = poisoned(1, 1, 2, 2);
        Tensor arg = filledInts(-7, 1, 1, 2, 2)) {
      pool.forward(engine, tx, y, arg);
      assertArrayEquals(new int[] {0, 6, 8, 10}, arg.toIntArray());
      float[] out = y.toFloatArray();
      assertEquals(5f, out[0]);
      assertTrue(Float.isNaN(out[1]) && Float.isNaN(out[2]));
      assertEquals(inf, out[3]);
    }
    // All -inf with padding: the padding (also -inf) is never selected.
    MaxPool2d stem = new MaxPool2d(3, 2, 1);
    float[] allInf = new float[9];
    Arrays.fill(allInf, inf);
    try (Tensor tx = Tensor.of(allInf, 1, 1, 3, 3); Tensor y = poisoned(1, 1, 2, 2);
        Tensor arg = filledInts(-7, 1, 1, 2, 2)) {
      stem.forward(engine, tx, y, arg);
      assertArrayEquals(new int[] {0, 1, 3, 4}, arg.toIntArray());
      assertArrayEquals(new float[] {inf, inf, inf, inf}, y.toFloatArray());
    }
  }

  @Test
  void maxPoolRejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(0, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(3, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(3, 2, -1));
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(3, 2, 2)); // pad > kernel/2
    assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(5, 1, 1).outputShape(1, 1, 2, 9)); // 2+2 < 5
    MaxPool2d pool = new MaxPool2d(3, 2, 1);
    try (Tensor x = Tensor.zeros(2, 3, 7, 6);
        Tensor y = Tensor.zeros(2, 3, 4, 3);
        Tensor arg = Tensor.emptyInt(2, 3, 4, 3);
        Tensor badY = Tensor.zeros(2, 3, 3, 3);
        Tensor badArg = Tensor.emptyInt(2, 3, 3, 3);
        Tensor x3 = Tensor.zeros(2, 3, 42);
        Tensor small = Tensor.zeros(2, 3, 1, 1);
        Tensor smallY = Tensor.zeros(2, 3, 1, 1);
        Tensor yAsInt = Tensor.emptyInt(2, 3, 4, 3);
        Tensor yT = Tensor.zeros(2, 3, 3, 4);
        Tensor dx = Tensor.zeros(2, 3, 7, 6)) {
      assertArrayEquals(new int[] {2, 3, 3, 4}, pool.outputShape(2, 3, 6, 7));
      assertArrayEquals(new int[] {2, 3, 4, 3}, pool.outputShape(x.shape()));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x, badY, null));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x, y, badArg));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x, y, y)); // argmax must be I32
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x, yAsInt, arg));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x3, y, null));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, null, y, null));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x, null, null));
      assertThrows(IllegalArgumentException.class, () -> pool.forward(null, x, y, null));
      assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(1, 1, 0).forward(engine, x, x, null)); // in place
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, x.transpose(2, 3), yT, null)); // strided
      // 1x1 input with a 3x3 window and pad 1 is fine (1 + 2 >= 3); a 5x5 window is not.
      pool.forward(engine, small, smallY, null);
      assertThrows(IllegalArgumentException.class, () -> new MaxPool2d(5, 1, 1).forward(engine, small, smallY, null));
      assertThrows(IllegalArgumentException.class, () -> pool.backward(engine, null, y, dx));
      assertThrows(IllegalArgumentException.class, () -> pool.backward(engine, arg, badY, dx));
      assertThrows(IllegalArgumentException.class, () -> pool.backward(engine, badArg, y, dx));
      assertThrows(IllegalArgumentException.class, () -> pool.backward(engine, arg, y, x3));
      assertThrows(IllegalArgumentException.class, () -> pool.backwardRecompute(engine, x, badY, dx));
      assertThrows(IllegalArgumentException.class, () -> pool.backwardRecompute(engine, x, y, x));
      assertThrows(IllegalArgumentException.class, () -> pool.backwardRecompute(engine, x, y, small));
    }
    // Closed tensors.
    Tensor closedX = Tensor.zeros(2, 3, 7, 6);
    closedX.close();
    Tensor closedArg = Tensor.emptyInt(2, 3, 4, 3);
    closedArg.close();
    try (Tensor y = Tensor.zeros(2, 3, 4, 3); Tensor dx = Tensor.zeros(2, 3, 7, 6)) {
      assertThrows(IllegalArgumentException.class, () -> pool.forward(engine, closedX, y, null));
      assertThrows(IllegalArgumentException.class, () -> pool.backward(engine, closedArg, y, dx));
      assertThrows(IllegalArgumentException.class, () -> pool.backwardRecompute(engine, closedX, y, dx));
    }
  }

  @Test
  void maxPoolBackwardRejectsCorruptArgmax() {
    MaxPool2d pool = new MaxPool2d(2, 2, 0);
    for (int bad : new int[] {-1, 16, Integer.MAX_VALUE}) {
      try (Tensor arg = Tensor.ofInts(new int[] {0, 3, bad, 15}, 1, 1, 2, 2);
          Tensor dy = Tensor.full(1f, 1, 1, 2, 2);
          Tensor dx = Tensor.zeros(1, 1, 4, 4)) {
        IllegalArgumentException e =
            assertThrows(IllegalArgumentException.class, () -> pool.backward(engine, arg, dy, dx));
        assertTrue(e.getMessage().contains("argmax"), e.getMessage());
      }
    }
  }

  @Test
  void globalAvgPoolRejectsBadArguments() {
    try (Tensor x = Tensor.zeros(2, 3, 4, 5); Tensor y = Tensor.zeros(2, 3); Tensor badY = Tensor.zeros(2, 4);
        Tensor y4 = Tensor.zeros(2, 3, 1, 1); Tensor x2 = Tensor.zeros(2, 3); Tensor labels = Tensor.emptyInt(2, 3)) {
      assertArrayEquals(new int[] {2, 3}, GlobalAvgPool.outputShape(x.shape()));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, x, badY));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, x, y4));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, x2, y));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, x, labels));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, null, y));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(null, x, y));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, x, x.view(20, 2, 3).slice(0, 1).view(2, 3)));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.backward(engine, badY, x));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.backward(engine, y, x2));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.backward(engine, null, x));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.outputShape(2, 3));
    }
    Tensor closed = Tensor.zeros(2, 3, 4, 5);
    closed.close();
    try (Tensor y = Tensor.zeros(2, 3)) {
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.forward(engine, closed, y));
      assertThrows(IllegalArgumentException.class, () -> GlobalAvgPool.backward(engine, y, closed));
    }
  }
}
