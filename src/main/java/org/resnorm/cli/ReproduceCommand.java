package org.resnorm.cli;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code reproduce}: runs the grid of one of the paper's tables (every row x {@code --seeds}
 * seeds, each a {@code train} run in its own folder under {@code OUT/cells/}) and writes the
 * median test error per row beside the paper's numbers ({@code OUT/table<N>.md}). Resumable: a
 * finished cell is not rerun and an interrupted one continues from its checkpoint
 * ({@code train --resume}), so killing and restarting the command loses at most an epoch per
 * cell. Runs use the paper's rule of halving a diverging LR ({@code --auto-lr-halving}).
 */
@Command(name = "reproduce", mixinStandardHelpOptions = true,
    description = "Run the grid of the paper's Table 2 or 3 (rows x seeds, resumable) and write a markdown table.")
final class ReproduceCommand implements Callable<Integer> {
  /** One row of a paper table: the model and the paper's CIFAR-10 / CIFAR-100 test errors (ResNet-110). */
  record Row(String norm, String act, int[] widths, double paperC10, double paperC100) {
    String id() {
      return norm + "-" + act + "-" + Arrays.toString(widths).replaceAll("[\\[\\] ]", "").replace(',', '-');
    }

    String label() {
      return norm + " " + act + " " + Arrays.toString(widths).replaceAll("[\\[\\] ]", "").replace(',', '-');
    }
  }

  static final int[] W16 = {16, 32, 64};

  /** Table 2 of the paper (ResNet-110, 164 epochs, median of 5). */
  static final List<Row> TABLE2 = List.of(
      new Row("plain", "relu", W16, 7.78, 36.10),
      new Row("plain-nobias", "relu", W16, 12.16, 40.00),
      new Row("normprop", "relu", W16, 11.60, 37.60),
      new Row("normprop2", "relu", W16, 7.46, 31.71),
      new Row("batchnorm", "relu", W16, 6.35, 27.46),
      new Row("batchnorm", "relu", new int[] {32, 64, 128}, 7.27, 27.33),
      new Row("plain", "crelu", W16, 6.86, 28.24),
      new Row("plain-nobias", "crelu", W16, 7.17, 28.71),
      new Row("normprop2", "crelu", W16, 7.22, 29.29),
      new Row("batchnorm", "crelu", W16, 5.72, 25.89));

  /** Table 1 (ResNet-110, CIFAR-100): the activation before the classifier; the paper's mean, std, NZR per row. */
  static final List<Row> TABLE1 = List.of(
      new Row("plain", "relu", W16, Double.NaN, Double.NaN),
      new Row("normprop", "relu", W16, Double.NaN, Double.NaN),
      new Row("batchnorm", "relu", W16, Double.NaN, Double.NaN),
      new Row("plain", "crelu", W16, Double.NaN, Double.NaN),
      new Row("normprop", "crelu", W16, Double.NaN, Double.NaN),
      new Row("batchnorm", "crelu", W16, Double.NaN, Double.NaN));
  static final double[][] TABLE1_PAPER = {
      {30.81, 36.69, 0.14}, {28.68, 33.58, 0.21}, {3.77, 4.43, 0.51}, {24.53, 26.02, 0.50}, {10.41, 10.28, 0.50},
      {1.94, 1.99, 0.50}};

  /** Table 3: batchnorm at similar parameter counts (CIFAR-10 at 16-32-64 / 12-24-48; CIFAR-100 wider, wd 5e-4). */
  static final List<Row> TABLE3 = List.of(
      new Row("batchnorm", "relu", W16, 6.35, Double.NaN),
      new Row("batchnorm", "relu", new int[] {32, 64, 128}, Double.NaN, 22.50),
      new Row("batchnorm", "crelu", new int[] {12, 24, 48}, 5.87, Double.NaN),
      new Row("batchnorm", "crelu", new int[] {24, 48, 96}, Double.NaN, 22.06));

