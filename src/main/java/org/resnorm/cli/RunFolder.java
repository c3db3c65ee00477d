package org.resnorm.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.resnorm.analysis.ActivationStats;
import org.resnorm.analysis.DeltaTracker;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import org.resnorm.train.Trainer;

/**
 * A training run's folder: {@code checkpoint.safetensors} (docs/CHECKPOINTS.md: torchvision
 * names, momentum buffers, metadata; written atomically and never with a NaN) after every
 * epoch, and one row per epoch in {@code metrics.jsonl} and {@code metrics.csv}. A resumed run
 * keeps the rows of the epochs its checkpoint holds and appends the rest.
 *
 * <p>The {@code rng} metadata: every random draw of a run comes from {@code java.util.SplittableRandom}
 * streams fixed by the seed: the initialization from {@code seed}, and epoch {@code e}'s example
 * order and augmentation from {@code seed + e} (0-based). The state to resume at an epoch
 * boundary is therefore the seed and the next epoch, which is what it records.
 */
final class RunFolder {
  static final String CHECKPOINT = "checkpoint.safetensors";
  private static final String CSV_HEADER = "epoch,lr,train_loss,train_acc,test_loss,test_acc,test_top5,img_per_s,"
      + "seconds,act_mean,act_std,act_nzr,delta_mean";

  /** Where a resumed run stands. */
  record Resumed(int epoch, long step) {}

  private final Path dir;
  private final String config;

