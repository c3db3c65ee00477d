package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Act;
import org.resnorm.ops.NormReference;
import org.resnorm.ops.PoolingReference;
import org.resnorm.ops.Reference;

/**
 * The ImageNet networks (7x7/2 stem, 3x3/2 max pool, basic blocks for ResNet-18/34, bottlenecks
 * for ResNet-50 and deeper) at tiny widths: gradients of whole networks against finite
 * differences (through the max pool, every block type and both shortcuts), the output shape at
 * 224x224, eval against training mode, the shared slabs' size, FLOP counts and input checks.
 */
class ResNetImageNetTest extends WithEngine {
  /** Stage widths small enough that even ResNet-50 (bottleneck outputs 16..32 channels) is quick. */
  static final int[] TINY = {4, 4, 8, 8};

  static ResNetConfig imagenet(int depth, Norm norm, Act act, Shortcut shortcut) {
    return new ResNetConfig(ResNetConfig.Arch.IMAGENET, depth, TINY, norm, act, shortcut, 3, ResNetTest.CLASSES);
  }

  /**
   * ResNet-18: two basic blocks per stage (identity block -> identity block in every stage, a
   * projection at the start of stages 2-4). 32 x 27 (non-square, odd) runs 16 x 14 through the
   * stem, 8 x 7 through the max pool, then 4 x 4, 2 x 2 and 1 x 1.
   */
  @ParameterizedTest(name = "ResNet-18 {0} {1} shortcut {2}")
  @CsvSource({"BATCHNORM, RELU, B", "BATCHNORM, CRELU, B", "NORMPROP2, CRELU, B", "PLAIN, RELU, B",
      "NORMPROP, CRELU, A"})
  void basicNetworkGradientsMatchFiniteDifferences(Norm norm, Act act, Shortcut shortcut) {
    ResNetTest.checkGradients(imagenet(18, norm, act, shortcut), 4, 32, 27, name -> true, damp(".bn2.weight"));
  }

  /**
   * ResNet-50: {3, 4, 6, 3} bottlenecks; layer1.0 -> layer1.1 -> layer1.2 is projection ->
   * identity -> identity. Every tensor is checked (about 160; the tiny widths keep each
   * finite-difference forward pass at about a millisecond). Shortcut A runs layer1.0's zero
   * channels (4 -> 16 at stride 1) and NormProp's identity BatchNorm where the stride is 2. The
   * norms left out here differ from these only inside a conv unit, which the CIFAR test covers.
   */
  @ParameterizedTest(name = "ResNet-50 {0} {1} shortcut {2}")
  @CsvSource({"BATCHNORM, RELU, B", "BATCHNORM, CRELU, B", "NORMPROP2, CRELU, B", "PLAIN, RELU, B",
      "NORMPROP, RELU, A"})
  void bottleneckNetworkGradientsMatchFiniteDifferences(Norm norm, Act act, Shortcut shortcut) {
    List<String> checked = ResNetTest.checkGradients(imagenet(50, norm, act, shortcut), 4, 32, 27, name -> true,
        damp(".bn3.weight"));
    for (String required : new String[] {"conv1.", "layer1.0.conv1.", "layer1.0.conv2.", "layer1.0.conv3.",
        "layer2.1.conv3.", "layer4.2.conv2.", "fc.weight"}) {
      assertTrue(checked.stream().anyMatch(n -> n.startsWith(required)), required + " among " + checked);
    }
    if (shortcut == Shortcut.B) {
      assertTrue(checked.stream().anyMatch(n -> n.startsWith("layer2.0.downsample.0.")), checked.toString());
    }
  }