  @Option(names = "--table", required = true, description = "1 (activation statistics), 2 (normalization x "
      + "activation) or 3 (widths).")
  int table;

  @Option(names = "--dataset", description = "fashion-mnist (default), cifar10 or cifar100.")
  String dataset = "fashion-mnist";

  @Option(names = "--data", description = "Dataset folder (default for fashion-mnist: the Debian package's).")
  Path data;

  @Option(names = "--depth", description = "CIFAR ResNet depth (default ${DEFAULT-VALUE}; the paper: 110).")
  int depth = 20;

  @Option(names = "--epochs", description = "Epochs per run (default ${DEFAULT-VALUE}; the paper: 164).")
  int epochs = 10;

  @Option(names = "--seeds", description = "Runs per row (default ${DEFAULT-VALUE}; the paper: 5).")
  int seeds = 3;

  @Option(names = "--rows", split = ",", description = "Only these rows, by id (e.g. batchnorm-crelu-16-32-64); "
      + "default: all of the table's.")
  List<String> rows;

  @Option(names = "--schedule", description = "LR schedule (default ${DEFAULT-VALUE}).")
  String schedule = "cifar";

  @Option(names = "--wd", description = "Weight decay (default 1e-4; Table 3 on cifar100: 5e-4).")
  Float wd;

  @Option(names = "--batch", description = "Batch size (default ${DEFAULT-VALUE}).")
  int batch = 128;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--limit-train", description = "Use only the first N training examples.")
  int limitTrain = -1;

  @Option(names = "--limit-test", description = "Use only the first N test examples.")
  int limitTest = -1;

  @Option(names = "--samples", description = "Table 1: test images the statistics are taken over (default "
      + "${DEFAULT-VALUE}).")
  int samples = 500;

  @Option(names = "--out", required = true, description = "Output folder (cells/, table<N>.md, table<N>.json).")
  Path out;

  @Override
  public Integer call() throws IOException {
    List<Row> grid = switch (table) {
      case 1 -> TABLE1;
      case 2 -> TABLE2;
      case 3 -> TABLE3;
      default -> throw new IllegalArgumentException("--table must be 1, 2 or 3");
    };
    if (seeds < 1 || epochs < 1) {
      throw new IllegalArgumentException("--seeds and --epochs must be >= 1");
    }
    List<Row> selected = new ArrayList<>();
    for (Row r : grid) {
      if (rows == null || rows.contains(r.id())) {
        selected.add(r);
      }
    }
    if (rows != null && selected.size() != rows.size()) {
      List<String> known = grid.stream().map(Row::id).toList();
      throw new IllegalArgumentException("unknown row in --rows " + rows + "; Table " + table + " has " + known);
    }
    Datasets.load(dataset, data, org.resnorm.data.Split.TEST, 1);  // a missing dataset fails here, not per cell
    float weightDecay = wd != null ? wd : table == 3 && dataset.equalsIgnoreCase("cifar100") ? 5e-4f : 1e-4f;
    Files.createDirectories(out.resolve("cells"));
    List<double[]> errors = new ArrayList<>();
    List<double[]> hours = new ArrayList<>();
    for (Row r : selected) {
      double[] err = new double[seeds];
      double[] sec = new double[seeds];
      for (int s = 0; s < seeds; s++) {
        Path cell = out.resolve("cells").resolve(r.id() + "-seed" + (s + 1));
        double[] result = runCell(r, s + 1, cell, weightDecay);
        err[s] = result[0];
        sec[s] = result[1];
      }
      errors.add(err);
      hours.add(sec);
    }
    String md = table == 1 ? table1(selected, errors, weightDecay) : markdown(selected, errors, hours, weightDecay);
    Files.writeString(out.resolve("table" + table + ".md"), md, StandardCharsets.UTF_8);
    System.out.print(md);
    return 0;
  }

