package org.resnorm.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.core.CudaGraph;
import org.resnorm.core.CudaSupport;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;

/**
 * The Java executor on a CUDA engine against the same network on the CPU engine: built from
 * the same seed and fed the same batches, every normalization and activation, CIFAR and
 * ImageNet layouts, shortcut A and B; after three training steps the losses, every parameter,
 * the BN running statistics and the momentum buffers must agree (float32 on both sides, other
 * summation orders), and so must evaluation. Also device tensors themselves: placement, copies
 * both ways, strided views, and the refusal to hand a host tensor to a CUDA kernel.
 *
 * <p>Runs wherever CUDA is usable: a GPU, or the host emulation of the CUDA library loaded in
 * this JVM ({@code -Dresnorm.cuda.emulated}, as .ci/run does); skipped otherwise.
 */
class CudaResNetTest {
  private static Engine cpu;
  private static Engine gpu;

  @BeforeAll
  static void open() {
    assumeTrue(CudaSupport.status().usable(), "no usable CUDA: " + CudaSupport.status().message());
    cpu = Engine.create(2);
    gpu = Engine.cuda(0);
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      gpu.close();
      cpu.close();
    }
  }

  private static double relError(float[] got, float[] want) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < want.length; i++) {
      double d = (double) got[i] - want[i];
      num += d * d;
      den += (double) want[i] * want[i];
    }
    return num == num ? Math.sqrt(num / Math.max(den, 1e-30)) : Double.POSITIVE_INFINITY;
  }

  private static void sameTensors(String what, Parameters want, Parameters got, double tol) {
    assertEquals(want.all().keySet(), got.all().keySet(), what);
    for (Map.Entry<String, Tensor> e : want.all().entrySet()) {
      Tensor g = got.get(e.getKey());
      assertTrue(g.isOnDevice(), what + " " + e.getKey() + " should live on the device");
      double err = relError(g.toFloatArray(), e.getValue().toFloatArray());
      assertTrue(err < tol, what + " " + e.getKey() + ": relative error " + err);
    }
  }

  /**
   * steps: training steps compared; tol: relative error allowed for the losses, gradients and
   * parameters. 1e-5 over three steps where the networks are well conditioned. The ImageNet
   * ResNet-18 with BN at these tiny sizes normalizes its deep stages over 8 values per channel:
   * there the two engines' float32 rounding (1e-7 at the stem) grows to ~6e-5 in some small BN
   * weight gradients after one step, and far more after several updates (measured; the PLAIN
   * ResNet-50 stays at 2e-7 over three steps), so it is compared after one step.
   */
  /**
   * All of a set's tensors as one vector: gradients are compared as a whole (relative to the
   * whole gradient's norm), since some (BN weights, NormProp's g) are sums that cancel to nearly
   * zero, where a per-tensor relative error measures only the cancellation.
   */
  private static void sameAsWhole(String what, Parameters want, Parameters got, double tol) {
    assertEquals(want.all().keySet(), got.all().keySet(), what);
    double num = 0;
    double den = 0;
    for (Map.Entry<String, Tensor> e : want.all().entrySet()) {
      float[] w = e.getValue().toFloatArray();
      float[] g = got.get(e.getKey()).toFloatArray();
      for (int i = 0; i < w.length; i++) {
        double d = (double) g[i] - w[i];
        num += d * d;
        den += (double) w[i] * w[i];
      }
    }
    double err = num == num ? Math.sqrt(num / Math.max(den, 1e-30)) : Double.POSITIVE_INFINITY;
    assertTrue(err < tol, what + ": relative error " + err);
  }

  @ParameterizedTest(name = "{0} {1} {2} {3} shortcut {4}")
  @CsvSource({
      "CIFAR, 8, BATCHNORM, CRELU, A, 3, 1e-5",
      "CIFAR, 8, BATCHNORM, RELU, B, 3, 1e-5",
      "CIFAR, 8, NORMPROP2, CRELU, A, 3, 1e-5",
      "CIFAR, 8, NORMPROP, RELU, A, 3, 1e-5",
      "CIFAR, 8, PLAIN, CRELU, A, 3, 1e-5",
      "IMAGENET, 18, BATCHNORM, CRELU, B, 1, 2e-4",
      "IMAGENET, 50, PLAIN, CRELU, B, 3, 1e-5"})
  void trainingStepsMatchTheCpu(ResNetConfig.Arch arch, int depth, Norm norm, Act act, Shortcut shortcut, int steps,
      double tol) {
    boolean imagenet = arch == ResNetConfig.Arch.IMAGENET;
    int[] widths = imagenet ? new int[] {2, 4, 4, 4} : new int[] {4, 8, 8};
    ResNetConfig config = new ResNetConfig(arch, depth, widths, norm, act, shortcut, 3, 5);
    // ImageNet: large enough that the last stage's batch norms see more than a handful of values
    // (with 3 values per channel they amplify float32 rounding beyond any fixed tolerance)
    int batch = imagenet ? 4 : 3;
    int h = imagenet ? 33 : 9;
    int w = imagenet ? 29 : 9;
    SplittableRandom rng = new SplittableRandom(5);
    try (ResNet want = ResNet.create(cpu, config, batch, h, w, 11);
        ResNet got = ResNet.create(gpu, config, batch, h, w, 11);
        Sgd sgd = Sgd.paperRecipe(1e-4f)) {
      for (int step = 0; step < steps; step++) {
        float[] images = new float[batch * 3 * h * w];
        for (int i = 0; i < images.length; i++) {
          images[i] = (float) rng.nextGaussian();
        }
        int[] labels = new int[batch];
        for (int i = 0; i < batch; i++) {
          labels[i] = rng.nextInt(5);
        }
        try (Tensor x = Tensor.of(images, batch, 3, h, w); Tensor y = Tensor.ofInts(labels)) {
          float lossWant = want.forwardBackward(x, y);
          float lossGot = got.forwardBackward(x, y);  // host batch: the network copies it over
          assertTrue(Float.isFinite(lossGot), "loss " + lossGot);
          assertEquals(lossWant, lossGot, tol * Math.abs(lossWant), "loss at step " + step);
          sameAsWhole("gradients at step " + step, want.gradients(), got.gradients(), tol);
          want.step(sgd, 0.05f);
          got.step(sgd, 0.05f);
        }
      }
      sameTensors("parameter", want.parameters(), got.parameters(), tol);
      // The momentum buffers are sums of the gradients (after one step, the gradients), so they
      // are compared as a whole like them: per tensor, a BN weight's buffer measured only its
      // cancellation (ImageNet ResNet-18 after one step: 2.9e-3 for one tensor, 3.3e-5 as a whole).
      sameAsWhole("momentum", want.momentumBuffers(), got.momentumBuffers(), tol);
      float[] images = new float[batch * 3 * h * w];
      for (int i = 0; i < images.length; i++) {
        images[i] = (float) rng.nextGaussian();
      }
      try (Tensor x = Tensor.of(images, batch, 3, h, w);
          Tensor y = Tensor.ofInts(Arrays.copyOf(new int[] {0, 4, 2, 1}, batch))) {
        long[] a = want.evaluate(x, y, 1, 3);
        long[] b = got.evaluate(x, y, 1, 3);
        assertArrayEquals(a, b, "top-1 / top-3 in eval mode");
        assertEquals(want.loss(y), got.loss(y), tol * Math.abs(want.loss(y)), "eval loss");
      }
    }
  }

  /**
   * The enqueue-only step ({@link ResNet#stage}, {@link ResNet#forwardBackwardStaged},
   * {@link ResNet#stagedLoss}) gives exactly the eager step's losses and parameters, also when
   * replayed from a recorded CUDA graph. The host emulation cannot record graphs: there the
   * recording must say so and the staged step runs eagerly.
   */
  @Test
  void stagedStepsAndGraphReplaysEqualEagerSteps() {
    ResNetConfig config = new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {4, 8, 8}, Norm.BATCHNORM,
        Act.CRELU, Shortcut.A, 3, 5);
    SplittableRandom rng = new SplittableRandom(9);
    float[] images = new float[3 * 3 * 9 * 9];
    for (int i = 0; i < images.length; i++) {
      images[i] = (float) rng.nextGaussian();
    }
    try (ResNet eager = ResNet.create(gpu, config, 3, 9, 9, 4);
        ResNet staged = ResNet.create(gpu, config, 3, 9, 9, 4);
        Sgd sgd = Sgd.paperRecipe(1e-4f);
        Tensor x = Tensor.of(images, 3, 3, 9, 9);
        Tensor y = Tensor.ofInts(new int[] {1, 4, 0})) {
      float[] want = new float[3];
      for (int s = 0; s < 3; s++) {
        want[s] = eager.forwardBackward(x, y);
        eager.step(sgd, 0.05f);
      }
      staged.stage(x, y);
      staged.forwardBackwardStaged();  // the first step (v = g) eagerly: it also sizes the workspace
      staged.step(sgd, 0.05f);
      assertEquals(want[0], staged.stagedLoss());
      Runnable step = () -> {
        staged.forwardBackwardStaged();
        staged.step(sgd, 0.05f);
      };
      CudaGraph graph = null;
      try {
        graph = gpu.record(step);
      } catch (UnsupportedOperationException e) {
        assertTrue(e.getMessage().contains("cannot record graphs"), e.getMessage());
      }
      for (int s = 1; s < 3; s++) {
        if (graph != null) {
          graph.launch();
        } else {
          step.run();
        }
        assertEquals(want[s], staged.stagedLoss(), "step " + s + (graph != null ? " (graph replay)" : ""));
      }
      if (graph != null) {
        assertTrue(graph.nodes() > 10, "nodes " + graph.nodes());
        graph.close();
      }
      for (Map.Entry<String, Tensor> e : eager.parameters().all().entrySet()) {
        assertArrayEquals(e.getValue().toFloatArray(), staged.parameters().get(e.getKey()).toFloatArray(), e.getKey());
      }
    }
    assertThrows(IllegalStateException.class, () -> cpu.record(() -> { }), "a CPU engine records nothing");
  }

  @Test
  void convImplIsReported() {
    assertTrue(!gpu.usesCudnnConvs(), "native convs by default");
    if (org.resnorm.bind.CudaNative.rn_cudnn_load(null) == org.resnorm.bind.ResnormNative.RN_STATUS_OK) {
      try {
        assertTrue(gpu.convImpl("cudnn").usesCudnnConvs());
      } finally {
        gpu.convImpl("native");
      }
      assertTrue(!gpu.usesCudnnConvs());
    }
  }

  @Test
  void deviceTensors() {
    float[] v = {1, 2, 3, 4, 5, 6};
    try (Tensor host = Tensor.of(v, 2, 3); Tensor dev = host.to(gpu)) {
      assertTrue(dev.isOnDevice());
      assertFalse(host.isOnDevice());
      assertEquals("cuda:0", dev.placeName());
      assertArrayEquals(v, dev.toFloatArray());
      assertEquals(6f, dev.get(1, 2));
      dev.set(-1f, 0, 1);
      assertArrayEquals(new float[] {1, -1, 3, 4, 5, 6}, dev.toFloatArray());
      Tensor t = dev.transpose(0, 1);  // a strided view of device memory
      assertArrayEquals(new float[] {1, 4, -1, 5, 3, 6}, t.toFloatArray());
      t.copyFrom(new float[] {10, 40, 20, 50, 30, 60});
      assertArrayEquals(new float[] {10, 20, 30, 40, 50, 60}, dev.toFloatArray());
      try (Tensor c = dev.copy()) {
        assertTrue(c.isOnDevice());
        dev.fill(0f);
        assertArrayEquals(new float[] {10, 20, 30, 40, 50, 60}, c.toFloatArray());
        assertArrayEquals(new float[6], dev.toFloatArray());
        c.fill(2.5f);
        host.copyFrom(c);
        assertArrayEquals(new float[] {2.5f, 2.5f, 2.5f, 2.5f, 2.5f, 2.5f}, host.toFloatArray());
      }
    }
    try (Tensor ints = Tensor.ofInts(new int[] {7, 8, 9}).to(gpu)) {
      assertArrayEquals(new int[] {7, 8, 9}, ints.toIntArray());
      ints.setInt(1, 2);
      assertEquals(1, ints.getInt(2));
    }
  }

  @Test
  void kernelsRefuseTensorsFromTheWrongMemory() {
    try (Tensor host = Tensor.zeros(4); Tensor dev = Tensor.zeros(gpu, 4)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> org.resnorm.ops.Activation.relu(gpu, host, dev));
      assertTrue(e.getMessage().contains("host memory"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> org.resnorm.ops.Activation.relu(cpu, dev, host));
      // the CPU-only reference op says so on a CUDA engine instead of reading device memory
      try (Sgd sgd = Sgd.paperRecipe(0f); Tensor grad = Tensor.zeros(gpu, 4); Tensor vel = Tensor.zeros(gpu, 4)) {
        assertThrows(IllegalStateException.class, () -> sgd.stepUnfused(gpu, 0.1f, dev, grad, vel, true));
      }
    }
  }
}
