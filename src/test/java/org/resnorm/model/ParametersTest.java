package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.resnorm.ops.Act;

class ParametersTest {
  static double std(float[] v) {
    double s = 0;
    double sq = 0;
    for (float e : v) {
      s += e;
      sq += (double) e * e;
    }
    double mean = s / v.length;
    return Math.sqrt(sq / v.length - mean * mean);
  }

  @Test
  void initializationFollowsTheRecipeAndTheSeed() {
    ResNetSpec spec = ResNetSpec.of(ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 10));
    try (Parameters a = Parameters.initialize(spec, 42);
        Parameters b = Parameters.initialize(spec, 42);
        Parameters c = Parameters.initialize(spec, 43)) {
      assertEquals(spec.params().size(), a.all().size());
      for (String name : a.all().keySet()) {
        assertArrayEquals(a.get(name).toFloatArray(), b.get(name).toFloatArray(), name + ": same seed, same values");
      }
      assertFalse(Arrays.equals(a.get("layer3.2.conv2.weight").toFloatArray(),
          c.get("layer3.2.conv2.weight").toFloatArray()), "another seed");
      // He: std sqrt(2 / (3*3*64)) for a 64-filter 3x3 conv
      assertEquals(Math.sqrt(2.0 / (9 * 64)), std(a.get("layer3.2.conv2.weight").toFloatArray()), 0.002);
      assertTrue(Arrays.stream(box(a.get("bn1.weight").toFloatArray())).allMatch(v -> v == 1f));
      assertTrue(Arrays.stream(box(a.get("bn1.running_mean").toFloatArray())).allMatch(v -> v == 0f));
      assertTrue(Arrays.stream(box(a.get("fc.bias").toFloatArray())).allMatch(v -> v == 0f));
      float bound = (float) (1 / Math.sqrt(64));
      assertTrue(Arrays.stream(box(a.get("fc.weight").toFloatArray())).allMatch(v -> Math.abs(v) <= bound));
      assertThrows(IllegalArgumentException.class, () -> a.get("layer9.0.conv1.weight"));
    }
  }

  @Test
  void normPropStartsGammaAtOneOver121() {
    ResNetSpec spec = ResNetSpec.of(ResNetConfig.cifar(8, Norm.NORMPROP, Act.CRELU, 10));
    try (Parameters p = Parameters.initialize(spec, 1)) {
      assertEquals((float) (1 / 1.21), p.get("layer1.0.conv2.weight_g").toFloatArray()[0]);
      // Xavier: std sqrt(2 / (fan_in + fan_out)) = sqrt(2 / (32*9 + 16*9)) for conv2 (2C=32 -> 16)
      assertEquals(Math.sqrt(2.0 / (32 * 9 + 16 * 9)), std(p.get("layer1.0.conv2.weight_v").toFloatArray()), 0.004);
    }
  }

  private static Float[] box(float[] v) {
    Float[] b = new Float[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = v[i];
    }
    return b;
  }
}