  /** Trains (or resumes, or just reads) one cell; returns {test error %, training seconds} (NaN error if it diverged). */
  private double[] runCell(Row r, int seed, Path cell, float weightDecay) throws IOException {
    int done = completedEpochs(cell);
    if (done < epochs) {
      List<String> args = new ArrayList<>();
      if (done > 0) {
        args.addAll(List.of("train", "--resume", cell.toString(), "--log-every", "0"));
      } else {
        args.addAll(List.of("train", "--dataset", dataset, "--depth", Integer.toString(depth), "--widths",
            Arrays.toString(r.widths()).replaceAll("[\\[\\] ]", ""), "--norm", r.norm(), "--act", r.act(), "--epochs",
            Integer.toString(epochs), "--batch", Integer.toString(batch), "--wd", Float.toString(weightDecay),
            "--schedule", schedule, "--seed", Integer.toString(seed), "--auto-lr-halving", "--limit-train",
            Integer.toString(limitTrain), "--limit-test", Integer.toString(limitTest), "--log-every", "0", "--out",
            cell.toString()));
        if (data != null) {
          args.addAll(List.of("--data", data.toString()));
        }
      }
      if (threads != null) {
        args.addAll(List.of("--threads", threads.toString()));
      }
      System.out.printf("== %s, seed %d: %s%n", r.label(), seed, done > 0 ? "resuming after epoch " + done : "training");
      int rc = Main.run(args.toArray(new String[0]));
      if (rc != 0) {
        System.out.printf("== %s, seed %d: the run failed (exit %d); counted as diverged%n", r.label(), seed, rc);
        Files.writeString(cell.resolve("FAILED"), "exit " + rc + "\n");
        return new double[] {Double.NaN, 0};
      }
    }
    List<String> lines = Files.readAllLines(cell.resolve("metrics.jsonl"));
    double seconds = 0;
    double acc = Double.NaN;
    for (String line : lines) {
      JsonObject row = JsonParser.parseString(line).getAsJsonObject();
      seconds += row.get("seconds").getAsDouble();
      acc = row.get("test_acc").getAsDouble();
    }
    return new double[] {100 * (1 - acc), seconds};
  }

  /** Epochs in the cell's checkpoint (0 when there is none; a cell that failed before counts as finished). */
  private int completedEpochs(Path cell) throws IOException {
    if (Files.exists(cell.resolve("FAILED"))) {
      return epochs;
    }
    Path ckpt = cell.resolve(RunFolder.CHECKPOINT);
    if (!Files.isRegularFile(ckpt)) {
      return 0;
    }
    try (SafeTensorsFile f = SafeTensors.read(ckpt)) {
      return Integer.parseInt(f.metadata().getOrDefault("epoch", "0"));
    }
  }

