package org.resnorm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.resnorm.bench.Ceilings;
import org.resnorm.bench.ConvCase;
import org.resnorm.core.Engine;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;
import org.resnorm.ops.ConvAlgo;
import org.resnorm.ops.Conv2d;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Quick timing of the conv kernels on the ResNet-110 shapes next to the machine's ceilings. JMH
 * ({@code jmh/}) is the reference measurement; this is for a fast look (and machines without
 * Maven). Run it only on a quiet machine.
 */
@Command(name = "bench-kernels", mixinStandardHelpOptions = true,
    description = "Time conv forward / backward-data / backward-filter on the ResNet-110 shapes (GFLOP/s vs sgemm).")
final class BenchKernelsCommand implements Callable<Integer> {
  @Option(names = "--batch", defaultValue = "128", description = "Batch size (default ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--isa", description = "generic, avx2 or avx512 (default: best).")
  String isa;

  @Option(names = "--algo", defaultValue = "auto", description = "auto, im2col, winograd or direct (default ${DEFAULT-VALUE}).")
  String algo;

  @Option(names = "--case", split = ",", description = "Case indices 0-7 (default: all).")
  List<String> cases;

  @Option(names = "--min-time", defaultValue = "1.0", description = "Seconds per measurement (default ${DEFAULT-VALUE}).")
  double minTime;

  @Option(names = "--no-ceilings", description = "Skip the sgemm / copy ceiling measurements.")
  boolean noCeilings;

  @Override
  public Integer call() {
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1");
    }
    if (!(minTime > 0)) {
      throw new IllegalArgumentException("--min-time must be > 0");
    }
    ConvAlgo convAlgo = ConvAlgo.parse(algo);
    List<ConvCase> selected = new ArrayList<>();
    if (cases == null) {
      selected.addAll(ConvCase.RESNET110);
    } else {
      for (String c : cases) {
        selected.add(ConvCase.find(c.trim()));
      }
    }
    try (Engine engine = threads == null ? Engine.create() : Engine.create(threads)) {
      if (isa != null) {
        engine.isa(Isa.parse(isa));
      }
      double sgemm = 0;
      if (!noCeilings) {
        sgemm = Ceilings.sgemmGflops(2048, engine.threads(), 3);
        double copy = Ceilings.copyGBps(engine, 3);
        System.out.printf("ceilings: OpenBLAS sgemm 2048^3 = %.1f GFLOP/s (%d threads); copy = %.1f GB/s%n", sgemm,
            engine.threads(), copy);
      }
      System.out.printf("engine: %d threads, isa %s, batch %d%n", engine.threads(), engine.isa().name().toLowerCase(),
          batch);
      // The median call is the figure to judge by; the best call (GFLOP/s), next to it, is what the
      // kernel does when nothing else on a shared machine slows it, as the sgemm ceiling above is
      // the best of its runs (on the 2-vCPU development VM the median ran 2-40 % under the best).
      System.out.printf("%-26s %-7s %-9s %9s %9s %8s %9s %8s%n", "case", "dir", "algo", "ms", "GFLOP/s", "%sgemm",
          "best", "%sgemm");
      for (ConvCase cc : selected) {
        benchCase(engine, cc, convAlgo, sgemm);
      }
    }
    return 0;
  }

  private void benchCase(Engine engine, ConvCase cc, ConvAlgo convAlgo, double sgemm) {
    ConvAlgo a = convAlgo;
    if (!a.appliesTo(3, 3, cc.stride(), cc.stride())) {
      a = ConvAlgo.AUTO;
    }
    int[] xs = {batch, cc.c(), cc.hw(), cc.hw()};
    try (Conv2d conv = new Conv2d(cc.c(), cc.k(), 3, 3, cc.stride(), cc.stride(), 1, 1, a);
        Tensor x = random(xs);
        Tensor w = random(conv.weightShape());
        Tensor y = Tensor.zeros(conv.outputShape(xs));
        Tensor dy = random(conv.outputShape(xs));
        Tensor dx = Tensor.zeros(xs);
        Tensor dw = Tensor.zeros(conv.weightShape())) {
      String[] dirs = {"fwd", "data", "filter"};
      Runnable[] runs = {
        () -> conv.forward(engine, x, w, null, y),
        () -> conv.backwardData(engine, dy, w, dx),
        () -> conv.backwardFilter(engine, x, dy, dw, null)
      };
      for (int d = 0; d < 3; d++) {
        double[] s = time(runs[d]);
        double gflops = cc.flops(batch) / s[0] * 1e-9, bestGflops = cc.flops(batch) / s[1] * 1e-9;
        System.out.printf("%-26s %-7s %-9s %9.3f %9.1f %8s %9.1f %8s%n", cc.name(), dirs[d],
            conv.resolvedAlgo(xs, d).name().toLowerCase(), s[0] * 1e3, gflops, percentOf(gflops, sgemm), bestGflops,
            percentOf(bestGflops, sgemm));
      }
    }
  }

  static String percentOf(double gflops, double sgemm) {
    return sgemm > 0 ? String.format("%.0f%%", 100 * gflops / sgemm) : "-";
  }

  /** {median, best} seconds per call over repeated runs of about minTime seconds in total. */
  private double[] time(Runnable r) {
    r.run(); // warm-up: workspace growth, page faults
    r.run();
    List<Double> samples = new ArrayList<>();
    long start = System.nanoTime();
    while (samples.size() < 5 || (System.nanoTime() - start) * 1e-9 < minTime) {
      long t0 = System.nanoTime();
      r.run();
      samples.add((System.nanoTime() - t0) * 1e-9);
    }
    return medianAndBest(samples);
  }

  /** {median, best (shortest)} of the call times; the median of an even count is the upper middle one. */
  static double[] medianAndBest(List<Double> seconds) {
    if (seconds.isEmpty()) {
      throw new IllegalArgumentException("no samples");
    }
    List<Double> sorted = new ArrayList<>(seconds);
    sorted.sort(Double::compare);
    return new double[] {sorted.get(sorted.size() / 2), sorted.get(0)};
  }

  private static Tensor random(int[] shape) {
    Tensor t = Tensor.empty(shape);
    SplittableRandom rng = new SplittableRandom(1);
    float[] v = new float[(int) t.numel()];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    t.copyFrom(v);
    return t;
  }
}
