package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The train command end to end on a small dataset in the Fashion-MNIST IDX format, and its errors. */
class TrainCommandTest {
  static void writeIdx(Path dir, String prefix, int n, long seed) throws IOException {
    SplittableRandom rng = new SplittableRandom(seed);
    ByteBuffer images = ByteBuffer.allocate(16 + n * 28 * 28).putInt(2051).putInt(n).putInt(28).putInt(28);
    ByteBuffer labels = ByteBuffer.allocate(8 + n).putInt(2049).putInt(n);
    for (int i = 0; i < n; i++) {
      int label = rng.nextInt(10);
      labels.put((byte) label);
      for (int p = 0; p < 28 * 28; p++) {
        // a class-dependent stripe plus noise: learnable in a few steps
        images.put((byte) (((p / 28) % 10 == label ? 200 : 20) + rng.nextInt(30)));
      }
    }
    Files.write(dir.resolve(prefix + "-images-idx3-ubyte"), images.array());
    Files.write(dir.resolve(prefix + "-labels-idx1-ubyte"), labels.array());
  }

  @Test
  void trainsOnIdxFilesAndReportsAccuracy(@TempDir Path dir) throws IOException {
    writeIdx(dir, "train", 96, 1);
    writeIdx(dir, "t10k", 40, 2);
    Path run = dir.resolve("run");
    assertEquals(0, Main.run("train", "--data", dir.toString(), "--depth", "8", "--widths", "4,8,8", "--batch", "16",
        "--epochs", "2", "--log-every", "0", "--threads", "2", "--out", run.toString()));
    // the run folder: metrics per epoch and a checkpoint in docs/CHECKPOINTS.md's names
    java.util.List<String> jsonl = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertEquals(2, jsonl.size());
    for (String key : new String[] {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "img_per_s",
        "seconds"}) {
      org.junit.jupiter.api.Assertions.assertTrue(jsonl.get(1).contains("\"" + key + "\":"), key + " in " + jsonl.get(1));
    }
    assertEquals(3, Files.readAllLines(run.resolve("metrics.csv")).size());
    try (org.resnorm.io.SafeTensorsFile f = org.resnorm.io.SafeTensors.read(run.resolve("checkpoint.safetensors"))) {
      assertEquals("2", f.metadata().get("epoch"));
      assertEquals("resnorm/1", f.metadata().get("format"));
      assertEquals("12", f.metadata().get("step"), "2 epochs x (96 / 16) steps");
      java.util.List<String> names = f.names();
      org.resnorm.model.ResNetSpec spec = org.resnorm.model.ResNetSpec.of(new org.resnorm.model.ResNetConfig(
          org.resnorm.model.ResNetConfig.Arch.CIFAR, 8, new int[] {4, 8, 8}, org.resnorm.model.Norm.BATCHNORM,
          org.resnorm.ops.Act.CRELU, org.resnorm.model.Shortcut.A, 1, 10));
      for (org.resnorm.model.ParamSpec p : spec.params()) {
        org.junit.jupiter.api.Assertions.assertTrue(names.contains(p.name()), p.name());
        if (p.learned()) {
          org.junit.jupiter.api.Assertions.assertTrue(names.contains("momentum_buffer." + p.name()), p.name());
        }
      }
      org.junit.jupiter.api.Assertions.assertTrue(names.contains("layer1.0.bn1.num_batches_tracked"));
    }
    assertEquals(0, Main.run("train", "--data", dir.toString(), "--depth", "8", "--widths", "4,8,8", "--batch", "16",
        "--norm", "normprop", "--act", "relu", "--shortcut", "B", "--log-every", "0", "--out", run.toString()));
    try (org.resnorm.io.SafeTensorsFile f = org.resnorm.io.SafeTensors.read(run.resolve("checkpoint.safetensors"))) {
      assertEquals(java.util.List.of(4L, 1L, 1L, 1L), java.util.Arrays.stream(f.shape("conv1.weight_g")).boxed()
          .toList(), "weight_g in PyTorch's weight_norm shape");
    }
    assertEquals(0, Main.run("train", "--data", dir.toString(), "--depth", "8", "--widths", "4,8,8", "--batch", "16",
        "--epochs", "2", "--schedule", "cosine", "--no-augment", "--log-every", "1"));
  }

