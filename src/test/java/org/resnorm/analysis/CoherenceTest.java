package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Coherence against the formula written out, and the hand cases 0, 1 and 1/2. */
class CoherenceTest {
  /** max over ordered pairs i != j of |W_i . W_j| / (||W_i|| ||W_j||), nothing normalized first. */
  private static double reference(float[] w, int rows, int cols) {
    double best = 0;
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < rows; j++) {
        if (i == j) {
          continue;
        }
        double dot = 0;
        double ni = 0;
        double nj = 0;
        for (int k = 0; k < cols; k++) {
          dot += (double) w[i * cols + k] * w[j * cols + k];
          ni += (double) w[i * cols + k] * w[i * cols + k];
          nj += (double) w[j * cols + k] * w[j * cols + k];
        }
        best = Math.max(best, Math.abs(dot) / (Math.sqrt(ni) * Math.sqrt(nj)));
      }
    }
    return best;
  }

  @Test
  void matchesTheFormulaOnRandomConvWeights() {
    SplittableRandom r = new SplittableRandom(5);
    int[][] shapes = {{7, 3, 3, 3}, {5, 11, 1, 1}, {13, 2, 3, 5}, {3, 1, 1, 1}};
    for (int[] s : shapes) {
      int cols = s[1] * s[2] * s[3];
      float[] w = new float[s[0] * cols];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) r.nextGaussian();
      }
      assertEquals(reference(w, s[0], cols), Coherence.mu(w, s), 1e-12, java.util.Arrays.toString(s));
    }
  }

  @Test
  void orthogonalFiltersGiveZero() {
    // three orthogonal filters of 2x2 (scaled differently): rows of a Hadamard-like matrix
    float[] w = {1, 1, 1, 1, 2, -2, 2, -2, 3, 3, -3, -3};
    assertEquals(0, Coherence.mu(w, new int[] {3, 1, 2, 2}), 1e-15);
  }

  @Test
  void identicalOrOppositeFiltersGiveOne() {
    float[] w = {1, 2, 3, 0, 0, 1, 1, 2, 3};  // filters 0 and 2 identical
    assertEquals(1, Coherence.mu(w, 3, 3), 1e-15);
    float[] opposite = {1, 2, 3, -2, -4, -6};
    assertEquals(1, Coherence.mu(opposite, 2, 3), 1e-15);
  }

  @Test
  void filtersAt60DegreesGiveOneHalf() {
    float[] w = {1, 0, 0.5f, (float) (Math.sqrt(3) / 2)};
    assertEquals(0.5, Coherence.mu(w, 2, 2), 1e-7);
    float[] scaled = {4, 0, 0, 0, 0, 0, 1.5f, 1.5f * (float) Math.sqrt(3), 0};  // norm does not matter; the zero filter is left out
    assertEquals(0.5, Coherence.mu(scaled, 3, 3), 1e-7);
  }

  @Test
  void zeroFiltersTakePartInNoPair() {
    float[] w = {1, 0, 0, 0, 0, 1};
    assertEquals(0, Coherence.mu(w, 3, 2), 0);
    assertTrue(Double.isNaN(Coherence.mu(new float[] {1, 2, 0, 0}, 2, 2)));
    assertTrue(Double.isNaN(Coherence.mu(new float[] {1, 2}, 1, 2)));
    assertThrows(IllegalArgumentException.class, () -> Coherence.mu(new float[5], 2, 3));
  }
}