  /**
   * Scales the gamma of every block's last BatchNorm by 0.2 (as zero-init-residual schemes do, but
   * not to zero: the branch's gradients must still be exercised). A narrow, deep BatchNorm network
   * at initialization in training mode is badly conditioned: gradients grow going down (with 4
   * channels, 4 to 16 samples per channel at the last stages), ResNet-50's stem weight has a
   * directional derivative in the thousands and the loss is so curved that central differences
   * only approach it as h shrinks into float32 noise (2e3 at h = 1e-4 against 4.5e3). Damped
   * residual branches keep every block near the identity and the loss smooth at h = 1e-4.
   */
  static java.util.function.Consumer<Parameters> damp(String lastNormGamma) {
    return params -> params.all().forEach((name, t) -> {
      if (name.endsWith(lastNormGamma)) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
          v[i] *= 0.2f;
        }
        t.copyFrom(v);
      }
    });
  }

  /** [N, classes] at 224 x 224, the stem and every stage at torchvision's spatial sizes (FLOPs). */
  @ParameterizedTest(name = "ResNet-{0} {1} {2} batch {3}")
  @CsvSource({"18, BATCHNORM, CRELU, 2", "50, PLAIN, RELU, 1", "50, BATCHNORM, CRELU, 2"})
  void imagenetSizedInputGivesLogits(int depth, Norm norm, Act act, int batch) {
    ResNetConfig config = imagenet(depth, norm, act, Shortcut.B);
    try (ResNet net = ResNet.create(engine, config, batch, 224, 224, 1);
        Tensor x = ResNetTest.images(2, batch, 224, 224);
        Tensor y = ResNetTest.labels(batch)) {
      Tensor logits = net.forward(x, true);
      assertArrayEquals(new int[] {batch, ResNetTest.CLASSES}, logits.shape());
      for (float v : logits.toFloatArray()) {
        assertTrue(Float.isFinite(v), "logit " + v);
      }
      if (norm == Norm.BATCHNORM) {
        float loss = net.forwardBackward(x, y);
        assertTrue(Float.isFinite(loss) && loss > 0, "loss " + loss);
      }
      assertEquals(expectedForwardFlops(net.spec(), batch), net.forwardConvFlops());
      assertEquals(3 * net.forwardConvFlops() - stemFlops(net.spec(), batch),
          net.trainingConvFlops(), "no backward-data for the stem");
    }
  }

  /**
   * 2 x multiply-adds of every conv at 224 x 224 from torchvision's sizes, not from the
   * executor's arithmetic: the stem at 112, stage s at 56 / 28 / 14 / 7, except a bottleneck's
   * first conv in the first block of stages 2-4, which runs before the stride (in the 3x3 conv,
   * ResNet v1.5) at the previous stage's size.
   */
  static long expectedForwardFlops(ResNetSpec spec, int batch) {
    int[] stageSize = {56, 28, 14, 7};
    long macs = 0;
    for (ResNetSpec.BlockSpec b : spec.blocks()) {
      int stage = b.prefix().charAt("layer".length()) - '1';
      for (ResNetSpec.ConvSpec c : b.convs()) {
        int size = stageSize[stage];
        if (b.bottleneck() && stage > 0 && c.name().endsWith(".0.conv1")) {
          size = stageSize[stage - 1];
        }
        macs += (long) c.inChannels() * c.outChannels() * c.kernel() * c.kernel() * size * size;
      }
    }
    return stemFlops(spec, batch) + 2L * batch * macs;
  }

  static long stemFlops(ResNetSpec spec, int batch) {
    ResNetSpec.ConvSpec s = spec.stem();
    assertEquals(7, s.kernel());
    return 2L * batch * s.inChannels() * s.outChannels() * 49 * 112 * 112;
  }

  /**
   * The executor's logits against the paper's network written out directly in float64 from the
   * op references (its own walk over stages and blocks, torchvision's names): the 7x7/2 stem,
   * N, ReLU and 3x3/2 max pool; act after conv1 of a basic block and after conv1 and conv2 of a
   * bottleneck, the stride in the bottleneck's 3x3 conv; projection where the shape changes;
   * ReLU after the addition. A misplaced activation or stride changes the logits, which the
   * gradient checks alone would not notice.
   */
  @ParameterizedTest(name = "ResNet-{0} {1} {2}")
  @CsvSource({"18, PLAIN, RELU", "18, BATCHNORM, CRELU", "50, PLAIN, CRELU", "50, BATCHNORM, RELU",
      "50, BATCHNORM, CRELU"})
  void forwardMatchesThePaperWrittenOut(int depth, Norm norm, Act act) {
    int n = 2;
    int h = 23;
    int w = 18;
    try (ResNet net = ResNet.create(engine, imagenet(depth, norm, act, Shortcut.B), n, h, w, 5);
        Tensor x = ResNetTest.images(8, n, h, w)) {
      damp(depth >= 50 ? ".bn3.weight" : ".bn2.weight").accept(net.parameters());
      float[] logits = net.forward(x, true).toFloatArray();
      double[] expected = new PaperNet(net.parameters(), norm, act, true).logits(depth, toDoubles(x.toFloatArray()),
          n, h, w);
      assertEquals(expected.length, logits.length);
      for (int i = 0; i < logits.length; i++) {
        assertEquals(expected[i], logits[i], 1e-3 * (1 + Math.abs(expected[i])), "logit " + i);
      }
    }
  }

  /**
   * Eval mode against the same written-out network with each batch norm normalizing by its running
   * statistics (here moved off their 0 / 1 start by two training passes): the executor folds each
   * inference batch norm into the conv before it as a per-channel scale and shift.
   */
  @ParameterizedTest(name = "ResNet-{0} {1}")
  @CsvSource({"18, CRELU", "50, RELU", "50, CRELU"})
  void evalForwardMatchesThePaperWrittenOut(int depth, Act act) {
    int n = 2;
    int h = 23;
    int w = 18;
    try (ResNet net = ResNet.create(engine, imagenet(depth, Norm.BATCHNORM, act, Shortcut.B), n, h, w, 5);
        Tensor x = ResNetTest.images(8, n, h, w);
        Tensor x2 = ResNetTest.images(9, n, h, w)) {
      damp(depth >= 50 ? ".bn3.weight" : ".bn2.weight").accept(net.parameters());
      net.forward(x2, true);
      net.forward(x, true);
      float[] logits = net.forward(x, false).toFloatArray();
      double[] expected = new PaperNet(net.parameters(), Norm.BATCHNORM, act, false).logits(depth,
          toDoubles(x.toFloatArray()), n, h, w);
      assertEquals(expected.length, logits.length);
      for (int i = 0; i < logits.length; i++) {
        assertEquals(expected[i], logits[i], 1e-3 * (1 + Math.abs(expected[i])), "logit " + i);
      }
    }
  }

  static double[] toDoubles(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }

  /** The ImageNet ResNet forward pass, plain or BatchNorm (batch or running statistics), from the references. */
  private record PaperNet(Parameters p, Norm norm, Act act, boolean training) {
    /** An activation [c, h, w] per image, n images. */
    private record Planes(double[] v, int n, int c, int h, int w) {}

    double[] logits(int depth, double[] image, int n, int h, int w) {
      Planes x = new Planes(image, n, 3, h, w);
      x = unit("conv1", "bn1", x, 7, 2, 3, Act.RELU);
      PoolingReference.PoolShape pool = new PoolingReference.PoolShape(x.n, x.c, x.h, x.w, 3, 2, 1);
      x = new Planes(PoolingReference.maxPool2dForward(pool, x.v), x.n, x.c, pool.p(), pool.q());
      int[] blocks = depth == 18 ? new int[] {2, 2, 2, 2} : new int[] {3, 4, 6, 3};
      for (int s = 0; s < 4; s++) {
        for (int b = 0; b < blocks[s]; b++) {
          String pre = "layer" + (s + 1) + "." + b;
          int stride = s > 0 && b == 0 ? 2 : 1;
          Planes y;
          if (depth == 18) {
            y = unit(pre + ".conv1", pre + ".bn1", x, 3, stride, 1, act);
            y = unit(pre + ".conv2", pre + ".bn2", y, 3, 1, 1, Act.NONE);
          } else {
            y = unit(pre + ".conv1", pre + ".bn1", x, 1, 1, 0, act);
            y = unit(pre + ".conv2", pre + ".bn2", y, 3, stride, 1, act);
            y = unit(pre + ".conv3", pre + ".bn3", y, 1, 1, 0, Act.NONE);
          }
          Planes skip = stride != 1 || y.c != x.c
              ? unit(pre + ".downsample.0", pre + ".downsample.1", x, 1, stride, 0, Act.NONE) : x;
          double[] sum = new double[y.v.length];
          for (int i = 0; i < sum.length; i++) {
            sum[i] = Math.max(y.v[i] + skip.v[i], 0);
          }
          x = new Planes(sum, y.n, y.c, y.h, y.w);
        }
      }
      double[] pooled = PoolingReference.globalAvgPoolForward(x.n, x.c, x.h * x.w, x.v);
      int classes = p.get("fc.bias").dim(0);
      return Reference.linearForward(x.n, x.c, classes, pooled, get("fc.weight"), get("fc.bias"));
    }

    /** conv (k x k, stride, pad) -> N -> act, the weight's input channels checked against x's. */
    Planes unit(String conv, String bn, Planes x, int k, int stride, int pad, Act a) {
      int[] ws = p.get(conv + ".weight").shape();
      assertArrayEquals(new int[] {ws[0], x.c, k, k}, ws, conv + " weight");
      Reference.ConvShape g = new Reference.ConvShape(x.n, x.c, x.h, x.w, ws[0], k,
          k, stride, pad);
      double[] y = Reference.conv2dForward(g, x.v, get(conv + ".weight"),
          norm == Norm.PLAIN ? get(conv + ".bias") : null);
      int hw = g.p() * g.q();
      double[] out;
      if (norm != Norm.BATCHNORM) {
        out = NormReference.activate(x.n, ws[0], hw, a, y);
      } else if (training) {
        out = NormReference.batchNormTraining(x.n, ws[0], hw, a, 1e-5, y, get(bn + ".weight"), get(bn + ".bias")).y();
      } else {
        out = NormReference.batchNormInference(x.n, ws[0], hw, a, 1e-5, y, get(bn + ".weight"), get(bn + ".bias"),
            get(bn + ".running_mean"), get(bn + ".running_var")).y();
      }
      return new Planes(out, x.n, a.outputChannels(ws[0]), g.p(), g.q());
    }

    double[] get(String name) {
      return toDoubles(p.get(name).toFloatArray());
    }
  }

  /**
   * Without batch statistics (NormProp family, plain), evaluation runs exactly the training
   * forward pass; with BatchNorm it uses the running statistics and leaves them alone.
   */
  @ParameterizedTest(name = "ResNet-{0} {1} {2}")
  @CsvSource({"18, PLAIN, RELU", "50, NORMPROP2, CRELU", "50, NORMPROP, RELU", "18, BATCHNORM, CRELU",
      "50, BATCHNORM, RELU"})
  void evalModeRunsTheTrainingForwardPass(int depth, Norm norm, Act act) {
    try (ResNet net = ResNet.create(engine, imagenet(depth, norm, act, Shortcut.B), 2, 29, 29, 3);
        Tensor x = ResNetTest.images(4, 2, 29, 29)) {
      float[] train = net.forward(x, true).toFloatArray();
      Map<String, float[]> before = snapshot(net.parameters());
      float[] eval = net.forward(x, false).toFloatArray();
      float[] eval2 = net.forward(x, false).toFloatArray();
      assertArrayEquals(eval, eval2, "eval mode is deterministic");
      Map<String, float[]> after = snapshot(net.parameters());
      for (String name : before.keySet()) {
        assertArrayEquals(before.get(name), after.get(name), name + " changed in eval mode");
      }
      if (norm == Norm.BATCHNORM) {
        assertTrue(!java.util.Arrays.equals(train, eval), "eval uses the running statistics");
      } else {
        assertArrayEquals(train, eval, "no batch statistics: the same pass");
      }
    }
  }

  static Map<String, float[]> snapshot(Parameters p) {
    Map<String, float[]> m = new java.util.LinkedHashMap<>();
    p.all().forEach((name, t) -> m.put(name, t.toFloatArray()));
    return m;
  }

  /**
   * The slabs hold the largest transient tensor exactly. ResNet-50 widths {2, 8, 8, 8} at
   * 32 x 32: the stem gives 2 x 16 x 16 = 512, the max pool 2 x 8 x 8; layer1's conv3 and
   * projection 8 x 8 x 8 = 512; layer2.0's conv1 runs before the stride, 8 x 8 x 8 = 512, and
   * CReLU doubles it to 1024. (The 3 x 32 x 32 input is larger still but needs no slab.)
   */
  @Test
  void slabsCoverTheLargestActivation() {
    ResNetConfig relu = new ResNetConfig(ResNetConfig.Arch.IMAGENET, 50, new int[] {2, 8, 8, 8}, Norm.PLAIN, Act.RELU,
        Shortcut.B, 3, ResNetTest.CLASSES);
    ResNetConfig crelu = new ResNetConfig(ResNetConfig.Arch.IMAGENET, 50, new int[] {2, 8, 8, 8}, Norm.PLAIN,
        Act.CRELU, Shortcut.B, 3, ResNetTest.CLASSES);
    assertEquals(512, ResNet.largestActivation(ResNetSpec.of(relu), new int[] {1, 3, 32, 32}));
    assertEquals(3 * 1024, ResNet.largestActivation(ResNetSpec.of(crelu), new int[] {3, 3, 32, 32}));
    // ResNet-18 {8, 2, 2, 2}: the stem's 8 x 16 x 16 = 2048 (ReLU: not doubled); the max pool's 512
    ResNetConfig stemBound = new ResNetConfig(ResNetConfig.Arch.IMAGENET, 18, new int[] {8, 2, 2, 2}, Norm.PLAIN,
        Act.CRELU, Shortcut.B, 3, ResNetTest.CLASSES);
    assertEquals(2048, ResNet.largestActivation(ResNetSpec.of(stemBound), new int[] {1, 3, 32, 32}));
    // building the networks takes a view for every transient tensor: each fits
    for (ResNetConfig c : new ResNetConfig[] {relu, crelu, stemBound}) {
      try (ResNet net = ResNet.create(engine, c, 2, 32, 32, 1)) {
        assertEquals(2, net.inputShape()[0]);
      }
    }
  }

  /** ResNet-34, -101 and -152 run on the same blocks: one finite training step each, at tiny widths. */
  @ParameterizedTest(name = "ResNet-{0}")
  @org.junit.jupiter.params.provider.ValueSource(ints = {18, 34, 50, 101, 152})
  void everyDepthTakesAStep(int depth) {
    try (ResNet net = ResNet.create(engine, imagenet(depth, Norm.BATCHNORM, Act.CRELU, Shortcut.B), 2, 16, 16, 1);
        org.resnorm.ops.Sgd sgd = org.resnorm.ops.Sgd.paperRecipe(1e-4f);
        Tensor x = ResNetTest.images(3, 2, 16, 16);
        Tensor y = ResNetTest.labels(2)) {
      int[] stages = ResNetConfig.imagenetStages(depth);
      assertEquals(java.util.Arrays.stream(stages).sum(), net.spec().blocks().size());
      float first = net.forwardBackward(x, y);
      net.step(sgd, 0.01f);
      float second = net.forwardBackward(x, y);
      assertTrue(Float.isFinite(first) && Float.isFinite(second), first + " -> " + second);
      assertTrue(first != second, "the step changed the loss");
    }
  }

  /** Every positive size survives the downsampling (a side of 1 stays 1); 0 is refused by name. */
  @Test
  void inputSizeChecks() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ResNet.create(engine, imagenet(50, Norm.BATCHNORM, Act.RELU, Shortcut.B), 2, 0, 32, 1));
    assertTrue(e.getMessage().contains("0x32"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> ResNet.create(engine, imagenet(18, Norm.BATCHNORM, Act.RELU, Shortcut.B), 2, 32, -1, 1));
    assertThrows(IllegalArgumentException.class,
        () -> ResNet.create(engine, imagenet(18, Norm.BATCHNORM, Act.RELU, Shortcut.B), 1, 32, 32, 1),
        "training batch norm needs 2 rows");
    try (ResNet net = ResNet.create(engine, imagenet(50, Norm.NORMPROP2, Act.CRELU, Shortcut.B), 2, 1, 1, 1);
        Tensor x = ResNetTest.images(1, 2, 1, 1);
        Tensor y = ResNetTest.labels(2);
        Tensor wrong = Tensor.zeros(2, 3, 2, 1)) {
      float loss = net.forwardBackward(x, y);
      assertTrue(Float.isFinite(loss), "1 x 1 input, loss " + loss);
      assertThrows(IllegalArgumentException.class, () -> net.forward(wrong, true), "built for 1 x 1");
    }
  }

  /** The max pool is timed with pooling, linear and loss: twice in forward, twice in backward. */
  @Test
  void profileBooksTheMaxPool() {
    try (ResNet net = ResNet.create(engine, imagenet(50, Norm.BATCHNORM, Act.CRELU, Shortcut.B), 2, 16, 16, 1);
        Tensor x = ResNetTest.images(1, 2, 16, 16);
        Tensor y = ResNetTest.labels(2)) {
      StepProfile p = new StepProfile();
      net.profile(p);
      net.forwardBackward(x, y);
      assertEquals(4, p.calls(StepProfile.Op.POOL_FC_LOSS));
      assertEquals(1 + 16 * 3 + 4, p.calls(StepProfile.Op.CONV_FORWARD), "stem, 16 bottlenecks, 4 projections");
      assertEquals(16 * 3 + 4, p.calls(StepProfile.Op.CONV_BACKWARD_DATA), "not the stem");
    }
  }

  /** A profile with a barrier (a CUDA engine's synchronize) runs it around every timed op. */
  @Test
  void profileBarrierRunsAroundEveryTimedOp() {
    try (ResNet net = ResNet.create(engine, imagenet(18, Norm.BATCHNORM, Act.RELU, Shortcut.B), 2, 16, 16, 1);
        Tensor x = ResNetTest.images(1, 2, 16, 16);
        Tensor y = ResNetTest.labels(2)) {
      long[] barriers = {0};
      StepProfile p = new StepProfile(() -> barriers[0]++);
      net.profile(p);
      net.forwardBackward(x, y);
      net.profile(null);
      long calls = 0;
      for (StepProfile.Op op : p.seconds().keySet()) {
        calls += p.calls(op);
      }
      assertTrue(calls > 20, "calls " + calls);
      assertTrue(barriers[0] >= 2 * calls, barriers[0] + " barriers for " + calls + " timed calls");
    }
  }
}