  /** The metrics rows without the timing columns, which differ between runs. */
  static java.util.List<String> metricsWithoutTimes(Path run) throws IOException {
    return Files.readAllLines(run.resolve("metrics.jsonl")).stream()
        .map(l -> l.replaceAll(",\"img_per_s\":[^,}]*", "").replaceAll(",\"seconds\":[^,}]*", "")).toList();
  }

  @Test
  void resumedRunEqualsAnUninterruptedOne(@TempDir Path dir) throws IOException {
    writeIdx(dir, "train", 64, 1);
    writeIdx(dir, "t10k", 24, 2);
    String[] common = {"train", "--data", dir.toString(), "--depth", "8", "--widths", "4,6,8", "--batch", "16",
        "--epochs", "3", "--schedule", "cosine", "--log-every", "0", "--threads", "2", "--seed", "5"};
    Path whole = dir.resolve("whole");
    Path parts = dir.resolve("parts");
    assertEquals(0, Main.run(concat(common, "--out", whole.toString())));
    assertEquals(0, Main.run(concat(common, "--out", parts.toString(), "--stop-after", "1")));
    assertEquals(1, metricsWithoutTimes(parts).size());
    assertEquals(1, Main.run("train", "--resume", parts.toString(), "--depth", "20"), "run options come from the run");
    assertEquals(0, Main.run("train", "--resume", parts.toString(), "--log-every", "0", "--threads", "2"));
    assertEquals(metricsWithoutTimes(whole), metricsWithoutTimes(parts));
    assertEquals(3, metricsWithoutTimes(parts).size());
    try (org.resnorm.io.SafeTensorsFile a = org.resnorm.io.SafeTensors.read(whole.resolve("checkpoint.safetensors"));
        org.resnorm.io.SafeTensorsFile b = org.resnorm.io.SafeTensors.read(parts.resolve("checkpoint.safetensors"))) {
      assertEquals(a.names(), b.names());
      for (String name : a.names()) {
        assertEquals(a.data(name), b.data(name), name + " differs between the resumed and the uninterrupted run");
      }
      assertEquals("3", b.metadata().get("epoch"));
      org.junit.jupiter.api.Assertions.assertTrue(b.metadata().get("rng").contains("\"next_epoch\":3"));
    }
    assertEquals(0, Main.run("train", "--resume", parts.toString()), "a finished run has nothing to do");
    assertEquals(1, Main.run("train", "--resume", dir.resolve("nowhere").toString()));
  }

  @Test
  void autoLrHalvingRestartsADivergingRun(@TempDir Path dir) throws IOException {
    writeIdx(dir, "train", 96, 1);
    writeIdx(dir, "t10k", 16, 2);
    Path run = dir.resolve("run");
    String[] args = {"train", "--data", dir.toString(), "--depth", "8", "--widths", "4,6,8", "--batch", "8",
        "--norm", "plain", "--act", "relu", "--lr", "1000", "--log-every", "0", "--threads", "2"};
    assertEquals(1, Main.run(args), "diverges without the rule");
    String out = BenchCommandTest.captureOut(0, concat(args, "--auto-lr-halving", "--out", run.toString()));
    org.junit.jupiter.api.Assertions.assertTrue(out.contains("restarting from the initial weights with lr 500"), out);
    try (org.resnorm.io.SafeTensorsFile f = org.resnorm.io.SafeTensors.read(run.resolve("checkpoint.safetensors"))) {
      float used = Float.parseFloat(f.metadata().get("lr"));
      org.junit.jupiter.api.Assertions.assertTrue(used < 1000 && used > 0, "the LR that trained: " + used);
    }
  }

