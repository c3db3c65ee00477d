package org.resnorm.analysis;

/**
 * The coherence of a conv's filter matrix (the paper's Fig. 3): with the K filters of a weight
 * [K, C, R, S] flattened into the rows W_1..W_K of a K x (C R S) matrix,
 *
 * <pre>
 *   mu = max_{i != j} |W_i . W_j| / (||W_i||_2 ||W_j||_2)
 * </pre>
 *
 * the largest absolute cosine between two different filters: 0 for mutually orthogonal filters,
 * 1 when two filters are parallel (or anti-parallel). Dot products and norms are accumulated in
 * float64. A filter of norm 0 has no direction: it takes part in no pair (documented choice);
 * with fewer than two non-zero filters mu is NaN. For weight-normalized convs pass
 * {@code weight_v}: mu depends only on directions, so gamma cancels.
 */
public final class Coherence {
  private Coherence() {}

  /** mu of {@code rows} filters of {@code cols} values each, row-major in {@code w}. */
  public static double mu(float[] w, int rows, int cols) {
    if (rows < 1 || cols < 1 || (long) rows * cols != w.length) {
      throw new IllegalArgumentException("a " + rows + " x " + cols + " filter matrix needs " + (long) rows * cols
          + " values, got " + w.length);
    }
    double[][] unit = new double[rows][];
    for (int i = 0; i < rows; i++) {
      double norm = 0;
      for (int k = 0; k < cols; k++) {
        double v = w[i * cols + k];
        norm += v * v;
      }
      norm = Math.sqrt(norm);
      if (norm == 0) {
        continue;
      }
      unit[i] = new double[cols];
      for (int k = 0; k < cols; k++) {
        unit[i][k] = w[i * cols + k] / norm;
      }
    }
    double max = Double.NaN;
    for (int i = 0; i < rows; i++) {
      if (unit[i] == null) {
        continue;
      }
      for (int j = i + 1; j < rows; j++) {
        if (unit[j] == null) {
          continue;
        }
        double dot = 0;
        double[] a = unit[i];
        double[] b = unit[j];
        for (int k = 0; k < cols; k++) {
          dot += a[k] * b[k];
        }
        double c = Math.min(1.0, Math.abs(dot));
        if (!(c <= max)) {
          max = c;
        }
      }
    }
    return max;
  }

  /** mu of a conv weight of shape [K, C, R, S] (or any shape: rows = the first dimension). */
  public static double mu(float[] w, int[] shape) {
    if (shape.length < 2) {
      throw new IllegalArgumentException("a filter matrix needs at least 2 dimensions, got " + shape.length);
    }
    int cols = 1;
    for (int d = 1; d < shape.length; d++) {
      cols = Math.multiplyExact(cols, shape[d]);
    }
    return mu(w, shape[0], cols);
  }
}
