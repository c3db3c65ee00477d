package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.analysis.Plots;
import org.resnorm.core.Engine;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;

/** analyze end to end on two tiny checkpoints and a small Fashion-MNIST-format test set; bad input fails clearly. */
class AnalyzeCommandTest {
  static ResNetConfig config(Norm norm, Act act, int inChannels) {
    return new ResNetConfig(ResNetConfig.Arch.CIFAR, 8, new int[] {4, 6, 8}, norm, act, Shortcut.A, inChannels, 10);
  }

  /** A checkpoint with train's config metadata (dataset null: not recorded). */
  static Path checkpoint(Path dir, String name, ResNetConfig c, long seed, String dataset) throws IOException {
    JsonObject meta = new JsonObject();
    meta.addProperty("arch", "cifar");
    meta.addProperty("depth", c.depth());
    JsonArray w = new JsonArray();
    for (int x : c.widths()) {
      w.add(x);
    }
    meta.add("widths", w);
    meta.addProperty("norm", c.norm().cliName());
    meta.addProperty("act", c.act().name().toLowerCase(java.util.Locale.ROOT));
    meta.addProperty("shortcut", c.shortcut().name());
    if (dataset != null) {
      meta.addProperty("dataset", dataset);
    }
    Path file = dir.resolve(name);
    try (Engine engine = Engine.create(2); ResNet net = ResNet.create(engine, c, 2, 28, 28, seed)) {
      ResNetCheckpoint.write(net, file, 0, Map.of("config", meta.toString(), "epoch", "3"));
    }
    return file;
  }

  static String[] errOf(int expected, String... args) {
    return new String[] {BenchCommandTest.captureErr(expected, args)};
  }


  @Test
  void analyzesTwoCheckpointsIntoJsonMarkdownAndPlots(@TempDir Path dir) throws IOException {
    TrainCommandTest.writeIdx(dir, "t10k", 23, 2);
    Path bn = checkpoint(dir, "bn.safetensors", config(Norm.BATCHNORM, Act.CRELU, 1), 1, "fashion-mnist");
    Path plain = checkpoint(dir, "plain.safetensors", config(Norm.PLAIN, Act.RELU, 1), 2, null);
    Path out = dir.resolve("out");
    String stdout = BenchCommandTest.captureOut(0, "analyze", "--checkpoint", bn.toString(), "--checkpoint",
        plain.toString(), "--data", dir.toString(), "--out", out.toString(), "--samples", "15", "--batch", "4",
        "--threads", "2");
    assertTrue(stdout.contains("batchnorm crelu: ") && stdout.contains("plain relu: "), stdout);
    assertTrue(stdout.contains("x[:, :, ::2, ::2]"), "the reshaping choice is stated: " + stdout);

    JsonObject root = JsonParser.parseString(Files.readString(out.resolve("analysis.json"))).getAsJsonObject();
    JsonArray cps = root.getAsJsonArray("checkpoints");
    assertEquals(2, cps.size());
    for (int i = 0; i < 2; i++) {
      JsonObject cp = cps.get(i).getAsJsonObject();
      assertEquals(15, cp.get("images").getAsInt());
      assertEquals(3, cp.getAsJsonArray("blocks").size(), "ResNet-8: 3 blocks");
      assertEquals(7, cp.getAsJsonArray("convs").size(), "stem + 3 x 2 convs");
      assertEquals("3", cp.get("epoch").getAsString());
      for (var b : cp.getAsJsonArray("blocks")) {
        assertTrue(b.getAsJsonObject().get("delta").getAsDouble() > 0);
      }
      for (var c : cp.getAsJsonArray("convs")) {
        double mu = c.getAsJsonObject().get("coherence").getAsDouble();
        assertTrue(mu > 0 && mu <= 1, c.toString());
      }
      double nzr = cp.getAsJsonObject("last_activation").get("nzr").getAsDouble();
      assertTrue(nzr > 0 && nzr <= 1);
    }
    assertEquals("batchnorm", cps.get(0).getAsJsonObject().getAsJsonObject("model").get("norm").getAsString());
    assertEquals(15 * 8 * 7 * 7, cps.get(1).getAsJsonObject().getAsJsonObject("last_activation").get("entries")
        .getAsLong(), "15 images x 8 channels x 7 x 7");
    assertTrue(Files.readString(out.resolve("analysis.md")).contains("| block | name | shape in -> out | "
        + "batchnorm crelu | plain relu |"));
    for (String png : new String[] {"delta.png", "coherence.png"}) {
      BufferedImage img = ImageIO.read(out.resolve(png).toFile());
      assertEquals(Plots.WIDTH, img.getWidth());
      assertEquals(Plots.HEIGHT, img.getHeight());
      Set<Integer> colours = new HashSet<>();
      for (int y = 0; y < img.getHeight(); y += 2) {
        for (int x = 0; x < img.getWidth(); x += 2) {
          colours.add(img.getRGB(x, y));
        }
      }
      assertTrue(colours.size() > 20, png + " has " + colours.size() + " colours");
    }

    // labels given; the same model twice gets distinct default labels
    Path out2 = dir.resolve("out2");
    BenchCommandTest.captureOut(0, "analyze", "--checkpoint", bn.toString(), "--label", "BN+CReLU", "--data",
        dir.toString(), "--out", out2.toString(), "--samples", "3", "--threads", "2");
    JsonObject one = JsonParser.parseString(Files.readString(out2.resolve("analysis.json"))).getAsJsonObject()
        .getAsJsonArray("checkpoints").get(0).getAsJsonObject();
    assertEquals("BN+CReLU", one.get("label").getAsString());
    assertEquals(3, one.get("images").getAsInt());
    String twice = BenchCommandTest.captureOut(0, "analyze", "--checkpoint", bn.toString(), "--checkpoint",
        bn.toString(), "--data", dir.toString(), "--out", dir.resolve("out3").toString(), "--samples", "2",
        "--threads", "2");
    assertTrue(twice.contains("batchnorm crelu (bn.safetensors): ") && twice.contains("(bn.safetensors) #2: "),
        twice);
  }

