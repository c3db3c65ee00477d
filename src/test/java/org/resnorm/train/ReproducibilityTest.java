package org.resnorm.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;

/**
 * Same seed + same thread count => bit-identical losses (the 3-step test, run over 5
 * steps, twice each, on networks large enough that every conv algorithm and the threaded
 * reductions take part: a kernel whose result depended on which thread took which work
 * would show here).
 */
class ReproducibilityTest {
  static float[] losses(ResNetConfig config, int threads, long seed, int steps) {
    int batch = 16;
    try (Engine engine = Engine.create(threads);
        ResNet net = ResNet.create(engine, config, batch, 16, 16, seed);
        Sgd sgd = Sgd.paperRecipe(1e-4f)) {
      float[] out = new float[steps];
      SplittableRandom data = new SplittableRandom(99);
      for (int s = 0; s < steps; s++) {
        float[] x = new float[batch * 3 * 16 * 16];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) (data.nextDouble() * 2 - 1);
        }
        int[] y = new int[batch];
        for (int i = 0; i < batch; i++) {
          y[i] = data.nextInt(10);
        }
        try (Tensor xt = Tensor.of(x, batch, 3, 16, 16); Tensor yt = Tensor.ofInts(y, batch)) {
          out[s] = net.forwardBackward(xt, yt);
          net.step(sgd, 0.1f);
        }
      }
      return out;
    }
  }

  @ParameterizedTest(name = "{0} {1}, {2} threads")
  @CsvSource({"BATCHNORM, CRELU, 2", "NORMPROP2, RELU, 2", "BATCHNORM, RELU, 1"})
  void sameSeedAndThreadsGiveBitIdenticalLosses(Norm norm, Act act, int threads) {
    ResNetConfig config = new ResNetConfig(ResNetConfig.Arch.CIFAR, 14, new int[] {16, 32, 64}, norm, act,
        Shortcut.A, 3, 10);
    float[] first = losses(config, threads, 3, 5);
    for (int rep = 0; rep < 2; rep++) {
      assertArrayEquals(first, losses(config, threads, 3, 5), "run " + (rep + 2) + " vs run 1: "
          + Arrays.toString(first));
    }
    assertFalse(Arrays.equals(first, losses(config, threads, 4, 5)), "another seed, other losses");
  }
}
