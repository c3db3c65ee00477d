package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.io.TensorData;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;

/** eval reproduces train's test accuracy from the checkpoint; check-step's step is PyTorch's SGD step. */
class EvalAndCheckStepTest {
  @Test
  void evalMatchesTheTestAccuracyTrainReported(@TempDir Path dir) throws IOException {
    TrainCommandTest.writeIdx(dir, "train", 64, 1);
    TrainCommandTest.writeIdx(dir, "t10k", 37, 2);
    Path run = dir.resolve("run");
    assertEquals(0, Main.run("train", "--data", dir.toString(), "--depth", "8", "--widths", "4,6,8", "--batch", "16",
        "--epochs", "2", "--log-every", "0", "--threads", "2", "--out", run.toString()));
    String last = Files.readAllLines(run.resolve("metrics.jsonl")).get(1);
    String acc = last.replaceAll(".*\"test_acc\":([0-9.Ee-]+).*", "$1");
    String out = BenchCommandTest.captureOut(0, "eval", "--checkpoint", run.resolve("checkpoint.safetensors").toString(),
        "--data", dir.toString(), "--batch", "10", "--threads", "2");
    assertTrue(out.contains(String.format(java.util.Locale.ROOT, "top-1 accuracy %.4f", Double.parseDouble(acc))),
        "train said " + acc + "; eval: " + out);
    assertTrue(out.contains("37 images"), out);
    assertEquals(1, Main.run("eval", "--checkpoint", dir.resolve("none.safetensors").toString(), "--data",
        dir.toString()));
    assertEquals(1, Main.run("eval", "--checkpoint", run.resolve("checkpoint.safetensors").toString(), "--dataset",
        "cifar10", "--data", dir.toString()));
    assertEquals(2, Main.run("eval", "--data", dir.toString()), "--checkpoint is required");
  }

  static final ResNetConfig CONFIG = new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {4, 6, 8}, Norm.BATCHNORM,
      Act.CRELU, Shortcut.A, 3, 5);

  static void writeBatch(Path file, int n, long seed, long badLabel) throws IOException {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n * 3 * 9 * 9];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextDouble() * 2 - 1);
    }
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(5);
    }
    if (badLabel >= 0) {
      y[n - 1] = badLabel;
    }
    SafeTensors.writer().add("x", TensorData.ofFloats(x, n, 3, 9, 9)).add("y", TensorData.ofLongs(y, n)).write(file);
  }

  @Test
  void checkStepWritesLossGradientsAndThePyTorchSgdUpdate(@TempDir Path dir) throws IOException {
    Path weights = dir.resolve("w.safetensors");
    Path batch = dir.resolve("b.safetensors");
    Path out = dir.resolve("out.safetensors");
    writeBatch(batch, 6, 3, -1);
    float lr = 0.05f;
    float wd = 1e-3f;
    float m = 0.9f;
    float expectedLoss;
    Map<String, float[]> before = new java.util.HashMap<>();
    Map<String, float[]> grads = new java.util.HashMap<>();
    try (Engine engine = Engine.create(2); ResNet net = ResNet.create(engine, CONFIG, 6, 9, 9, 11);
        SafeTensorsFile b = SafeTensors.read(batch);
        Tensor x = b.floatTensor("x");
        Tensor y = Tensor.ofInts(java.util.Arrays.stream(b.data("y").longs()).mapToInt(v -> (int) v).toArray(), 6)) {
      ResNetCheckpoint.write(net, weights, 41, Map.of());
      net.parameters().all().forEach((k, v) -> before.put(k, v.toFloatArray()));
      expectedLoss = net.forwardBackward(x, y);
      net.gradients().all().forEach((k, v) -> grads.put(k, v.toFloatArray()));
    }
    String log = BenchCommandTest.captureOut(0, "check-step", "--depth", "8", "--widths", "4,6,8", "--norm",
        "batchnorm", "--act", "crelu", "--weights", weights.toString(), "--batch", batch.toString(), "--lr",
        Float.toString(lr), "--wd", Float.toString(wd), "--momentum", Float.toString(m), "--nesterov",
        "--threads", "2", "--out", out.toString());
    assertTrue(log.contains("loss"), log);
    try (SafeTensorsFile o = SafeTensors.read(out)) {
      assertEquals(expectedLoss, o.data("loss").floats()[0]);
      for (String name : grads.keySet()) {
        assertArrayEquals(grads.get(name), o.data("grad." + name).floats(), name);
        // PyTorch SGD, first step: g' = g + wd p; buf = g'; nesterov: p -= lr (g' + m buf) = lr (1 + m) g'
        float[] p0 = before.get(name);
        float[] g = grads.get(name);
        float[] p1 = o.data(name).floats();
        for (int i = 0; i < p0.length; i++) {
          double expected = p0[i] - (double) lr * (1 + m) * (g[i] + (double) wd * p0[i]);
          assertEquals(expected, p1[i], 1e-6 * (1 + Math.abs(expected)), name + "[" + i + "]");
        }
        assertTrue(o.contains("momentum_buffer." + name));
      }
      assertEquals(42L, o.data("bn1.num_batches_tracked").longs()[0]);
      float[] rm = o.data("layer1.0.bn1.running_mean").floats();
      assertEquals(0f, before.get("layer1.0.bn1.running_mean")[0]);
      assertTrue(rm[0] != 0f, "the running statistics moved (train mode)");
    }
    // bad input: a label out of range, a missing tensor, weights of another architecture
    Path bad = dir.resolve("bad.safetensors");
    writeBatch(bad, 6, 3, 7);
    String[] base = {"check-step", "--depth", "8", "--widths", "4,6,8", "--norm", "batchnorm", "--act", "crelu",
        "--weights", weights.toString(), "--out", dir.resolve("o2.safetensors").toString(), "--batch"};
    String label = BenchCommandTest.captureErr(1, TrainCommandTest.concat(base, bad.toString()));
    assertTrue(label.contains("y[5] = 7 is out of range"), label);
    String noXy = BenchCommandTest.captureErr(1, TrainCommandTest.concat(base, weights.toString()));
    assertTrue(noXy.contains("needs tensors 'x'"), "no x / y in the batch file: " + noXy);
    base[8] = "relu";
    String relu = BenchCommandTest.captureErr(1, TrainCommandTest.concat(base, batch.toString()));
    assertTrue(relu.contains("has shape [4, 8, 3, 3] but the destination has shape [4, 4, 3, 3]"), "relu weights differ in shape: " + relu);
    assertTrue(!Files.exists(dir.resolve("o2.safetensors")));
  }
}