  @Test
  void autoLrHalvingAlsoRestartsARunThatDoesNotLearn(@TempDir Path dir) throws IOException {
    // every image the same, labels 0..9 in turn: nothing to learn, accuracy stays at chance (10 %)
    int n = 80;
    ByteBuffer images = ByteBuffer.allocate(16 + n * 28 * 28).putInt(2051).putInt(n).putInt(28).putInt(28);
    ByteBuffer labels = ByteBuffer.allocate(8 + n).putInt(2049).putInt(n);
    for (int i = 0; i < n; i++) {
      labels.put((byte) (i % 10));
      for (int p = 0; p < 28 * 28; p++) {
        images.put((byte) 100);
      }
    }
    for (String prefix : new String[] {"train", "t10k"}) {
      Files.write(dir.resolve(prefix + "-images-idx3-ubyte"), images.array());
      Files.write(dir.resolve(prefix + "-labels-idx1-ubyte"), labels.array());
    }
    String out = BenchCommandTest.captureOut(0, "train", "--data", dir.toString(), "--depth", "8", "--widths", "4,4,4",
        "--batch", "16", "--auto-lr-halving", "--log-every", "0", "--threads", "2");
    org.junit.jupiter.api.Assertions.assertTrue(out.contains("not learning; restarting from the initial weights with "
        + "lr 0.05"), out);
    org.junit.jupiter.api.Assertions.assertTrue(out.contains("with lr 3.90625E-4"), "gives up after 8 halvings: " + out);
  }

  @Test
  void analyzeEveryRecordsDeltasAndActivationStatsInTheMetrics(@TempDir Path dir) throws IOException {
    writeIdx(dir, "train", 48, 1);
    writeIdx(dir, "t10k", 20, 2);
    Path run = dir.resolve("run");
    String out = BenchCommandTest.captureOut(0, "train", "--data", dir.toString(), "--depth", "8", "--widths", "4,6,8",
        "--batch", "16", "--epochs", "3", "--analyze-every", "2", "--analyze-samples", "12", "--log-every", "0",
        "--threads", "2", "--out", run.toString());
    org.junit.jupiter.api.Assertions.assertTrue(out.contains("epoch 2 analysis: last activation mean"), out);
    java.util.List<String> rows = Files.readAllLines(run.resolve("metrics.jsonl"));
    org.junit.jupiter.api.Assertions.assertFalse(rows.get(0).contains("\"delta\""), "epoch 1 is not due");
    com.google.gson.JsonObject second = com.google.gson.JsonParser.parseString(rows.get(1)).getAsJsonObject();
    assertEquals(3, second.getAsJsonArray("delta").size(), "one delta per block");
    double nzr = second.get("act_nzr").getAsDouble();
    org.junit.jupiter.api.Assertions.assertTrue(nzr > 0 && nzr <= 1, "NZR " + nzr);
    java.util.List<String> csv = Files.readAllLines(run.resolve("metrics.csv"));
    assertEquals(13, csv.get(0).split(",", -1).length);
    assertEquals(13, csv.get(1).split(",", -1).length);
    assertEquals(13, csv.get(2).split(",", -1).length);
    org.junit.jupiter.api.Assertions.assertFalse(csv.get(2).endsWith(",,,,"), csv.get(2));
  }

  static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  @Test
  void badInputGivesAClearErrorAndExitCode(@TempDir Path dir) throws IOException {
    writeIdx(dir, "train", 32, 1);
    writeIdx(dir, "t10k", 8, 2);
    String d = dir.toString();
    // exit code and a message naming what was wrong (not some other failure on the way)
    Map<String, String[]> cases = new java.util.LinkedHashMap<>();
    cases.put("'layernorm'", new String[] {"train", "--data", d, "--norm", "layernorm"});
    cases.put("'gelu'", new String[] {"train", "--data", d, "--act", "gelu"});
    cases.put("got 21", new String[] {"train", "--data", d, "--depth", "21"});
    cases.put("--lr", new String[] {"train", "--data", d, "--lr", "-1"});
    cases.put("'linear'", new String[] {"train", "--data", d, "--schedule", "linear"});
    cases.put("--data", new String[] {"train", "--dataset", "cifar10"});
    cases.put(d, new String[] {"train", "--dataset", "imagenet", "--data", d});
    cases.put("missing", new String[] {"train", "--data", dir.resolve("missing").toString()});
    for (Map.Entry<String, String[]> c : cases.entrySet()) {
      String err = BenchCommandTest.captureErr(1, c.getValue());
      assertTrue(err.contains(c.getKey()), String.join(" ", c.getValue()) + " -> " + err);
    }
    assertTrue(BenchCommandTest.captureErr(2, "train", "--epochs", "many").contains("'many'"));
    Files.write(dir.resolve("train-labels-idx1-ubyte"), new byte[] {0, 0, 8, 1, 0, 0});  // truncated
    String truncated = BenchCommandTest.captureErr(1, "train", "--data", d);
    assertTrue(truncated.contains("train-labels-idx1-ubyte"), truncated);
  }
}
