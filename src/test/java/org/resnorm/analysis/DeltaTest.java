package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Delta against an independent float64 implementation and hand-computed cases. */
class DeltaTest {
  private static float[] random(SplittableRandom r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextDouble() * 4 - 2);
    }
    return v;
  }

  /** x_l'(n, c, i, j) written from the definition: x[n, c, s i, s j] for the first C channels, else 0. */
  private static double mapped(float[] x, int[] s, int stride, int n, int c, int i, int j) {
    if (c >= s[1]) {
      return 0;
    }
    return x[((n * s[1] + c) * s[2] + i * stride) * s[3] + j * stride];
  }

  /** mean over images and positions of the channel L2 norm of x_{l+1} - x_l', straight from the formula. */
  private static double reference(float[] in, int[] is, float[] out, int[] os, int stride) {
    double total = 0;
    for (int n = 0; n < os[0]; n++) {
      double perImage = 0;
      for (int i = 0; i < os[2]; i++) {
        for (int j = 0; j < os[3]; j++) {
          double sq = 0;
          for (int c = 0; c < os[1]; c++) {
            double d = out[((n * os[1] + c) * os[2] + i) * os[3] + j] - mapped(in, is, stride, n, c, i, j);
            sq += d * d;
          }
          perImage += Math.sqrt(sq);
        }
      }
      total += perImage / (os[2] * os[3]);
    }
    return total / os[0];
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.length;
  }

  @Test
  void sameShapeBlockMatchesTheFormula() {
    SplittableRandom r = new SplittableRandom(7);
    int[] shape = {3, 5, 7, 5};
    float[] in = random(r, 3 * 5 * 7 * 5);
    float[] out = random(r, in.length);
    double[] per = Delta.perImage(in, shape, out, shape, 1);
    assertEquals(3, per.length);
    assertEquals(reference(in, shape, out, shape, 1), mean(per), 1e-12);
    // per image: image 1 alone gives the second entry
    int per1 = 5 * 7 * 5;
    float[] in1 = java.util.Arrays.copyOfRange(in, per1, 2 * per1);
    float[] out1 = java.util.Arrays.copyOfRange(out, per1, 2 * per1);
    assertEquals(reference(in1, new int[] {1, 5, 7, 5}, out1, new int[] {1, 5, 7, 5}, 1), per[1], 1e-12);
  }

  @Test
  void reshapingBlockMatchesTheFormulaOnOddSizes() {
    SplittableRandom r = new SplittableRandom(8);
    int[] is = {3, 5, 7, 5};
    int[] os = {3, 9, 4, 3};  // stride 2: ceil(7/2) x ceil(5/2), 5 -> 9 channels
    float[] in = random(r, 3 * 5 * 7 * 5);
    float[] out = random(r, 3 * 9 * 4 * 3);
    assertEquals(reference(in, is, out, os, 2), mean(Delta.perImage(in, is, out, os, 2)), 1e-12);
  }

  @Test
  void blockThatReturnsItsInputHasDeltaZero() {
    SplittableRandom r = new SplittableRandom(9);
    int[] shape = {2, 3, 5, 7};
    float[] x = random(r, 2 * 3 * 5 * 7);
    assertArrayEquals(new double[] {0, 0}, Delta.perImage(x, shape, x.clone(), shape, 1));
    // and a reshaping block whose output is exactly shortcut A's map of its input
    int[] os = Delta.shortcutAShape(shape, 4, 2);
    assertArrayEquals(new int[] {2, 4, 3, 4}, os);
    assertArrayEquals(new double[] {0, 0}, Delta.perImage(x, shape, Delta.shortcutA(x, shape, 4, 2), os, 2));
  }

  @Test
  void reshapingBlockUsesOptionAByHand() {
    // x = [[1 2 3] [4 5 6] [7 8 9]], one channel; option A with stride 2 and 2 channels:
    // channel 0 = x[::2, ::2] = [[1 3] [7 9]], channel 1 = 0
    float[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int[] is = {1, 1, 3, 3};
    assertArrayEquals(new float[] {1, 3, 7, 9, 0, 0, 0, 0}, Delta.shortcutA(x, is, 2, 2));
    // output: channel 0 = [[5 3] [7 9]], channel 1 = [[3 0] [0 4]]
    float[] out = {5, 3, 7, 9, 3, 0, 0, 4};
    // per position: (0,0) sqrt(4^2 + 3^2) = 5, (0,1) 0, (1,0) 0, (1,1) sqrt(0 + 4^2) = 4 -> 9 / 4
    assertArrayEquals(new double[] {2.25}, Delta.perImage(x, is, out, new int[] {1, 2, 2, 2}, 2), 1e-15);
  }

  @Test
  void rejectsShapesShortcutACannotMap() {
    float[] x = new float[2 * 4 * 4];
    assertThrows(IllegalArgumentException.class,
        () -> Delta.perImage(x, new int[] {1, 2, 4, 4}, new float[3 * 3 * 3], new int[] {1, 3, 3, 3}, 2));
    assertThrows(IllegalArgumentException.class,
        () -> Delta.perImage(x, new int[] {1, 2, 4, 4}, new float[16], new int[] {1, 1, 4, 4}, 1));
    assertThrows(IllegalArgumentException.class,
        () -> Delta.perImage(x, new int[] {1, 2, 4, 5}, x, new int[] {1, 2, 4, 4}, 1));
  }
}
