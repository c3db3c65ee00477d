package org.resnorm.jmh;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.resnorm.bench.ConvCase;

/**
 * Runs the ceiling and conv benchmarks in one JMH run and prints the GFLOP/s table of
 * docs/PERFORMANCE.md (markdown). Any JMH command-line option is passed through, e.g.
 * {@code -p algo=auto,im2col} or {@code -wi 2 -i 3}; {@code --jmh} runs plain JMH instead.
 */
public final class Report {
  private Report() {}

  public static void main(String[] args) throws RunnerException, CommandLineOptionException, java.io.IOException {
    if (args.length > 0 && args[0].equals("--jmh")) {
      String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
      org.openjdk.jmh.Main.main(rest);
      return;
    }
    if (args.length > 0 && args[0].equals("--help")) {
      args[0] = "-h";
    }
    CommandLineOptions cli;
    try {
      cli = new CommandLineOptions(args);
    } catch (CommandLineOptionException e) {
      // a bad flag: JMH's message, not a stack trace
      System.err.println("error: " + e.getMessage() + " (-h lists the options)");
      System.exit(2);
      return;
    }
    if (cli.shouldHelp()) {
      System.out.println("Runs resnorm's benchmarks (sgemm and copy ceilings, convs, SGD, batch norm, weight norm,"
          + " CReLU chain) and prints the tables of docs/PERFORMANCE.md. JMH's options pass through"
          + " (-e to exclude, -p to set parameters, -wi/-i/-w/-r for iterations and times); --jmh runs"
          + " plain JMH.");
      cli.showHelp();
      return;
    }
    ChainedOptionsBuilder opts = new OptionsBuilder().parent(cli)
        .include(CeilingBenchmark.class.getSimpleName())
        .include(ConvBenchmark.class.getSimpleName())
        .include(SgdBenchmark.class.getSimpleName())
        .include(BatchNormBenchmark.class.getSimpleName())
        .include(WeightNormBenchmark.class.getSimpleName())
        .include(CreluChainBenchmark.class.getSimpleName())
        .jvmArgsAppend("--enable-native-access=ALL-UNNAMED");
    if (!cli.getForkCount().hasValue()) {
      opts.forks(1);
    }
    // Our defaults for what the command line leaves open (JMH's own are 5 x 10 s).
    if (!cli.getWarmupIterations().hasValue()) {
      opts.warmupIterations(3);
    }
    if (!cli.getWarmupTime().hasValue()) {
      opts.warmupTime(TimeValue.seconds(1));
    }
    if (!cli.getMeasurementIterations().hasValue()) {
      opts.measurementIterations(5);
    }
    if (!cli.getMeasurementTime().hasValue()) {
      opts.measurementTime(TimeValue.seconds(1));
    }
    Collection<RunResult> results = new Runner(opts.build()).run();

    double sgemmMs = Double.NaN;
    double copyMs = Double.NaN;
    List<RunResult> conv = new ArrayList<>();
    List<RunResult> sgd = new ArrayList<>();
    List<RunResult> bn = new ArrayList<>();
    List<RunResult> wn = new ArrayList<>();
    List<RunResult> chain = new ArrayList<>();
    for (RunResult r : results) {
      String name = r.getParams().getBenchmark();
      if (name.endsWith("sgemm2048")) {
        sgemmMs = r.getPrimaryResult().getScore();
      } else if (name.endsWith("copy256MiB")) {
        copyMs = r.getPrimaryResult().getScore();
      } else if (name.contains("SgdBenchmark")) {
        sgd.add(r);
      } else if (name.contains("BatchNormBenchmark")) {
        bn.add(r);
      } else if (name.contains("WeightNormBenchmark")) {
        wn.add(r);
      } else if (name.contains("CreluChainBenchmark")) {
        chain.add(r);
      } else {
        conv.add(r);
      }
    }
    double n = CeilingBenchmark.SGEMM_N;
    double sgemm = 2 * n * n * n / (sgemmMs * 1e-3) * 1e-9;
    double copy = 2.0 * 4 * CeilingBenchmark.COPY_FLOATS / (copyMs * 1e-3) * 1e-9;
    System.out.println();
    System.out.printf("Ceilings (same run): OpenBLAS sgemm 2048^3 = %.1f GFLOP/s, copy = %.1f GB/s%n%n", sgemm, copy);
    System.out.println("| shape | direction | algo | batch | ms (±err) | GFLOP/s | % of sgemm |");
    System.out.println("|---|---|---|---|---|---|---|");
    for (RunResult r : conv) {
      String method = r.getParams().getBenchmark();
      method = method.substring(method.lastIndexOf('.') + 1);
      ConvCase cc = ConvCase.RESNET110.get(Integer.parseInt(r.getParams().getParam("shape")));
      int batch = Integer.parseInt(r.getParams().getParam("batch"));
      double ms = r.getPrimaryResult().getScore();
      double err = r.getPrimaryResult().getScoreError();
      double gflops = cc.flops(batch) / (ms * 1e-3) * 1e-9;
      System.out.printf("| %s | %s | %s | %d | %.3f (±%.3f) | %.1f | %.0f%% |%n", cc.name(), method,
          r.getParams().getParam("algo"), batch, ms, Double.isNaN(err) ? 0 : err, gflops, 100 * gflops / sgemm);
    }
    if (!sgd.isEmpty()) {
      System.out.println();
      System.out.println("| SGD step (16 Mi params) | ms (±err) | GB/s of the fused traffic (20 B/param) | % of copy |");
      System.out.println("|---|---|---|---|");
      for (RunResult r : sgd) {
        double ms = r.getPrimaryResult().getScore();
        double gbps = 20.0 * SgdBenchmark.COUNT / (ms * 1e-3) * 1e-9;
        System.out.printf("| %s | %.3f (±%.3f) | %.1f | %.0f%% |%n", r.getParams().getParam("variant"), ms,
            r.getPrimaryResult().getScoreError(), gbps, 100 * gbps / copy);
      }
    }
    if (!bn.isEmpty()) {
      printBatchNorm(bn, copy);
    }
    if (!wn.isEmpty()) {
      printWeightNorm(wn);
    }
    if (!chain.isEmpty()) {
      printCreluChain(chain);
    }
  }

