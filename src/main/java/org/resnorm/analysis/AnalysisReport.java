package org.resnorm.analysis;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.resnorm.model.ResNetConfig;

/**
 * Writes analyses as {@code analysis.json} (every number, for scripts) and {@code analysis.md}
 * (the paper's tables and the plots of {@link Plots}). Undefined numbers (a NaN coherence) are
 * JSON {@code null} and "n/a" in the tables.
 */
public final class AnalysisReport {
  public static final String JSON = "analysis.json";
  public static final String MARKDOWN = "analysis.md";

  /** How delta treats blocks that change the shape (recorded in both files). */
  public static final String RESHAPING_NOTE = "where a block changes the shape (stride 2, more channels), x_l is "
      + "mapped by shortcut A's parameter-free identity before the subtraction: x[:, :, ::2, ::2] with zero channels "
      + "appended after its own (whatever the network's shortcut)";

  static final String DELTA_DEFINITION = "delta_l = mean over output positions (i,j) of ||x_l(:,i,j) - "
      + "x_{l+1}(:,i,j)||_2 (L2 over channels), averaged over the images; x_l = block input, x_{l+1} = block output "
      + "after its ReLU";
  static final String ACTIVATION_DEFINITION = "The last residual block's output (after its ReLU, before global "
      + "average pooling) over all entries of the images: mean, population std, NZR = fraction of entries != 0";
  static final String COHERENCE_DEFINITION = "mu = max_{i != j} |W_i . W_j| / (||W_i|| ||W_j||), rows W_i = "
      + "filters flattened over C*R*S (weight_v for weight-normalized convs), float64; filters of norm 0 take part "
      + "in no pair";

  /**
   * One analysed checkpoint.
   *
   * @param analysis the measured quantities
   * @param checkpoint the file they come from (null: not from a file)
   * @param metadata the checkpoint's string metadata (its {@code config} JSON and {@code epoch}
   *     are reported when present)
   */
  public record Entry(Analysis analysis, Path checkpoint, Map<String, String> metadata) {
    public Entry {
      metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }
  }

  private AnalysisReport() {}

  /** The JSON document: dataset, definitions, and per checkpoint its model, delta, statistics and coherence. */
  public static JsonObject json(String dataset, int samplesRequested, List<Entry> entries) {
    JsonObject root = new JsonObject();
    root.addProperty("dataset", dataset);
    root.addProperty("split", "test");
    root.addProperty("samples_requested", samplesRequested);
    root.addProperty("mode", "eval (BatchNorm running statistics)");
    JsonObject defs = new JsonObject();
    defs.addProperty("delta", DELTA_DEFINITION);
    defs.addProperty("delta_reshaping_blocks", RESHAPING_NOTE);
    defs.addProperty("last_activation", ACTIVATION_DEFINITION);
    defs.addProperty("coherence", COHERENCE_DEFINITION);
    defs.addProperty("indices", "blocks and convs are numbered from 0 in forward order here, from 1 in analysis.md "
        + "and the plots");
    root.add("definitions", defs);
    JsonArray list = new JsonArray();
    for (Entry e : entries) {
      Analysis a = e.analysis();
      JsonObject o = new JsonObject();
      o.addProperty("label", a.label());
      o.addProperty("checkpoint", e.checkpoint() == null ? null : e.checkpoint().toString());
      if (e.metadata().containsKey("epoch")) {
        o.addProperty("epoch", e.metadata().get("epoch"));
      }
      o.add("model", model(a.config()));
      String config = e.metadata().get("config");
      if (config != null) {
        o.add("config", parseOrString(config));
      }
      o.addProperty("images", a.images());
      JsonArray blocks = new JsonArray();
      for (Analysis.BlockDelta b : a.blocks()) {
        JsonObject bo = new JsonObject();
        bo.addProperty("index", b.index());
        bo.addProperty("name", b.name());
        bo.add("in_shape", ints(b.inShape()));
        bo.add("out_shape", ints(b.outShape()));
        bo.addProperty("stride", b.stride());
        bo.addProperty("reshapes", b.reshapes());
        bo.add("delta", number(b.delta()));
        blocks.add(bo);
      }
      o.add("blocks", blocks);
      ActivationStats.Summary s = a.lastActivation();
      JsonObject act = new JsonObject();
      act.add("mean", number(s.mean()));
      act.add("std", number(s.std()));
      act.add("nzr", number(s.nzr()));
      act.addProperty("entries", s.entries());
      o.add("last_activation", act);
      JsonArray convs = new JsonArray();
      for (Analysis.ConvCoherence c : a.convs()) {
        JsonObject co = new JsonObject();
        co.addProperty("name", c.name());
        co.addProperty("tensor", c.tensor());
        co.addProperty("filters", c.filters());
        co.addProperty("fan_in", c.fanIn());
        co.add("coherence", number(c.mu()));
        convs.add(co);
      }
      o.add("convs", convs);
      list.add(o);
    }
    root.add("checkpoints", list);
    return root;
  }

