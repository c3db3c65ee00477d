package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;

/**
 * Native memory stays flat while training (300 steps: no per-step allocation survives a step)
 * and a closed network and engine give every byte back. Watches resnorm's own allocation counter
 * (rn_live_bytes: tensors and kernel workspaces) and the process's resident set.
 */
class MemoryTest {
  static long residentBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }

  @Test
  void noNativeGrowthOver300TrainingSteps() throws IOException {
    ResNetConfig config = new ResNetConfig(ResNetConfig.Arch.CIFAR, 20, new int[] {8, 16, 32}, Norm.BATCHNORM,
        Act.CRELU, Shortcut.A, 3, 10);
    try (Engine engine = Engine.create(2);
        ResNet net = ResNet.create(engine, config, 16, 16, 16, 1);
        Sgd sgd = Sgd.paperRecipe(1e-4f);
        Tensor x = ResNetTest.randomTensor(16, 3, 16, 16);
        Tensor y = Tensor.ofInts(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5}, 16)) {
      for (int i = 0; i < 10; i++) {  // workspaces reach their size, the JIT settles
        net.forwardBackward(x, y);
        net.step(sgd, 0.05f);
        net.evaluate(x, y, 1);
      }
      long live0 = settledLiveBytes();
      long rss0 = residentBytes();
      for (int i = 0; i < 300; i++) {
        net.forwardBackward(x, y);
        net.step(sgd, 0.05f);
        if (i % 10 == 0) {
          net.evaluate(x, y, 1);
        }
      }
      long live1 = ResnormNative.rn_live_bytes();
      long rss1 = residentBytes();
      // Other tests' unclosed tensors were collected before the baseline (settledLiveBytes), and a
      // step allocates nothing: the count must not move at all.
      assertEquals(live0, live1, "native memory changed by " + (live1 - live0) + " bytes over 300 steps");
      // One step's activations here are ~6 MB: a per-step leak would pass 300 x that; the margin
      // covers the JVM's own heap and code cache.
      assertTrue(rss1 - rss0 < (48L << 20), "resident set grew by " + ((rss1 - rss0) >> 20) + " MiB over 300 steps");
    }
  }

  /**
   * rn_live_bytes once the garbage of earlier tests is gone: their unclosed tensors are freed by
   * the Cleaner at some later GC, which would otherwise lower the count in the middle of a
   * measurement and hide a leak of the same size.
   */
  static long settledLiveBytes() {
    long last = -1;
    for (int stable = 0, round = 0; stable < 3 && round < 50; round++) {
      System.gc();
      try {
        Thread.sleep(20);  // the Cleaner's thread runs the frees
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      long now = ResnormNative.rn_live_bytes();
      stable = now == last ? stable + 1 : 0;
      last = now;
    }
    return last;
  }

  @Test
  void closingTheNetworkAndEngineFreesEverything() {
    long before = settledLiveBytes();
    ResNetConfig config = new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {4, 8, 8}, Norm.NORMPROP2, Act.CRELU,
        Shortcut.B, 3, 5);
    long during;
    try (Engine engine = Engine.create(2);
        ResNet net = ResNet.create(engine, config, 4, 9, 9, 1);
        Sgd sgd = Sgd.paperRecipe(1e-4f);
        Tensor x = ResNetTest.randomTensor(4, 3, 9, 9);
        Tensor y = Tensor.ofInts(new int[] {0, 1, 2, 3}, 4)) {
      net.forwardBackward(x, y);
      net.step(sgd, 0.05f);
      during = ResnormNative.rn_live_bytes();
    }
    long after = ResnormNative.rn_live_bytes();
    assertTrue(during > before, "the counter sees the network's tensors");
    assertEquals(before, after, (after - before) + " bytes still allocated after close");
  }
}
