package org.resnorm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Ten-crop style scoring: an example's probabilities are the mean of its crops' softmax. */
class ScoreCropsTest {
  @Test
  void averagesSoftmaxOverCrops() {
    // 2 examples x 2 crops x 3 classes
    float[] logits = {
        0, 0, 5, /**/ 3, 0, 0,      // example 0: crops favour class 2 strongly, class 0 mildly
        1, 0, 0, /**/ 1, 0, 0};     // example 1: class 0 both times
    int[] labels = {0, 0, 1, 1};
    double[] r = Trainer.scoreCrops(logits, labels, 2, 3, 2);
    double[] p0 = mean(softmax(0, 0, 5), softmax(3, 0, 0));
    double[] p1 = softmax(1, 0, 0);
    assertEquals(-Math.log(p0[0]) - Math.log(p1[1]), r[0], 1e-9);
    // example 0: p(class 2) = 0.516 > p(class 0) = 0.458: top-1 miss, top-2 hit; example 1: label 1 ties 2, below 0
    assertEquals(0, r[1]);
    assertEquals(2, r[2]);
  }

  static double[] softmax(double... z) {
    double s = 0;
    for (double v : z) {
      s += Math.exp(v);
    }
    double[] p = new double[z.length];
    for (int i = 0; i < z.length; i++) {
      p[i] = Math.exp(z[i]) / s;
    }
    return p;
  }

  static double[] mean(double[] a, double[] b) {
    double[] m = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      m[i] = (a[i] + b[i]) / 2;
    }
    return m;
  }
}