  /** Opens (or creates) the folder; rows of epochs after {@code keptEpochs} are dropped (a resumed run's). */
  RunFolder(Path dir, ResNetConfig model, TrainCommand cmd, int keptEpochs) {
    this.dir = dir;
    JsonObject c = new JsonObject();
    c.addProperty("model", model.toString());
    c.addProperty("arch", model.arch().name().toLowerCase(Locale.ROOT));
    c.addProperty("depth", model.depth());
    JsonArray w = new JsonArray();
    for (int x : model.widths()) {
      w.add(x);
    }
    c.add("widths", w);
    c.addProperty("norm", model.norm().cliName());
    c.addProperty("act", model.act().name().toLowerCase(Locale.ROOT));
    c.addProperty("shortcut", model.shortcut().name());
    c.addProperty("in_channels", model.inChannels());
    c.addProperty("classes", model.classes());
    c.addProperty("dataset", cmd.dataset);
    if (cmd.data != null) {
      c.addProperty("data", cmd.data.toAbsolutePath().toString());
    }
    c.addProperty("crop", cmd.crop);
    c.addProperty("resize", cmd.resize);
    c.addProperty("limit_train", cmd.limitTrain);
    c.addProperty("limit_test", cmd.limitTest);
    c.addProperty("batch", cmd.batch);
    c.addProperty("lr", cmd.lr);
    c.addProperty("wd", cmd.wd);
    c.addProperty("schedule", cmd.schedule);
    c.addProperty("epochs", cmd.epochs);
    c.addProperty("augment", cmd.augment);
    c.addProperty("auto_lr_halving", cmd.autoLrHalving);
    c.addProperty("seed", cmd.seed);
    c.addProperty("analyze_every", cmd.analyzeEvery);
    c.addProperty("analyze_samples", cmd.analyzeSamples);
    this.config = c.toString();
    try {
      Files.createDirectories(dir);
      keepRows(dir.resolve("metrics.csv"), keptEpochs, true);
      keepRows(dir.resolve("metrics.jsonl"), keptEpochs, false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare the run folder " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Keeps the header (csv) and the first {@code epochs} rows. */
  private static void keepRows(Path file, int epochs, boolean csv) throws IOException {
    List<String> kept = new ArrayList<>();
    if (csv) {
      kept.add(CSV_HEADER);
    }
    if (epochs > 0 && Files.exists(file)) {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      kept.addAll(lines.subList(csv ? 1 : 0, Math.min(lines.size(), epochs + (csv ? 1 : 0))));
    }
    Files.write(file, kept, StandardCharsets.UTF_8);
  }

  /** Checkpoint and metrics of a finished epoch; {@code analysis} (train --analyze-every) may be null. */
  void epochDone(ResNet net, long steps, Trainer.EpochStats e, Trainer.EvalStats test, DeltaTracker.Point analysis,
      TrainCommand cmd) {
    int epoch = e.epoch() + 1;
    try {
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put("config", config);
      meta.put("epoch", Integer.toString(epoch));
      meta.put("step", Long.toString(steps));
      JsonObject rng = new JsonObject();
      rng.addProperty("generator", "java.util.SplittableRandom");
      rng.addProperty("seed", cmd.seed);
      rng.addProperty("next_epoch", epoch);
      rng.addProperty("rule", "init from seed; epoch e (0-based) shuffles and augments from seed + e");
      meta.put("rng", rng.toString());
      meta.put("lr", Float.toString(cmd.lr));  // after --auto-lr-halving, the LR that trained
      ResNetCheckpoint.write(net, dir.resolve(CHECKPOINT), steps, meta);
      JsonObject row = new JsonObject();
      row.addProperty("epoch", epoch);
      row.addProperty("lr", e.lastLr());
      row.addProperty("train_loss", e.loss());
      row.addProperty("train_acc", e.accuracy());
      row.addProperty("test_loss", test.loss());
      row.addProperty("test_acc", test.top1());
      row.addProperty("test_top5", test.top5());
      row.addProperty("img_per_s", e.imagesPerSecond());
      row.addProperty("seconds", e.seconds());
      String extra = ",,,,";
      if (analysis != null) {
        ActivationStats.Summary last = analysis.lastActivation();
        row.addProperty("act_mean", last.mean());
        row.addProperty("act_std", last.std());
        row.addProperty("act_nzr", last.nzr());
        JsonArray deltas = new JsonArray();
        double sum = 0;
        for (double d : analysis.deltas()) {
          deltas.add(d);
          sum += d;
        }
        row.add("delta", deltas);
        extra = String.format(Locale.ROOT, ",%s,%s,%s,%s", last.mean(), last.std(), last.nzr(),
            sum / analysis.deltas().length);
      }
      Files.writeString(dir.resolve("metrics.jsonl"), row + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
      Files.writeString(dir.resolve("metrics.csv"), String.format(Locale.ROOT, "%d,%s,%s,%s,%s,%s,%s,%s,%s%s%n", epoch,
          e.lastLr(), e.loss(), e.accuracy(), test.loss(), test.top1(), test.top5(), e.imagesPerSecond(), e.seconds(),
          extra),
          StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot write to the run folder " + dir + ": " + ex.getMessage(), ex);
    }
  }

  /**
   * Reads {@code dir}'s checkpoint metadata and sets the run's options on {@code cmd} from its
   * config (the LR after any halving); returns the completed epochs and steps.
   */
  static Resumed readResume(Path dir, TrainCommand cmd) throws IOException {
    Path file = dir.resolve(CHECKPOINT);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--resume " + dir + ": no " + CHECKPOINT + " there");
    }
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      Map<String, String> meta = f.metadata();
      String json = meta.get("config");
      if (json == null || meta.get("epoch") == null || meta.get("step") == null) {
        throw new IllegalArgumentException(file + ": no config/epoch/step metadata: not a checkpoint of resnorm train");
      }
      try {
        JsonObject c = JsonParser.parseString(json).getAsJsonObject();
        cmd.arch = c.get("arch").getAsString();
        cmd.dataset = c.get("dataset").getAsString();
        if (cmd.data == null && c.has("data")) {
          cmd.data = Path.of(c.get("data").getAsString());
        }
        cmd.depth = c.get("depth").getAsInt();
        JsonElement w = c.get("widths");
        cmd.widths = new int[w.getAsJsonArray().size()];
        for (int i = 0; i < cmd.widths.length; i++) {
          cmd.widths[i] = w.getAsJsonArray().get(i).getAsInt();
        }
        cmd.norm = c.get("norm").getAsString();
        cmd.act = c.get("act").getAsString();
        cmd.shortcut = c.get("shortcut").getAsString();
        if (c.has("crop")) {
          cmd.crop = c.get("crop").getAsInt();
          cmd.resize = c.get("resize").getAsInt();
        }
        cmd.limitTrain = c.get("limit_train").getAsInt();
        cmd.limitTest = c.get("limit_test").getAsInt();
        cmd.batch = c.get("batch").getAsInt();
        cmd.lr = meta.containsKey("lr") ? Float.parseFloat(meta.get("lr")) : c.get("lr").getAsFloat();
        cmd.wd = c.get("wd").getAsFloat();
        cmd.schedule = c.get("schedule").getAsString();
        cmd.epochs = c.get("epochs").getAsInt();
        cmd.augment = c.get("augment").getAsBoolean();
        cmd.autoLrHalving = c.get("auto_lr_halving").getAsBoolean();
        cmd.seed = c.get("seed").getAsLong();
        if (c.has("analyze_every")) {
          cmd.analyzeEvery = c.get("analyze_every").getAsInt();
          cmd.analyzeSamples = c.get("analyze_samples").getAsInt();
        }
        return new Resumed(Integer.parseInt(meta.get("epoch")), Long.parseLong(meta.get("step")));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException(file + ": its config metadata is incomplete or malformed ("
            + e.getMessage() + "); was it written by an older resnorm?");
      }
    }
  }
}
