package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train / eval / resume on an ImageNet-style folder with an ImageNet-style (7x7 stem, bottleneck) network. */
class ImageFolderTrainTest {
  /** 3 classes x n images: class c is a colour ramp in channel c (learnable), sizes vary. */
  static void writeFolder(Path root, String split, int n) throws IOException {
    for (int c = 0; c < 3; c++) {
      Path dir = root.resolve(split).resolve("class" + c);
      Files.createDirectories(dir);
      for (int i = 0; i < n; i++) {
        int h = 20 + (i % 3) * 3;
        int w = 22 + (i % 2) * 4;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            int v = 60 + (x * 150) / w + i;
            int rgb = c == 0 ? (v << 16) : c == 1 ? (v << 8) : v;
            img.setRGB(x, y, rgb);
          }
        }
        ImageIO.write(img, "png", dir.resolve("img" + i + ".png").toFile());
      }
    }
  }

  @Test
  void trainsEvaluatesAndResumesOnAnImageFolder(@TempDir Path dir) throws IOException {
    writeFolder(dir, "train", 8);
    writeFolder(dir, "val", 3);
    Path run = dir.resolve("run");
    String[] args = {"train", "--dataset", "imagenet", "--data", dir.toString(), "--depth", "50", "--widths",
        "4,4,8,8", "--crop", "16", "--resize", "18", "--batch", "4", "--epochs", "2", "--lr", "0.05", "--log-every",
        "0", "--threads", "2", "--out", run.toString()};
    String out = BenchCommandTest.captureOut(0, TrainCommandTest.concat(args, "--stop-after", "1"));
    assertTrue(out.contains("24 train / 9 test images of 3x16x16, 3 classes"), out);
    assertTrue(out.contains("ResNet-50 imagenet"), out);
    assertEquals(0, Main.run("train", "--resume", run.toString(), "--log-every", "0", "--threads", "2"));
    assertEquals(2, Files.readAllLines(run.resolve("metrics.jsonl")).size());
    String ev = BenchCommandTest.captureOut(0, "eval", "--checkpoint", run.resolve("checkpoint.safetensors").toString(),
        "--dataset", "imagenet", "--data", dir.toString(), "--crop", "16", "--resize", "18", "--batch", "4",
        "--ten-crop", "--threads", "2");
    assertTrue(ev.contains("9 images x 10 crops"), ev);
    assertEquals(1, Main.run("train", "--dataset", "imagenet", "--data", dir.resolve("nothing").toString()));
    assertEquals(1, Main.run("train", "--dataset", "imagenet", "--data", dir.toString(), "--limit-train", "5"));
  }
}
