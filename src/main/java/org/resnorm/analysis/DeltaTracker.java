package org.resnorm.analysis;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.resnorm.data.Dataset;
import org.resnorm.model.ResNet;

/**
 * Records the block deltas and the last activation's statistics while a network trains, every
 * {@code everyEpochs} epochs, for plots of how they evolve. A trainer calls {@link #due} after
 * each epoch and {@link #record} when it says so, between steps (the measurement runs eval-mode
 * forward passes on the trainer's own network, which leaves parameters, BatchNorm statistics
 * and optimizer state untouched). Not wired into {@code train}; not thread-safe.
 *
 * <pre>{@code
 * DeltaTracker tracker = new DeltaTracker(test, 500, 10);
 * ... after epoch e (1-based) ...
 * if (tracker.due(e)) {
 *   tracker.appendJsonl(runDir.resolve("delta.jsonl"), tracker.record(e, net));
 * }
 * }</pre>
 */
public final class DeltaTracker {
  /** One measurement: after {@code epoch} epochs, delta per block and the last activation's statistics. */
  public record Point(int epoch, int images, double[] deltas, ActivationStats.Summary lastActivation) {
    public Point {
      deltas = deltas.clone();
    }

    @Override
    public double[] deltas() {
      return deltas.clone();
    }
  }

  private final Dataset data;
  private final int samples;
  private final int everyEpochs;
  private final List<Point> history = new ArrayList<>();

  /** Measures on the first {@code samples} images of {@code data} every {@code everyEpochs} epochs. */
  public DeltaTracker(Dataset data, int samples, int everyEpochs) {
    if (data == null) {
      throw new IllegalArgumentException("data must not be null");
    }
    if (samples < 1 || everyEpochs < 1) {
      throw new IllegalArgumentException("samples and everyEpochs must be >= 1, got " + samples + ", " + everyEpochs);
    }
    this.data = data;
    this.samples = samples;
    this.everyEpochs = everyEpochs;
  }

  /** Whether to measure after {@code epoch} completed epochs (every {@code everyEpochs}-th). */
  public boolean due(int epoch) {
    return epoch > 0 && epoch % everyEpochs == 0;
  }

  /** Measures {@code net} now, keeps the point in {@link #history()} and returns it. */
  public Point record(int epoch, ResNet net) {
    Analysis a = Analyzer.analyze("epoch " + epoch, net, data, samples);
    double[] d = new double[a.blocks().size()];
    for (int i = 0; i < d.length; i++) {
      d[i] = a.blocks().get(i).delta();
    }
    Point p = new Point(epoch, a.images(), d, a.lastActivation());
    history.add(p);
    return p;
  }

  /** Every point recorded so far, in order. */
  public List<Point> history() {
    return List.copyOf(history);
  }

  /**
   * Appends {@code p} to {@code file} as one JSON line:
   * {@code {"epoch":E,"images":N,"delta":[...],"mean":m,"std":s,"nzr":z}}.
   */
  public void appendJsonl(Path file, Point p) throws IOException {
    JsonObject o = new JsonObject();
    o.addProperty("epoch", p.epoch());
    o.addProperty("images", p.images());
    JsonArray d = new JsonArray();
    for (double v : p.deltas()) {
      d.add(v);
    }
    o.add("delta", d);
    o.addProperty("mean", p.lastActivation().mean());
    o.addProperty("std", p.lastActivation().std());
    o.addProperty("nzr", p.lastActivation().nzr());
    Files.writeString(file, o + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }
}
