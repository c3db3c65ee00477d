package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;
import org.resnorm.data.Dataset;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;

/**
 * The analysis of a whole network: equal to the quantities computed independently from one
 * forward pass over all the images (so batching and the padded last batch change nothing), zero
 * delta for blocks whose residual branch is switched off, and the conv inventory.
 */
class AnalyzerTest extends WithEngine {
  static final int HW = 9;

  static ResNetConfig config(Norm norm, Act act, Shortcut shortcut) {
    return new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {4, 6, 8}, norm, act, shortcut, 3, 5);
  }

  static Dataset randomData(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n * 3 * HW * HW];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextDouble() * 2 - 1);
    }
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(5);
    }
    return new Dataset("random", x, y, 3, HW, HW, 5, null, 0);
  }

  /** Delta straight from the formula, reading x_l' through explicit option-A indexing. */
  static double referenceDelta(float[] in, int[] is, float[] out, int[] os, int stride) {
    double total = 0;
    for (int n = 0; n < os[0]; n++) {
      double img = 0;
      for (int i = 0; i < os[2]; i++) {
        for (int j = 0; j < os[3]; j++) {
          double sq = 0;
          for (int c = 0; c < os[1]; c++) {
            double ref = c < is[1] ? in[((n * is[1] + c) * is[2] + i * stride) * is[3] + j * stride] : 0;
            double d = out[((n * os[1] + c) * os[2] + i) * os[3] + j] - ref;
            sq += d * d;
          }
          img += Math.sqrt(sq);
        }
      }
      total += img / (os[2] * os[3]);
    }
    return total / os[0];
  }

  @Test
  void matchesOneForwardPassOverAllImages() {
    for (ResNetConfig c : new ResNetConfig[] {config(Norm.BATCHNORM, Act.CRELU, Shortcut.A),
        config(Norm.NORMPROP2, Act.RELU, Shortcut.B), config(Norm.PLAIN, Act.RELU, Shortcut.A)}) {
      Dataset data = randomData(9, 1);
      Analysis a;
      try (ResNet net = ResNet.create(engine, c, 4, HW, HW, 3)) {
        a = Analyzer.analyze("x", net, data, 7);  // batches of 4 + 3 (padded)
      }
      try (ResNet net = ResNet.create(engine, c, 7, HW, HW, 3);
          Tensor x = Tensor.of(java.util.Arrays.copyOf(data.images(), 7 * 3 * HW * HW), 7, 3, HW, HW)) {
        net.forward(x, false);
        assertEquals(7, a.images());
        assertEquals(3, a.blocks().size());
        for (int b = 0; b < 3; b++) {
          Tensor in = net.blockInput(b);
          Tensor out = net.blockOutput(b);
          double ref = referenceDelta(in.toFloatArray(), in.shape(), out.toFloatArray(), out.shape(),
              net.spec().blocks().get(b).stride());
          Analysis.BlockDelta got = a.blocks().get(b);
          assertEquals(ref, got.delta(), 1e-5 * ref, c + " block " + b);
          assertTrue(ref > 0);
          assertEquals(net.spec().blocks().get(b).prefix(), got.name());
          assertArrayEquals(java.util.Arrays.copyOfRange(out.shape(), 1, 4), got.outShape());
          assertEquals(b > 0, got.reshapes(), "blocks 1 and 2 start stages 2 and 3");
        }
        float[] last = net.blockOutput(2).toFloatArray();
        double sum = 0;
        int nz = 0;
        for (float v : last) {
          sum += v;
          nz += v != 0 ? 1 : 0;
        }
        double mean = sum / last.length;
        double ss = 0;
        for (float v : last) {
          ss += (v - mean) * (v - mean);
        }
        assertEquals(last.length, a.lastActivation().entries());
        assertEquals(mean, a.lastActivation().mean(), 1e-5 * mean);
        assertEquals(Math.sqrt(ss / last.length), a.lastActivation().std(), 1e-5 * mean);
        assertEquals((double) nz / last.length, a.lastActivation().nzr(), 1.5 / last.length);
        assertTrue(a.lastActivation().nzr() > 0 && a.lastActivation().nzr() < 1);

        List<Analysis.ConvCoherence> convs = a.convs();
        assertEquals(c.shortcut() == Shortcut.B ? 9 : 7, convs.size(), "stem + 2 per block (+ 2 projections)");
        assertEquals("conv1", convs.get(0).name());
        for (Analysis.ConvCoherence cc : convs) {
          String tensor = cc.name() + (c.norm().weightNormalized() ? ".weight_v" : ".weight");
          assertEquals(tensor, cc.tensor());
          Tensor w = net.parameters().get(tensor);
          assertEquals(w.dim(0), cc.filters());
          assertEquals(w.numel() / w.dim(0), cc.fanIn());
          assertEquals(Coherence.mu(w.toFloatArray(), w.shape()), cc.mu(), 0);
          assertTrue(cc.mu() > 0 && cc.mu() <= 1, cc.toString());
        }
        if (c.act() == Act.CRELU) {
          assertEquals(2 * 4 * 9, convs.get(2).fanIn(), "CReLU doubles conv2's input channels");
        }
      }
    }
  }

  @Test
  void blocksWithoutResidualHaveDeltaZeroEvenWhereTheyReshape() {
    // gamma = beta = 0 in each block's last BatchNorm: F(x) = 0, so x_{l+1} = relu(shortcut(x_l))
    // = shortcut(x_l) (x_l >= 0 after a ReLU); the network's own shortcut A agrees with Delta's map
    try (ResNet net = ResNet.create(engine, config(Norm.BATCHNORM, Act.RELU, Shortcut.A), 3, HW, HW, 4)) {
      for (var b : net.spec().blocks()) {
        net.parameters().get(b.prefix() + ".bn2.weight").fill(0f);
        net.parameters().get(b.prefix() + ".bn2.bias").fill(0f);
      }
      Analysis a = Analyzer.analyze("identity", net, randomData(5, 2), 100);
      assertEquals(5, a.images(), "all 5 when asked for more");
      for (Analysis.BlockDelta d : a.blocks()) {
        assertEquals(0, d.delta(), 1e-6, d.name());
      }
    }
  }

  @Test
  void rejectsMismatchedImagesAndBadSampleCounts() {
    try (ResNet net = ResNet.create(engine, config(Norm.BATCHNORM, Act.RELU, Shortcut.A), 2, 8, 8, 4)) {
      assertThrows(IllegalArgumentException.class, () -> Analyzer.analyze("x", net, randomData(3, 1), 3));
    }
    try (ResNet net = ResNet.create(engine, config(Norm.BATCHNORM, Act.RELU, Shortcut.A), 2, HW, HW, 4)) {
      assertThrows(IllegalArgumentException.class, () -> Analyzer.analyze("x", net, randomData(3, 1), 0));
    }
  }
}
