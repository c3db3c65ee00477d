package org.resnorm.cli;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import org.resnorm.analysis.Analysis;
import org.resnorm.analysis.AnalysisReport;
import org.resnorm.analysis.Analyzer;
import org.resnorm.analysis.Plots;
import org.resnorm.core.Engine;
import org.resnorm.data.Dataset;
import org.resnorm.data.Split;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code analyze}: the paper's analysis quantities of one or more checkpoints written by
 * {@code train}, on the first {@code --samples} test images in eval mode (org.resnorm.analysis):
 * delta per residual block (Fig. 2; x_l through shortcut A's identity map where a block
 * reshapes), the mean, std and non-zero ratio of the activation before the classifier
 * (Table 1), and the coherence of every conv's filters (Fig. 3). Writes analysis.json,
 * analysis.md, delta.png and coherence.png into {@code --out}; several checkpoints share the
 * tables and overlay in the plots.
 *
 * <p>Every checkpoint is checked before anything runs: it must exist, hold resnorm's
 * {@code config} metadata, fit the dataset's channels and classes, and, where its metadata
 * names the dataset it was trained on, name this one.
 */
@Command(name = "analyze", mixinStandardHelpOptions = true,
    description = {"The paper's analysis of trained checkpoints: delta per residual block (Fig. 2), mean/std/NZR of "
        + "the activation before the classifier (Table 1), filter coherence per conv (Fig. 3).",
        "Writes analysis.json, analysis.md, delta.png and coherence.png into --out."})
final class AnalyzeCommand implements Callable<Integer> {
  @Option(names = "--checkpoint", required = true, paramLabel = "FILE",
      description = "A checkpoint.safetensors written by train; repeat to compare several in one report.")
  List<Path> checkpoints;

  @Option(names = "--label", paramLabel = "NAME",
      description = "The name of each checkpoint in tables and legends, once per --checkpoint, in order "
          + "(default: '<norm> <act>', with the file name added where two would be the same).")
  List<String> labels;

  @Option(names = "--dataset", description = "fashion-mnist (default), cifar10 or cifar100.")
  String dataset = "fashion-mnist";

  @Option(names = "--data", description = "Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
  Path data;

  @Option(names = "--out", required = true, description = "Folder for analysis.json, analysis.md and the PNG plots.")
  Path out;

  @Option(names = "--samples", description = "Test images to measure on, from the start of the test set "
      + "(default ${DEFAULT-VALUE}).")
  int samples = 500;

  @Option(names = "--batch", description = "Batch size of the forward passes (default ${DEFAULT-VALUE}).")
  int batch = 100;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Override
  public Integer call() throws IOException {
    if (samples < 1) {
      throw new IllegalArgumentException("--samples must be >= 1, got " + samples);
    }
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
    }
    if (threads != null && threads < 1) {
      throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
    }
    if (labels != null && labels.size() != checkpoints.size()) {
      throw new IllegalArgumentException("give --label once per --checkpoint (" + checkpoints.size()
          + " checkpoints, " + labels.size() + " labels), or not at all");
    }
    for (Path c : checkpoints) {
      if (!Files.isRegularFile(c)) {
        throw new IllegalArgumentException("--checkpoint " + c + ": no such file");
      }
    }
    Dataset test = Datasets.load(dataset, data, Split.TEST, samples);
    List<ResNetConfig> configs = new ArrayList<>();
    for (Path c : checkpoints) {
      try (SafeTensorsFile f = SafeTensors.read(c)) {
        configs.add(checkedConfig(c, f, test));
      }
    }
    List<String> names = labels != null ? labels : defaultLabels(configs);
    if (new HashSet<>(names).size() != names.size()) {
      throw new IllegalArgumentException("the labels must differ (they name the plot series): " + names);
    }
    Files.createDirectories(out);
    List<AnalysisReport.Entry> entries = new ArrayList<>();
    try (Engine engine = threads == null ? Engine.create() : Engine.create(threads)) {
      for (int i = 0; i < checkpoints.size(); i++) {
        Path c = checkpoints.get(i);
        try (SafeTensorsFile f = SafeTensors.read(c);
            ResNet net = ResNet.create(engine, configs.get(i), Math.max(2, Math.min(batch, test.size())),
                test.height(), test.width(), 0)) {
          ResNetCheckpoint.load(net, f, false);
          Analysis a = Analyzer.analyze(names.get(i), net, test, samples);
          entries.add(new AnalysisReport.Entry(a, c, f.metadata()));
          System.out.println(summary(a));
        }
      }
    }
    AnalysisReport.write(out, test.name(), samples, entries);
    List<Analysis> analyses = entries.stream().map(AnalysisReport.Entry::analysis).toList();
    Plots.writeAll(analyses, out);
    System.out.printf("delta: %s%n", AnalysisReport.RESHAPING_NOTE);
    System.out.printf("wrote %s, %s, %s and %s to %s%n", AnalysisReport.JSON, AnalysisReport.MARKDOWN, Plots.DELTA_PNG,
        Plots.COHERENCE_PNG, out);
    return 0;
  }