  /** The Markdown report: networks, Table 1's statistics, delta and coherence tables, the plots. */
  public static String markdown(String dataset, int samplesRequested, List<Entry> entries) {
    StringBuilder md = new StringBuilder();
    md.append("# Analysis: normalization and CReLU in residual networks (Shang et al., AAAI 2017)\n\n");
    md.append(String.format(Locale.ROOT, "Test set: %s, the first %d images (asked for %d), eval mode.%n%n", dataset,
        entries.isEmpty() ? 0 : entries.get(0).analysis().images(), samplesRequested));
    md.append("## Networks\n\n| label | model | checkpoint | epoch | images |\n|---|---|---|---|---|\n");
    for (Entry e : entries) {
      md.append(row(e.analysis().label(), e.analysis().config().toString(),
          e.checkpoint() == null ? "" : "`" + e.checkpoint() + "`", e.metadata().getOrDefault("epoch", ""),
          Integer.toString(e.analysis().images())));
    }
    md.append("\n## Activation before the classifier (Table 1)\n\n").append(ACTIVATION_DEFINITION).append(".\n\n");
    md.append("| label | mean ± std | NZR | entries |\n|---|---|---|---|\n");
    for (Entry e : entries) {
      ActivationStats.Summary s = e.analysis().lastActivation();
      md.append(row(e.analysis().label(), fmt(s.mean(), "%.4g") + " ± " + fmt(s.std(), "%.4g"),
          fmt(s.nzr(), "%.3f"), Long.toString(s.entries())));
    }
    md.append("\n## Delta per residual block (Fig. 2)\n\n").append(DELTA_DEFINITION).append("; ")
        .append(RESHAPING_NOTE).append(" (rows marked *).\n\n![delta per block](").append(Plots.DELTA_PNG)
        .append(")\n\n");
    int blocks = entries.stream().mapToInt(e -> e.analysis().blocks().size()).max().orElse(0);
    md.append(header("block", "name", "shape in -> out", entries));
    for (int i = 0; i < blocks; i++) {
      Analysis.BlockDelta first = null;
      StringBuilder values = new StringBuilder();
      for (Entry e : entries) {
        List<Analysis.BlockDelta> bs = e.analysis().blocks();
        Analysis.BlockDelta b = i < bs.size() ? bs.get(i) : null;
        first = first == null ? b : first;
        values.append(" | ").append(b == null ? "" : fmt(b.delta(), "%.4g"));
      }
      md.append("| ").append(i + 1).append(first.reshapes() ? "*" : "").append(" | ").append(first.name())
          .append(" | ").append(shape(first.inShape())).append(" -> ").append(shape(first.outShape()))
          .append(values).append(" |\n");
    }
    md.append("\n## Coherence per conv (Fig. 3)\n\n").append(COHERENCE_DEFINITION).append(".\n\n![coherence per conv](")
        .append(Plots.COHERENCE_PNG).append(")\n\n");
    int convs = entries.stream().mapToInt(e -> e.analysis().convs().size()).max().orElse(0);
    md.append(header("conv", "name", "filters x fan-in", entries));
    for (int i = 0; i < convs; i++) {
      Analysis.ConvCoherence first = null;
      StringBuilder values = new StringBuilder();
      for (Entry e : entries) {
        List<Analysis.ConvCoherence> cs = e.analysis().convs();
        Analysis.ConvCoherence c = i < cs.size() ? cs.get(i) : null;
        first = first == null ? c : first;
        values.append(" | ").append(c == null ? "" : fmt(c.mu(), "%.4f"));
      }
      md.append("| ").append(i + 1).append(" | ").append(first.name()).append(" | ").append(first.filters())
          .append(" x ").append(first.fanIn()).append(values).append(" |\n");
    }
    if (entries.size() > 1) {
      md.append("\nWhere the networks differ in depth, a row's name and shape are those of the first network that "
          + "has the row.\n");
    }
    return md.toString();
  }

  /** Writes {@link #JSON} and {@link #MARKDOWN} into {@code dir}. */
  public static void write(Path dir, String dataset, int samplesRequested, List<Entry> entries) throws IOException {
    Files.createDirectories(dir);
    String json = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create()
        .toJson(json(dataset, samplesRequested, entries));
    Files.writeString(dir.resolve(JSON), json + "\n", StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(MARKDOWN), markdown(dataset, samplesRequested, entries), StandardCharsets.UTF_8);
  }

  private static JsonObject model(ResNetConfig c) {
    JsonObject m = new JsonObject();
    m.addProperty("description", c.toString());
    m.addProperty("arch", c.arch().name().toLowerCase(Locale.ROOT));
    m.addProperty("depth", c.depth());
    m.add("widths", ints(c.widths()));
    m.addProperty("norm", c.norm().cliName());
    m.addProperty("act", c.act().name().toLowerCase(Locale.ROOT));
    m.addProperty("shortcut", c.shortcut().name());
    m.addProperty("in_channels", c.inChannels());
    m.addProperty("classes", c.classes());
    return m;
  }

  private static JsonElement parseOrString(String s) {
    try {
      return JsonParser.parseString(s);
    } catch (RuntimeException e) {
      return new JsonPrimitive(s);
    }
  }

  private static JsonElement number(double v) {
    return Double.isFinite(v) ? new JsonPrimitive(v) : JsonNull.INSTANCE;
  }

  private static JsonArray ints(int[] v) {
    JsonArray a = new JsonArray();
    for (int x : v) {
      a.add(x);
    }
    return a;
  }

  private static String fmt(double v, String format) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, format, v) : "n/a";
  }

  private static String shape(int[] s) {
    return s[0] + "x" + s[1] + "x" + s[2];
  }

  private static String header(String a, String b, String c, List<Entry> entries) {
    StringBuilder h = new StringBuilder("| " + a + " | " + b + " | " + c);
    StringBuilder line = new StringBuilder("|---|---|---");
    for (Entry e : entries) {
      h.append(" | ").append(e.analysis().label().replace("|", "/"));
      line.append("|---");
    }
    return h.append(" |\n").append(line).append("|\n").toString();
  }

  private static String row(String... cells) {
    StringBuilder r = new StringBuilder("|");
    for (String c : cells) {
      r.append(' ').append(c.replace("|", "/")).append(" |");
    }
    return r.append('\n').toString();
  }
}
