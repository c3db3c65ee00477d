package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;

/**
 * The whole network: every parameter's gradient (poisoned before backward, so every element must
 * be written) against central differences of the loss along the gradient itself, for every
 * norm, both activations and both shortcuts on a tiny CIFAR-style ResNet; training reduces the
 * loss; the same seed gives bit-identical steps.
 */
class ResNetTest extends WithEngine {
  static final int BATCH = 4;
  static final int HW = 8;
  static final int CLASSES = 5;

  static ResNetConfig tiny(Norm norm, Act act, Shortcut shortcut) {
    return new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {4, 8, 8}, norm, act, shortcut, 3, CLASSES);
  }

  static Stream<Arguments> configs() {
    List<Arguments> out = new ArrayList<>();
    for (Norm norm : Norm.values()) {
      for (Act act : new Act[] {Act.RELU, Act.CRELU}) {
        out.add(Arguments.of(norm, act, Shortcut.A));
      }
      out.add(Arguments.of(norm, Act.CRELU, Shortcut.B));
    }
    return out.stream();
  }

  /** Uniform values in [-1, 1) of the given shape (fixed seed). */
  static Tensor randomTensor(int... shape) {
    SplittableRandom rng = new SplittableRandom(5);
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return Tensor.of(v, shape);
  }

  static Tensor images(long seed) {
    return images(seed, BATCH, HW, HW);
  }

  /** Uniform values in [-1, 1) of shape [batch, 3, height, width]. */
  static Tensor images(long seed, int batch, int height, int width) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] v = new float[batch * 3 * height * width];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return Tensor.of(v, batch, 3, height, width);
  }

  static Tensor labels() {
    return labels(BATCH);
  }

  /** 0, 3, 1, 4, 2, 0, ... (every class once per CLASSES rows). */
  static Tensor labels(int batch) {
    int[] y = new int[batch];
    for (int i = 0; i < batch; i++) {
      y[i] = 3 * i % CLASSES;
    }
    return Tensor.ofInts(y, batch);
  }

  @ParameterizedTest(name = "{0} {1} shortcut {2}")
  @MethodSource("configs")
  void gradientsMatchFiniteDifferences(Norm norm, Act act, Shortcut shortcut) {
    checkGradients(tiny(norm, act, shortcut));
  }

  /**
   * Two blocks per stage: consecutive blocks hand gradients to each other through the shared
   * slabs ({@link SharedBuffers}), including identity block -> identity block.
   */
  @ParameterizedTest(name = "depth 14 {0} {1} shortcut {2}")
  @org.junit.jupiter.params.provider.CsvSource({"BATCHNORM, CRELU, A", "PLAIN, RELU, A", "NORMPROP2, CRELU, B",
      "NORMPROP, RELU, A"})
  void deeperNetworksShareBuffersCorrectly(Norm norm, Act act, Shortcut shortcut) {
    checkGradients(new ResNetConfig(ResNetConfig.Arch.CIFAR, 14, new int[] {4, 6, 8}, norm, act, shortcut, 3, CLASSES));
  }

  static void checkGradients(ResNetConfig config) {
    checkGradients(config, BATCH, HW, HW, name -> true, p -> { });
  }

  /**
   * Checks the gradient of every learned tensor whose name {@code checked} accepts (all of them
   * are computed and counted) at the parameters {@code prepare} leaves (after the perturbation
   * below); returns the names checked.
   */
  static List<String> checkGradients(ResNetConfig config, int batch, int height, int width,
      java.util.function.Predicate<String> checked, java.util.function.Consumer<Parameters> prepare) {
    List<String> done = new ArrayList<>();
    try (ResNet net = ResNet.create(engine, config, batch, height, width, 7);
        Tensor x = images(3, batch, height, width);
        Tensor y = labels(batch)) {
      // Non-trivial BatchNorm affine parameters and biases, so their gradients are exercised.
      SplittableRandom rng = new SplittableRandom(11);
      for (Map.Entry<String, Tensor> e : net.gradients().all().entrySet()) {
        String name = e.getKey();
        if (name.endsWith(".bias") || name.contains(".bn") || name.endsWith("downsample.1.weight")) {
          Tensor p = net.parameters().get(name);
          float[] v = p.toFloatArray();
          for (int i = 0; i < v.length; i++) {
            v[i] += (float) (0.2 * (rng.nextDouble() - 0.5));
          }
          p.copyFrom(v);
        }
      }
      prepare.accept(net.parameters());
      // Gradients poisoned: backward must write every element of every gradient. The directional
      // check below runs along the gradient itself, so it cannot see elements left at the zeros
      // of construction (a kernel that skips a tail or a channel block); the poison can. (A
      // random direction would, but at these sizes the float32 loss's rounding moves its
      // central differences by 10-20 %: tried, too noisy to judge.) Wrong values written into
      // part of a tensor are each op's own test's business (float64 references).
      for (Tensor g : net.gradients().all().values()) {
        g.fill(Float.NaN);
      }
      net.forwardBackward(x, y);
      Map<String, float[]> analytic = new java.util.LinkedHashMap<>();
      net.gradients().all().forEach((name, g) -> analytic.put(name, g.toFloatArray()));
      assertEquals(net.spec().params().stream().filter(ParamSpec::learned).count(), analytic.size());
      for (Map.Entry<String, float[]> e : analytic.entrySet()) {
        float[] g = e.getValue();
        for (int i = 0; i < g.length; i++) {
          int at = i;
          assertTrue(Float.isFinite(g[i]), () -> e.getKey() + "[" + at + "] not written by backward (NaN poison left)");
        }
        assertTrue(sumSquares(g) > 0, e.getKey() + ": gradient is zero");
      }
      for (Map.Entry<String, float[]> e : analytic.entrySet()) {
        if (!checked.test(e.getKey())) {
          continue;
        }
        done.add(e.getKey());
        Tensor p = net.parameters().get(e.getKey());
        float[] base = p.toFloatArray();
        float[] g = e.getValue();
        // Along the gradient itself, scaled to the parameter tensor's norm: the loss moves by
        // h * |g| * |p|, far above float32 rounding, while h = 1e-3 moves the parameters by
        // 0.1 %. A wrong gradient g' shows as <g_true, g'> != <g', g'>.
        double gNorm = Math.sqrt(sumSquares(g));
        double pNorm = Math.max(Math.sqrt(sumSquares(base)), 0.1 * Math.sqrt(base.length));
        double[] dir = new double[base.length];
        double predicted = 0;
        for (int i = 0; i < base.length; i++) {
          dir[i] = gNorm == 0 ? 0 : g[i] / gNorm * pNorm;
          predicted += dir[i] * g[i];
        }
        // 1e-3 already crosses ReLU kinks in a few tensors. A kink can still sit inside +-h (a
        // BatchNorm bias shifts every value of a channel at once), so a second, smaller step is
        // tried before failing: a wrong gradient disagrees at every step size, a kink at one.
        // Last, 1e-3 after all: in a 50-layer network the loss's own rounding noise is a few ulps
        // (~1e-6), which drowns a tensor whose derivative moves the loss by only ~1e-6 at 1e-4
        // (the stem's BatchNorm bias); the larger step lifts it out of the noise.
        String mismatch = null;
        for (double h : new double[] {1e-4, 3e-5, 1e-3}) {
          double fd = (lossAt(net, p, base, dir, h, x, y) - lossAt(net, p, base, dir, -h, x, y)) / (2 * h);
          p.copyFrom(base);
          // 5 % of the prediction, plus the float32 rounding of the loss (~5e-7) amplified by 1/2h
          if (Math.abs(fd - predicted) <= 0.05 * Math.abs(predicted) + 5e-7 / (2 * h)) {
            mismatch = null;
            break;
          }
          mismatch = (mismatch == null ? "" : mismatch + ", ") + "finite difference " + fd + " (h " + h + ")";
        }
        assertTrue(mismatch == null, e.getKey() + ": directional derivative " + predicted + " vs " + mismatch);
      }
    }
    return done;
  }

  static double sumSquares(float[] v) {
    double s = 0;
    for (float f : v) {
      s += (double) f * f;
    }
    return s;
  }

  static double lossAt(ResNet net, Tensor p, float[] base, double[] dir, double h, Tensor x, Tensor y) {
    float[] moved = new float[base.length];
    for (int i = 0; i < base.length; i++) {
      moved[i] = (float) (base[i] + h * dir[i]);
    }
    p.copyFrom(moved);
    net.forward(x, true);
    return net.loss(y);
  }

  /** Widths whose CReLU convs form the CReLU in their Winograd pack (16 channels a half). */
  static ResNetConfig creluInConvConfig() {
    return new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {16, 16, 32}, Norm.BATCHNORM, Act.CRELU, Shortcut.A,
        3, CLASSES);
  }

  /** The executor's CReLU-in-conv path (no 2C tensor stored) against finite differences. */
  @Test
  void creluFormedInTheConvHasTheRightGradients() {
    try (ResNet net = ResNet.create(engine, creluInConvConfig(), BATCH, HW, HW, 7)) {
      org.junit.jupiter.api.Assumptions.assumeFalse(engine.isCuda(), "the CUDA executor stores the 2C tensor");
      assertEquals(3, net.creluInConvCount(), "every block's conv2 forms its CReLU");
    }
    checkGradients(creluInConvConfig());
  }

  static Stream<Arguments> creluInConvNetworks() {
    return Stream.of(
        // every basic block's conv2
        Arguments.of(creluInConvConfig(), HW, 3),
        // ImageNet basic blocks: conv2 of all eight (stride 1 each)
        Arguments.of(new ResNetConfig(ResNetConfig.Arch.IMAGENET, 18, new int[] {16, 16, 16, 32}, Norm.BATCHNORM,
            Act.CRELU, Shortcut.B, 3, CLASSES), 32, 8),
        // bottlenecks: conv1's CReLU into the 3x3 conv2 where it has stride 1 (13 of 16 blocks), never
        // conv2's into the 1x1 conv3 (not Winograd: its 2C tensor stays)
        Arguments.of(new ResNetConfig(ResNetConfig.Arch.IMAGENET, 50, new int[] {16, 16, 16, 16}, Norm.BATCHNORM,
            Act.CRELU, Shortcut.B, 3, CLASSES), 32, 13),
        // no CReLU: two blocks a stage, so identity and option-A blocks (with NormProp's batch norm
        // on the subsampled identity) over blocks whose add + ReLU backward their sum runs
        Arguments.of(new ResNetConfig(ResNetConfig.Arch.CIFAR, 14, new int[] {16, 16, 32}, Norm.NORMPROP, Act.RELU,
            Shortcut.A, 3, CLASSES), HW, 0),
        Arguments.of(new ResNetConfig(ResNetConfig.Arch.CIFAR, 14, new int[] {16, 16, 32}, Norm.BATCHNORM, Act.RELU,
            Shortcut.A, 3, CLASSES), HW, 0));
  }

  /**
   * The same network with the fusions across ops (the CReLU formed in the next conv, the residual
   * addition + ReLU in the last batch norm's pass, a block's two input gradients summed in the
   * block below's add + ReLU backward) and with every op on its own: the same values in the same
   * order, so losses, logits, gradients and running statistics agree to the bit, through training
   * steps and in eval mode.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("creluInConvNetworks")
  void creluFormedInTheConvMatchesTheStoredTensor(ResNetConfig config, int hw, int formedInConv) {
    assertFusedMatchesSeparate(config, hw, formedInConv);
  }

  /**
   * Random CIFAR networks (fixed seed): widths of 16-48 channels (so CReLU convs form their input in
   * the Winograd pack), every normalization, both activations and shortcuts, inputs of 5-20
   * pixels, whose stages run on planes of 2 to 20 pixels a side: Winograd tilings of those side
   * lengths, among them 2 and 5, past whose planes the fused backward-data once wrote.
   */
  static Stream<Arguments> randomNetworks() {
    SplittableRandom rng = new SplittableRandom(2029);
    int[] widthChoices = {16, 32, 48};
    List<Arguments> out = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      int w0 = widthChoices[rng.nextInt(3)];
      int w1 = Math.max(w0, widthChoices[rng.nextInt(3)]);
      int w2 = Math.max(w1, widthChoices[rng.nextInt(3)]);
      Norm norm = new Norm[] {Norm.BATCHNORM, Norm.NORMPROP, Norm.NORMPROP2, Norm.PLAIN}[rng.nextInt(4)];
      Act act = rng.nextInt(4) == 0 ? Act.RELU : Act.CRELU;
      Shortcut shortcut = rng.nextBoolean() ? Shortcut.A : Shortcut.B;
      int depth = rng.nextBoolean() ? 8 : 14;
      int hw = 5 + rng.nextInt(16);
      out.add(Arguments.of(new ResNetConfig(ResNetConfig.Arch.CIFAR, depth, new int[] {w0, w1, w2}, norm, act,
          shortcut, 3, CLASSES), hw));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} at {1}x{1}")
  @MethodSource("randomNetworks")
  void randomNetworksMatchWithAndWithoutTheFusions(ResNetConfig config, int hw) {
    assertFusedMatchesSeparate(config, hw, -1);
  }

  /** formedInConv: the CReLU convs expected to form their input (-1: any number). */
  static void assertFusedMatchesSeparate(ResNetConfig config, int hw, int formedInConv) {
    org.junit.jupiter.api.Assumptions.assumeFalse(engine.isCuda(), "the CUDA executor stores the 2C tensor");
    try (ResNet inConv = ResNet.create(engine, config, BATCH, hw, hw, 3, true);
        ResNet stored = ResNet.create(engine, config, BATCH, hw, hw, 3, false);
        Sgd sgdA = Sgd.paperRecipe(1e-4f);
        Sgd sgdB = Sgd.paperRecipe(1e-4f);
        Tensor x = images(8, BATCH, hw, hw);
        Tensor y = labels()) {
      if (formedInConv >= 0) {
        assertEquals(formedInConv, inConv.creluInConvCount());
      }
      assertEquals(0, stored.creluInConvCount());
      for (int step = 0; step < 3; step++) {
        assertEquals(stored.forwardBackward(x, y), inConv.forwardBackward(x, y), "loss at step " + step);
        Map<String, Tensor> want = stored.gradients().all();
        for (Map.Entry<String, Tensor> g : inConv.gradients().all().entrySet()) {
          assertArrayEquals(want.get(g.getKey()).toFloatArray(), g.getValue().toFloatArray(),
              g.getKey() + " at step " + step);
        }
        inConv.step(sgdA, 0.1f);
        stored.step(sgdB, 0.1f);
      }
      Map<String, Tensor> want = stored.parameters().all();
      inConv.parameters().all().forEach((name, p) ->
          assertArrayEquals(want.get(name).toFloatArray(), p.toFloatArray(), name + " (running statistics included)"));
      assertArrayEquals(stored.forward(x, false).toFloatArray(), inConv.forward(x, false).toFloatArray(),
          "eval-mode logits");
    }
  }

  @Test
  void trainingOverfitsOneBatch() {
    try (ResNet net = ResNet.create(engine, tiny(Norm.BATCHNORM, Act.CRELU, Shortcut.A), BATCH, HW, HW, 1);
        Sgd sgd = Sgd.paperRecipe(1e-4f);
        Tensor x = images(5);
        Tensor y = labels()) {
      float first = net.forwardBackward(x, y);
      float last = first;
      for (int step = 0; step < 40; step++) {
        net.step(sgd, 0.05f);
        last = net.forwardBackward(x, y);
      }
      assertTrue(last < 0.3f * first, "loss " + first + " -> " + last);
      // The batch it overfits is classified: every row's label has the largest logit (train
      // mode, the statistics it trained with), and top-k counts grow with k up to everything.
      net.forward(x, true);
      assertEquals(BATCH, net.correct(y, 1), "top-1 on the overfitted batch, loss " + last);
      long[] correct = net.evaluate(x, y, 1, 2, 5);
      assertTrue(correct[0] <= correct[1] && correct[1] <= correct[2], java.util.Arrays.toString(correct));
      assertEquals(BATCH, correct[2], "top-5 of 5 classes is everything");
    }
  }

  @Test
  void sameSeedSameSteps() {
    float[][] losses = new float[2][];
    for (int run = 0; run < 2; run++) {
      try (ResNet net = ResNet.create(engine, tiny(Norm.BATCHNORM, Act.RELU, Shortcut.A), BATCH, HW, HW, 9);
          Sgd sgd = Sgd.paperRecipe(1e-4f);
          Tensor x = images(6);
          Tensor y = labels()) {
        losses[run] = new float[3];
        for (int step = 0; step < 3; step++) {
          losses[run][step] = net.forwardBackward(x, y);
          net.step(sgd, 0.1f);
        }
      }
    }
    assertArrayEquals(losses[0], losses[1], "bitwise identical losses");
  }

  @Test
  void rejectsWhatItCannotRun() {
    assertThrows(IllegalArgumentException.class,
        () -> ResNet.create(engine, tiny(Norm.BATCHNORM, Act.RELU, Shortcut.A), 1, HW, HW, 1));
    try (ResNet net = ResNet.create(engine, tiny(Norm.PLAIN, Act.RELU, Shortcut.A), BATCH, HW, HW, 1);
        Tensor wrong = Tensor.zeros(BATCH, 3, HW + 1, HW);
        Tensor y = labels()) {
      assertThrows(IllegalArgumentException.class, () -> net.forwardBackward(wrong, y));
    }
  }
}