  private String markdown(List<Row> selected, List<double[]> errors, List<double[]> seconds, float weightDecay) {
    boolean c100 = dataset.equalsIgnoreCase("cifar100");
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "## Table %d: test error %%, median of %d seed%s%n%n", table, seeds,
        seeds == 1 ? "" : "s"));
    sb.append(String.format(Locale.ROOT, "ours: ResNet-%d on %s, %d epochs, batch %d, schedule %s, weight decay %s%s; "
        + "paper: ResNet-110 on CIFAR-10 / CIFAR-100, 164 epochs, median of 5.%n%n", depth, dataset, epochs, batch,
        schedule, weightDecay, limitTrain > 0 ? ", first " + limitTrain + " training images" : ""));
    sb.append("| norm | act | widths | ours: median | ours: each seed | train time per run | paper CIFAR-10 | "
        + "paper CIFAR-100 |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < selected.size(); i++) {
      Row r = selected.get(i);
      double[] e = errors.get(i);
      String each = Arrays.stream(e).mapToObj(v -> Double.isNaN(v) ? "diverged" : String.format(Locale.ROOT, "%.2f", v))
          .reduce((a, b) -> a + ", " + b).orElse("");
      double meanSeconds = Arrays.stream(seconds.get(i)).average().orElse(0);
      sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %.1f min | %s | %s |%n", r.norm(), r.act(),
          Arrays.toString(r.widths()).replaceAll("[\\[\\] ]", "").replace(',', '-'), median(e), each,
          meanSeconds / 60, paper(r.paperC10(), !c100), paper(r.paperC100(), c100)));
    }
    return sb.toString();
  }

  /**
   * Table 1: per row, the median over seeds of the last activation's mean, std and NZR (the
   * analyze command's definitions, on the first --samples test images) beside the paper's.
   */
  private String table1(List<Row> selected, List<double[]> errors, float weightDecay) throws IOException {
    org.resnorm.data.Dataset test = Datasets.load(dataset, data, org.resnorm.data.Split.TEST, limitTest);
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "## Table 1: the activation before the classifier, median of %d seed%s%n%n",
        seeds, seeds == 1 ? "" : "s"));
    sb.append(String.format(Locale.ROOT, "ours: ResNet-%d on %s, %d epochs, batch %d, schedule %s, weight decay %s, "
        + "statistics over the first %d test images; paper: ResNet-110 on CIFAR-100.%n%n", depth, dataset, epochs, batch,
        schedule, weightDecay, Math.min(samples, test.size())));
    sb.append("| norm | act | ours: mean ± std | ours: NZR | ours: test error % | paper: mean ± std | paper: NZR |\n"
        + "|---|---|---|---|---|---|---|\n");
    try (org.resnorm.core.Engine engine = threads == null ? org.resnorm.core.Engine.create()
        : org.resnorm.core.Engine.create(threads)) {
      for (int i = 0; i < selected.size(); i++) {
        Row r = selected.get(i);
        double[] mean = new double[seeds];
        double[] std = new double[seeds];
        double[] nzr = new double[seeds];
        for (int s = 0; s < seeds; s++) {
          Path ckpt = out.resolve("cells").resolve(r.id() + "-seed" + (s + 1)).resolve(RunFolder.CHECKPOINT);
          if (Double.isNaN(errors.get(i)[s]) || !Files.isRegularFile(ckpt)) {
            mean[s] = std[s] = nzr[s] = Double.NaN;
            continue;
          }
          try (SafeTensorsFile f = SafeTensors.read(ckpt);
              org.resnorm.model.ResNet net = org.resnorm.model.ResNet.create(engine,
                  org.resnorm.model.ResNetCheckpoint.config(f), Math.max(2, Math.min(100, test.size())), test.height(),
                  test.width(), 0)) {
            org.resnorm.model.ResNetCheckpoint.load(net, f, false);
            org.resnorm.analysis.ActivationStats.Summary a = org.resnorm.analysis.Analyzer.analyze(r.label(), net,
                test, samples).lastActivation();
            mean[s] = a.mean();
            std[s] = a.std();
            nzr[s] = a.nzr();
          }
        }
        int row = TABLE1.indexOf(r);
        sb.append(String.format(Locale.ROOT, "| %s | %s | %s ± %s | %s | %s | %.2f ± %.2f | %.2f |%n", r.norm(),
            r.act(), median(mean), median(std), median(nzr), median(errors.get(i)), TABLE1_PAPER[row][0],
            TABLE1_PAPER[row][1], TABLE1_PAPER[row][2]));
      }
    }
    return sb.toString();
  }

  private static String paper(double v, boolean bold) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, bold ? "**%.2f**" : "%.2f", v);
  }

  /** Median of the finished runs (diverged runs count as worse than any), as text. */
  static String median(double[] errors) {
    double[] s = Arrays.stream(errors).map(v -> Double.isNaN(v) ? Double.POSITIVE_INFINITY : v).sorted().toArray();
    int n = s.length;
    double m = n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    return Double.isInfinite(m) ? "diverged" : String.format(Locale.ROOT, "%.2f", m);
  }
}
