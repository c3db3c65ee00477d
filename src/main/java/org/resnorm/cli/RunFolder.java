package org.resnorm.cli;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.Map;
import org.resnorm.core.Tensor;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.TensorData;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetConfig;

/**
 * A training run's folder: {@code checkpoint.safetensors} (docs/CHECKPOINTS.md: torchvision
 * names, momentum buffers, metadata; written atomically and never with a NaN) after every
 * epoch, and one row per epoch in {@code metrics.jsonl} and {@code metrics.csv}.
 */
final class RunFolder {
  static final String CHECKPOINT = "checkpoint.safetensors";
  private static final String CSV_HEADER = "epoch,lr,train_loss,train_acc,test_loss,test_acc,img_per_s,seconds";

  private final Path dir;
  private final String config;

  RunFolder(Path dir, ResNetConfig model, TrainCommand cmd) {
    this.dir = dir;
    JsonObject c = new JsonObject();
    c.addProperty("model", model.toString());
    c.addProperty("arch", model.arch().name().toLowerCase(Locale.ROOT));
    c.addProperty("depth", model.depth());
    c.addProperty("widths", java.util.Arrays.toString(model.widths()));
    c.addProperty("norm", model.norm().cliName());
    c.addProperty("act", model.act().name().toLowerCase(Locale.ROOT));
    c.addProperty("shortcut", model.shortcut().name());
    c.addProperty("dataset", cmd.dataset);
    c.addProperty("batch", cmd.batch);
    c.addProperty("lr", cmd.lr);
    c.addProperty("wd", cmd.wd);
    c.addProperty("schedule", cmd.schedule);
    c.addProperty("epochs", cmd.epochs);
    c.addProperty("augment", cmd.augment);
    c.addProperty("seed", cmd.seed);
    this.config = c.toString();
    try {
      Files.createDirectories(dir);
      Path csv = dir.resolve("metrics.csv");
      Files.writeString(csv, CSV_HEADER + "\n", StandardCharsets.UTF_8);
      Files.deleteIfExists(dir.resolve("metrics.jsonl"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the run folder " + dir + ": " + e.getMessage(), e);
    }
  }

  void epochDone(ResNet net, int epoch, long steps, float lr, double trainLoss, double trainAcc, double[] test,
      double imgPerS, double seconds) {
    try {
      checkpoint(net, epoch, steps);
      JsonObject row = new JsonObject();
      row.addProperty("epoch", epoch);
      row.addProperty("lr", lr);
      row.addProperty("train_loss", trainLoss);
      row.addProperty("train_acc", trainAcc);
      row.addProperty("test_loss", test[0]);
      row.addProperty("test_acc", test[1]);
      row.addProperty("img_per_s", imgPerS);
      row.addProperty("seconds", seconds);
      Files.writeString(dir.resolve("metrics.jsonl"), row + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      Files.writeString(dir.resolve("metrics.csv"), String.format(Locale.ROOT, "%d,%s,%s,%s,%s,%s,%s,%s%n", epoch, lr,
          trainLoss, trainAcc, test[0], test[1], imgPerS, seconds), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write to the run folder " + dir + ": " + e.getMessage(), e);
    }
  }

  private void checkpoint(ResNet net, int epoch, long steps) throws IOException {
    SafeTensors.Writer w = SafeTensors.writer().rejectNonFinite(true);
    for (Map.Entry<String, Tensor> e : net.parameters().all().entrySet()) {
      String name = e.getKey();
      Tensor t = e.getValue();
      if (name.endsWith(".weight_g")) {  // PyTorch's weight_norm shape [K, 1, 1, 1]
        w.add(name, TensorData.ofFloats(t.toFloatArray(), t.dim(0), 1, 1, 1));
      } else {
        w.add(name, t);
      }
      if (name.endsWith(".running_var")) {
        String bn = name.substring(0, name.length() - ".running_var".length());
        w.add(bn + ".num_batches_tracked", TensorData.scalar(steps));
      }
    }
    if (net.stepsTaken()) {
      for (Map.Entry<String, Tensor> e : net.momentumBuffers().all().entrySet()) {
        Tensor t = e.getValue();
        w.add("momentum_buffer." + e.getKey(), e.getKey().endsWith(".weight_g")
            ? TensorData.ofFloats(t.toFloatArray(), t.dim(0), 1, 1, 1) : TensorData.of(t));
      }
    }
    w.metadata("format", "resnorm/1").metadata("config", config).metadata("epoch", Integer.toString(epoch))
        .metadata("step", Long.toString(steps));
    w.write(dir.resolve(CHECKPOINT));
  }
}
