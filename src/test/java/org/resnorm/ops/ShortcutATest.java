package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.toFloat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;

class ShortcutATest extends WithEngine {
  @ParameterizedTest(name = "n={0} cIn={1} h={2} w={3} cOut={4} stride={5}")
  @CsvSource({
    "3, 5, 7, 6, 5, 1",
    "3, 5, 7, 6, 10, 1",
    "3, 5, 7, 6, 5, 2",
    "3, 5, 7, 6, 10, 2",
    "2, 4, 9, 9, 8, 2",
    "2, 16, 8, 8, 32, 2",
    "1, 1, 1, 1, 1, 1",
    "1, 1, 1, 1, 2, 2",
    "2, 3, 10, 11, 7, 3"
  })
  void matchesReferenceAndFiniteDifferences(int n, int cIn, int h, int w, int cOut, int stride) {
    ShortcutA sc = new ShortcutA(cIn, cOut, stride);
    int p = PoolingReference.shortcutSize(h, stride);
    int q = PoolingReference.shortcutSize(w, stride);
    int[] in = {n, cIn, h, w};
    int[] out = {n, cOut, p, q};
    assertArrayEquals(out, sc.outputShape(in));
    SplittableRandom rng = new SplittableRandom(n * 1000 + cIn * 100 + h * 10 + w + cOut * 7 + stride);
    double[] x = random(rng, n * cIn * h * w);
    double[] dy = random(rng, n * cOut * p * q);
    try (Tensor tx = Tensor.of(toFloat(x), in);
        Tensor tdy = Tensor.of(toFloat(dy), out);
        Tensor y = poisoned(out);
        Tensor dx = poisoned(in)) {
      sc.forward(engine, tx, y);
      // A copy: exact.
      assertArrayEquals(toFloat(PoolingReference.shortcutAForward(n, cIn, h, w, cOut, stride, x)), y.toFloatArray());
      sc.backward(engine, tdy, dx);
      assertArrayEquals(toFloat(PoolingReference.shortcutABackward(n, cIn, h, w, cOut, stride, dy)), dx.toFloatArray());
      assertClose("backward vs FD", dx.toFloatArray(),
          finiteDifference(v -> dot(PoolingReference.shortcutAForward(n, cIn, h, w, cOut, stride, v), dy), x, 1e-3),
          1e-4);
    }
  }

  @Test
  void zeroChannelsAreAppended() {
    // x [1, 2, 2, 2] -> y [1, 4, 1, 1] with stride 2: channels 0, 1 hold x[.., 0, 0]; 2, 3 are zero.
    ShortcutA sc = new ShortcutA(2, 4, 2);
    try (Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 1, 2, 2, 2); Tensor y = poisoned(1, 4, 1, 1)) {
      sc.forward(engine, x, y);
      assertArrayEquals(new float[] {1, 5, 0, 0}, y.toFloatArray());
    }
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new ShortcutA(0, 4, 1));
    assertThrows(IllegalArgumentException.class, () -> new ShortcutA(4, 2, 1));
    assertThrows(IllegalArgumentException.class, () -> new ShortcutA(4, 8, 0));
    ShortcutA sc = new ShortcutA(3, 6, 2);
    try (Tensor x = Tensor.zeros(2, 3, 7, 6);
        Tensor y = Tensor.zeros(2, 6, 4, 3);
        Tensor badC = Tensor.zeros(2, 4, 7, 6);
        Tensor badY = Tensor.zeros(2, 6, 3, 3);
        Tensor badYc = Tensor.zeros(2, 3, 4, 3);
        Tensor x3 = Tensor.zeros(2, 3, 42);
        Tensor yInt = Tensor.emptyInt(2, 6, 4, 3)) {
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, badC, y));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, x, badY));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, x, badYc));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, x3, y));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, x, yInt));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, null, y));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, x, null));
      assertThrows(IllegalArgumentException.class, () -> sc.forward(null, x, y));
      assertThrows(IllegalArgumentException.class, () -> sc.backward(engine, badY, x));
      assertThrows(IllegalArgumentException.class, () -> sc.backward(engine, y, badC));
      assertThrows(IllegalArgumentException.class, () -> sc.backward(engine, null, x));
      assertThrows(IllegalArgumentException.class, () -> sc.backward(engine, y, null));
      assertThrows(IllegalArgumentException.class, () -> sc.outputShape(2, 4, 7, 6));
    }
    Tensor closed = Tensor.zeros(2, 3, 7, 6);
    closed.close();
    try (Tensor y = Tensor.zeros(2, 6, 4, 3)) {
      assertThrows(IllegalArgumentException.class, () -> sc.forward(engine, closed, y));
      assertThrows(IllegalArgumentException.class, () -> sc.backward(engine, y, closed));
    }
  }
}
