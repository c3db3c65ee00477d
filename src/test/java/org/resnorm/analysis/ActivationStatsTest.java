package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Mean, population std and NZR against a plain float64 two-pass computation. */
class ActivationStatsTest {
  @Test
  void matchesTwoPassReferenceAcrossChunks() {
    SplittableRandom r = new SplittableRandom(3);
    float[] v = new float[3 * 7 * 5 * 5];
    for (int i = 0; i < v.length; i++) {
      // ReLU-like: about 40 % zeros, positive values around 1000 (large mean, small spread)
      v[i] = r.nextDouble() < 0.4 ? 0f : (float) (1000 + r.nextDouble());
    }
    double sum = 0;
    long nz = 0;
    for (float x : v) {
      sum += x;
      nz += x != 0 ? 1 : 0;
    }
    double mean = sum / v.length;
    double ss = 0;
    for (float x : v) {
      ss += (x - mean) * (x - mean);
    }
    double std = Math.sqrt(ss / v.length);
    // added in uneven chunks, as batches are
    ActivationStats s = new ActivationStats().add(v, 0, 1).add(v, 1, 200).add(v, 201, 0).add(v, 201, v.length - 201);
    ActivationStats.Summary got = s.summary();
    assertEquals(v.length, got.entries());
    assertEquals(mean, got.mean(), 1e-9 * Math.abs(mean));
    assertEquals(std, got.std(), 1e-9 * std);
    assertEquals((double) nz / v.length, got.nzr(), 0);
    ActivationStats.Summary whole = new ActivationStats().add(v).summary();
    assertEquals(got.std(), whole.std(), 1e-9 * std);
  }

  @Test
  void handCase() {
    // 0, 0, 2, 6: mean 2, population variance (4 + 4 + 0 + 16) / 4 = 6, NZR 1/2
    ActivationStats.Summary s = new ActivationStats().add(new float[] {0, 0}).add(new float[] {2, 6}).summary();
    assertEquals(2, s.mean(), 1e-15);
    assertEquals(Math.sqrt(6), s.std(), 1e-15);
    assertEquals(0.5, s.nzr(), 0);
    assertTrue(Double.isNaN(new ActivationStats().summary().mean()));
  }
}
