package org.resnorm.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.resnorm.bench.Ceilings;
import org.resnorm.core.CudaGraph;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.Shortcut;
import org.resnorm.model.StepProfile;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench}: whole-network training and inference throughput on random data (no data
 * loading), next to the machine's sgemm ceiling measured in the same run, with the peak resident
 * memory; {@code --profile} adds a per-op-family breakdown of a training step. Run it only on a
 * quiet machine.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Training and inference images/s of a ResNet on random data (median/min/max), peak RSS, FLOP rate.")
final class BenchCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec commandSpec;

  @Option(names = "--arch", description = "cifar (default) or imagenet (then defaults: depth 50, widths 64-512, "
      + "shortcut B, size 224, 1000 classes).")
  String arch = "cifar";

  @Option(names = "--depth", description = "Depth (default ${DEFAULT-VALUE}).")
  int depth = 110;

  @Option(names = "--widths", split = ",", description = "Stage widths (default 16,32,64).")
  int[] widths = {16, 32, 64};

  @Option(names = "--norm", description = "plain, plain-nobias, batchnorm (default), normprop, normprop2, normprop3.")
  String norm = "batchnorm";

  @Option(names = "--act", description = "relu or crelu (default).")
  String act = "crelu";

  @Option(names = "--shortcut", description = "A (default) or B.")
  String shortcut = "A";

  @Option(names = "--batch", description = "Batch size (default ${DEFAULT-VALUE}).")
  int batch = 128;

  @Option(names = "--size", description = "Input height = width (default ${DEFAULT-VALUE}).")
  int size = 32;

  @Option(names = "--channels", description = "Input channels (default ${DEFAULT-VALUE}).")
  int channels = 3;

  @Option(names = "--classes", description = "Classes (default ${DEFAULT-VALUE}).")
  int classes = 10;

  @Option(names = "--steps", description = "Timed training steps, and as many inference batches (default ${DEFAULT-VALUE}).")
  int steps = 10;

  @Option(names = "--warmup", description = "Untimed steps first (default ${DEFAULT-VALUE}).")
  int warmup = 2;

  @Mixin DeviceOptions devices;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--graph", description = "With --device cuda: record one training step as a CUDA graph and "
      + "time its replays (one launch per step) instead of launching every op from Java.")
  boolean graph;

  @Option(names = "--profile", description = "Also time each op family over --steps more steps and print the breakdown "
      + "(with --device cuda the device is synchronized around every op).")
  boolean profile;

  @Option(names = "--rss-every", description = "Print the resident set every N training steps (0: never; default ${DEFAULT-VALUE}).")
  int rssEvery = 0;

  @Option(names = "--no-ceiling", description = "Skip the sgemm ceiling measurement.")
  boolean noCeiling;

  @Override
  public Integer call() {
    devices.require();
    if (batch < 2 || steps < 1 || warmup < 0 || size < 1 || channels < 1 || classes < 2 || rssEvery < 0) {
      throw new IllegalArgumentException("need --batch >= 2, --steps >= 1, --warmup >= 0, --size >= 1, "
          + "--channels >= 1, --classes >= 2, --rss-every >= 0");
    }
    boolean imagenet = ResNetConfig.Arch.parse(arch) == ResNetConfig.Arch.IMAGENET;
    if (imagenet) {  // the ImageNet networks' defaults, unless given
      var given = commandSpec.commandLine().getParseResult();
      depth = given.hasMatchedOption("--depth") ? depth : 50;
      widths = given.hasMatchedOption("--widths") ? widths : new int[] {64, 128, 256, 512};
      shortcut = given.hasMatchedOption("--shortcut") ? shortcut : "B";
      size = given.hasMatchedOption("--size") ? size : 224;
      classes = given.hasMatchedOption("--classes") ? classes : 1000;
    }
    ResNetConfig config = new ResNetConfig(imagenet ? ResNetConfig.Arch.IMAGENET : ResNetConfig.Arch.CIFAR, depth,
        widths, Norm.parse(norm), Act.parse(act), Shortcut.parse(shortcut), channels, classes);
    if (graph && !devices.cuda()) {
      throw new IllegalArgumentException("--graph needs --device cuda");
    }
    try (Engine engine = devices.engine(threads)) {
      // the CPU's sgemm is no ceiling for a GPU
      boolean ceiling = !noCeiling && !engine.isCuda();
      double sgemm = ceiling ? Ceilings.sgemmGflops(2048, engine.threads(), 3) : Double.NaN;
      System.out.printf(Locale.ROOT, "model: %s, batch %d, input %dx%dx%d%n", config, batch, channels, size, size);
      if (engine.isCuda()) {
        System.out.printf(Locale.ROOT, "engine: %s (%s)%n", engine.deviceName(),
            graph ? "training steps replayed from a CUDA graph" : "eager: every op launched from Java");
      } else {
        System.out.printf(Locale.ROOT, "engine: %d threads, %s; sgemm ceiling (2048^3, same threads) %s GFLOP/s%n",
            engine.threads(), engine.isa(), ceiling ? String.format(Locale.ROOT, "%.1f", sgemm) : "not measured");
      }
      try (ResNet net = ResNet.create(engine, config, batch, size, size, 1);
          Sgd sgd = Sgd.paperRecipe(1e-4f);
          Tensor x = randomImages(batch, channels, size, 7);
          Tensor y = randomLabels(batch, classes, 8)) {
        for (int i = 0; i < warmup; i++) {
          net.forwardBackward(x, y);
          net.step(sgd, 0.01f);
        }
        double[] train = new double[steps];
        CudaGraph step = null;
        if (graph) {  // the step as one launch: recorded once, after the warm-up sized the workspace
          net.stage(x, y);
          step = engine.record(() -> {
            net.forwardBackwardStaged();
            net.step(sgd, 0.01f);
          });
          System.out.printf(Locale.ROOT, "graph: one training step recorded, %d nodes%n", step.nodes());
        }
        for (int i = 0; i < steps; i++) {
          long t0 = System.nanoTime();
          float loss;
          if (step != null) {
            step.launch();
            loss = net.stagedLoss();  // waits for the step
          } else {
            loss = net.forwardBackward(x, y);
            net.step(sgd, 0.01f);
          }
          engine.synchronize();  // CUDA ops are queued: time them done
          train[i] = (System.nanoTime() - t0) * 1e-9;
          if (!Float.isFinite(loss)) {
            throw new IllegalStateException("the loss became " + loss + " at step " + (i + 1));
          }
          if (rssEvery > 0 && (i + 1) % rssEvery == 0) {
            System.out.printf(Locale.ROOT, "step %d: resident %.1f MiB%n", i + 1, residentMiB("VmRSS"));
          }
        }
        if (step != null) {
          step.close();
        }
        double[] infer = new double[steps];
        net.forward(x, false);
        for (int i = 0; i < steps; i++) {
          long t0 = System.nanoTime();
          net.forward(x, false);
          engine.synchronize();
          infer[i] = (System.nanoTime() - t0) * 1e-9;
        }
        double trainFlops = net.trainingConvFlops();
        double median = median(train);
        System.out.printf(Locale.ROOT, "training:  %s img/s (median / min / max of %d steps), %.2f s/step%n",
            rates(train), steps, median);
        System.out.printf(Locale.ROOT, "           conv %.1f GFLOP/step, %.1f GFLOP/s at the median%s%n",
            trainFlops * 1e-9, trainFlops / median * 1e-9, Double.isNaN(sgemm) ? ""
                : String.format(Locale.ROOT, " (%.0f %% of sgemm)", 100 * trainFlops / median * 1e-9 / sgemm));
        double inferFlops = net.forwardConvFlops();
        System.out.printf(Locale.ROOT, "inference: %s img/s (median / min / max of %d batches), %.1f GFLOP/s%n",
            rates(infer), steps, inferFlops / median(infer) * 1e-9);
        System.out.printf(Locale.ROOT, "memory: peak resident %.1f MiB, now %.1f MiB (JVM heap included)%n",
            residentMiB("VmHWM"), residentMiB("VmRSS"));
        if (profile) {
          // On a GPU every timestamp waits for the device (see StepProfile): per-op device time
          // with launches serialized, so the wall time below exceeds the unprofiled step's.
          StepProfile p = new StepProfile(engine.isCuda() ? engine::synchronize : null);
          net.profile(p);
          long t0 = System.nanoTime();
          for (int i = 0; i < steps; i++) {
            net.forwardBackward(x, y);
            net.step(sgd, 0.01f);
          }
          double wall = (System.nanoTime() - t0) * 1e-9;
          net.profile(null);
          System.out.printf(Locale.ROOT, "profile of %d training steps (%.2f s/step wall, %.1f %% in timed ops%s):%n",
              steps, wall / steps, 100 * p.totalSeconds() / wall,
              engine.isCuda() ? "; the device synchronized around every op" : "");
          System.out.print(p.table(steps));
        }
      }
    }
    return 0;
  }

  private String rates(double[] seconds) {
    double[] s = seconds.clone();
    Arrays.sort(s);
    return String.format(Locale.ROOT, "%.1f / %.1f / %.1f", batch / median(seconds), batch / s[s.length - 1],
        batch / s[0]);
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  }

  /** A field of /proc/self/status in MiB (VmRSS: now, VmHWM: peak); NaN where there is none. */
  static double residentMiB(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return Double.NaN;
    }
    return Double.NaN;
  }

  private static Tensor randomImages(int n, int c, int size, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n * c * size * size];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return Tensor.of(v, n, c, size, size);
  }

  private static Tensor randomLabels(int n, int classes, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] v = new int[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextInt(classes);
    }
    return Tensor.ofInts(v, n);
  }
}