  /** Batch norm + CReLU feeding the next conv, three ways, against unfused (CreluChainBenchmark). */
  private static void printCreluChain(List<RunResult> chain) {
    java.util.Map<String, Double> unfusedMs = new java.util.HashMap<>();
    for (RunResult r : chain) {
      if (r.getParams().getParam("variant").equals("unfused")) {
        unfusedMs.put(r.getParams().getBenchmark() + "/" + r.getParams().getParam("tensor"),
            r.getPrimaryResult().getScore());
      }
    }
    System.out.println();
    System.out.println("| BN + CReLU -> conv 3x3 2C->C | u | variant | ms (±err) | speedup over unfused |");
    System.out.println("|---|---|---|---|---|");
    for (RunResult r : chain) {
      String method = r.getParams().getBenchmark();
      String key = method + "/" + r.getParams().getParam("tensor");
      method = method.substring(method.lastIndexOf('.') + 1);
      double ms = r.getPrimaryResult().getScore();
      Double base = unfusedMs.get(key);
      System.out.printf("| %s | %s | %s | %.3f (±%.3f) | %s |%n", method, r.getParams().getParam("tensor"),
          r.getParams().getParam("variant"), ms, r.getPrimaryResult().getScoreError(),
          base == null ? "" : String.format("%.2fx", base / ms));
    }
  }

  /** normprop2 (weight-normalized conv + ReLU, fused) vs the plain conv baselines (WeightNormBenchmark). */
  private static void printWeightNorm(List<RunResult> wn) {
    java.util.Map<String, Double> ms = new java.util.HashMap<>();
    java.util.List<String> keys = new java.util.ArrayList<>();
    for (RunResult r : wn) {
      String key = r.getParams().getBenchmark() + "/" + r.getParams().getParam("shape");
      ms.put(key + "/" + r.getParams().getParam("variant"), r.getPrimaryResult().getScore());
      if (!keys.contains(key)) {
        keys.add(key);
      }
    }
    System.out.println();
    System.out.println("| weight-normalized conv | shape | plain conv + bias ms | + ReLU ms | normprop2 + ReLU ms "
        + "| vs plain | vs plain + ReLU (target <= 1.10) |");
    System.out.println("|---|---|---|---|---|---|---|");
    for (String key : keys) {
      String[] parts = key.split("/");
      String method = parts[0].substring(parts[0].lastIndexOf('.') + 1);
      ConvCase cc = ConvCase.RESNET110.get(Integer.parseInt(parts[1]));
      double plain = ms.getOrDefault(key + "/plain", Double.NaN);
      double plainRelu = ms.getOrDefault(key + "/plain_relu", Double.NaN);
      double np2 = ms.getOrDefault(key + "/normprop2", Double.NaN);
      System.out.printf("| %s | %s | %.3f | %.3f | %.3f | %.2fx | %.2fx |%n", method, cc.name(), plain, plainRelu, np2,
          np2 / plain, np2 / plainRelu);
    }
  }

  /** Fused BN+act vs the unfused sequence: GB/s of the fused op's minimal traffic (BatchNormBenchmark). */
  private static void printBatchNorm(List<RunResult> bn, double copy) {
    java.util.Map<String, Double> unfusedMs = new java.util.HashMap<>();
    for (RunResult r : bn) {
      if (r.getParams().getParam("variant").equals("unfused")) {
        unfusedMs.put(bnKey(r), r.getPrimaryResult().getScore());
      }
    }
    System.out.println();
    System.out.println("| BN training | shape | act | variant | ms (±err) | GB/s of the fused traffic | % of copy "
        + "| fused speedup |");
    System.out.println("|---|---|---|---|---|---|---|---|");
    for (RunResult r : bn) {
      String method = r.getParams().getBenchmark();
      method = method.substring(method.lastIndexOf('.') + 1);
      String shape = r.getParams().getParam("tensor");
      String act = r.getParams().getParam("act");
      String variant = r.getParams().getParam("variant");
      double ms = r.getPrimaryResult().getScore();
      double gbps = BatchNormBenchmark.bytes(shape, act, method.equals("backward")) / (ms * 1e-3) * 1e-9;
      Double base = unfusedMs.get(bnKey(r));
      String speedup = variant.equals("fused") && base != null ? String.format("%.2fx", base / ms) : "";
      System.out.printf("| %s | %s | %s | %s | %.3f (±%.3f) | %.1f | %.0f%% | %s |%n", method, shape, act, variant, ms,
          r.getPrimaryResult().getScoreError(), gbps, 100 * gbps / copy, speedup);
    }
  }

  private static String bnKey(RunResult r) {
    return r.getParams().getBenchmark() + "/" + r.getParams().getParam("tensor") + "/" + r.getParams().getParam("act");
  }
}