  @Test
  void badInputExitsNonZeroWithAClearMessage(@TempDir Path dir) throws IOException {
    TrainCommandTest.writeIdx(dir, "t10k", 5, 2);
    Path ok = checkpoint(dir, "ok.safetensors", config(Norm.BATCHNORM, Act.RELU, 1), 1, null);
    Path rgb = checkpoint(dir, "rgb.safetensors", config(Norm.BATCHNORM, Act.RELU, 3), 1, null);
    Path cifar = checkpoint(dir, "cifar.safetensors", config(Norm.BATCHNORM, Act.RELU, 1), 1, "cifar10");
    String out = dir.resolve("out").toString();
    String d = dir.toString();
    assertTrue(errOf(1, "analyze", "--checkpoint", dir.resolve("none.safetensors").toString(), "--data", d, "--out",
        out)[0].contains("none.safetensors: no such file"));
    assertTrue(errOf(1, "analyze", "--checkpoint", rgb.toString(), "--data", d, "--out", out)[0]
        .contains("3 channels and 10 classes; Fashion-MNIST"));
    assertTrue(errOf(1, "analyze", "--checkpoint", cifar.toString(), "--data", d, "--out", out)[0]
        .contains("was trained on cifar10"));
    assertTrue(errOf(1, "analyze", "--checkpoint", ok.toString(), "--dataset", "cifar10", "--data", d, "--out",
        out)[0].startsWith("error: "), "no CIFAR files there");
    assertTrue(errOf(1, "analyze", "--checkpoint", ok.toString(), "--dataset", "svhn", "--data", d, "--out",
        out)[0].contains("unknown dataset 'svhn'"));
    assertTrue(errOf(1, "analyze", "--checkpoint", ok.toString(), "--data", d, "--out", out, "--samples", "0")[0]
        .contains("--samples must be >= 1"));
    assertTrue(errOf(1, "analyze", "--checkpoint", ok.toString(), "--data", d, "--out", out, "--batch", "0")[0]
        .contains("--batch must be >= 1"));
    assertTrue(errOf(1, "analyze", "--checkpoint", ok.toString(), "--checkpoint", ok.toString(), "--label", "a",
        "--data", d, "--out", out)[0].contains("once per --checkpoint"));
    assertTrue(errOf(1, "analyze", "--checkpoint", ok.toString(), "--checkpoint", ok.toString(), "--label", "a",
        "--label", "a", "--data", d, "--out", out)[0].contains("the labels must differ"));
    errOf(2, "analyze", "--data", d, "--out", out);  // --checkpoint is required
    errOf(2, "analyze", "--checkpoint", ok.toString(), "--data", d);  // --out is required
    errOf(2, "analyze", "--checkpoint", ok.toString(), "--data", d, "--out", out, "--samples", "many");
    assertFalse(Files.exists(dir.resolve("out")), "nothing written by a failed run");
  }
}