  /** The checkpoint's model, refused where it cannot have been trained on {@code test}. */
  private ResNetConfig checkedConfig(Path file, SafeTensorsFile f, Dataset test) {
    ResNetConfig config = ResNetCheckpoint.config(f);
    if (test.channels() != config.inChannels() || test.numClasses() != config.classes()) {
      throw new IllegalArgumentException(file + " holds a model for " + config.inChannels() + " channels and "
          + config.classes() + " classes; " + test.name() + " has " + test.channels() + " and " + test.numClasses());
    }
    String trainedOn = recordedDataset(f);
    if (trainedOn != null && !trainedOn.equalsIgnoreCase(dataset)) {
      throw new IllegalArgumentException(file + " was trained on " + trainedOn + " (its config metadata), not on --dataset "
          + dataset);
    }
    return config;
  }

  /** The {@code dataset} of the checkpoint's config metadata, or null. */
  private static String recordedDataset(SafeTensorsFile f) {
    try {
      JsonElement d = JsonParser.parseString(f.metadata().get("config")).getAsJsonObject().get("dataset");
      return d != null && d.isJsonPrimitive() ? d.getAsString() : null;
    } catch (RuntimeException e) {
      return null;  // ResNetCheckpoint.config has accepted the metadata; it just does not say
    }
  }

  /** '<norm> <act>', the file name appended where that is not unique. */
  private List<String> defaultLabels(List<ResNetConfig> configs) {
    List<String> base = new ArrayList<>();
    for (ResNetConfig c : configs) {
      base.add(c.norm().cliName() + " " + c.act().name().toLowerCase(Locale.ROOT));
    }
    List<String> result = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < base.size(); i++) {
      String b = base.get(i);
      String label = b;
      if (base.indexOf(b) != base.lastIndexOf(b)) {
        Path p = checkpoints.get(i).toAbsolutePath();
        String file = p.getFileName().toString();
        label = b + " (" + (file.equals("checkpoint.safetensors") && p.getParent() != null
            ? p.getParent().getFileName() + "/" : "") + file + ")";
      }
      String unique = label;
      for (int k = 2; !seen.add(unique); k++) {
        unique = label + " #" + k;
      }
      result.add(unique);
    }
    return result;
  }

  private static String summary(Analysis a) {
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (Analysis.BlockDelta b : a.blocks()) {
      min = Math.min(min, b.delta());
      max = Math.max(max, b.delta());
    }
    double muMax = a.convs().stream().mapToDouble(Analysis.ConvCoherence::mu).filter(Double::isFinite).max()
        .orElse(Double.NaN);
    return String.format(Locale.ROOT, "%s: %s, %d images: delta %.4g .. %.4g over %d blocks; last activation "
        + "%.4g ± %.4g, NZR %.3f; coherence max %.4f over %d convs", a.label(), a.config(), a.images(), min, max,
        a.blocks().size(), a.lastActivation().mean(), a.lastActivation().std(), a.lastActivation().nzr(), muMax,
        a.convs().size());
  }
}
