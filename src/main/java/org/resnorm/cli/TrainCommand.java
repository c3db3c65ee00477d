package org.resnorm.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.resnorm.analysis.ActivationStats;
import org.resnorm.analysis.DeltaTracker;
import org.resnorm.core.Engine;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.ResNetSpec;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;
import org.resnorm.train.LrSchedule;
import org.resnorm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code train}: a CIFAR-style ResNet on Fashion-MNIST or CIFAR-10/100 with the paper's recipe
 * (SGD, momentum 0.9, Nesterov, weight decay, LR 0.1 divided by 10 at 50 % and 75 % of the
 * epochs), printing progress, test accuracy and training images/s; with {@code --out} a run
 * folder ({@link RunFolder}) that {@code --resume} continues exactly.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a ResNet of the paper and report test accuracy and images/s.")
final class TrainCommand implements Callable<Integer> {
  /** Options that define the run: with --resume they come from the checkpoint and may not be given. */
  static final List<String> RUN_OPTIONS = List.of("--dataset", "--depth", "--widths", "--norm", "--act", "--shortcut",
      "--epochs", "--batch", "--lr", "--wd", "--schedule", "--augment", "--seed", "--limit-train", "--limit-test",
      "--auto-lr-halving", "--arch", "--crop", "--resize", "--analyze-every", "--analyze-samples");

  @Spec CommandSpec commandSpec;

  @Option(names = "--dataset", description = "fashion-mnist (default), cifar10, cifar100 or imagenet (a folder "
      + "with train/<class>/*.JPEG and val/<class>/*.JPEG).")
  String dataset = "fashion-mnist";

  @Option(names = "--data", description = "Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
  Path data;

  @Option(names = "--arch", description = "cifar (default; imagenet with --dataset imagenet).")
  String arch;

  @Option(names = "--depth", description = "Depth: CIFAR 6n+2 (default 20), ImageNet 18, 34, 50, 101, 152 (default 18).")
  int depth = 20;

  @Option(names = "--widths", split = ",", description = "Stage widths (default 16,32,64; ImageNet 64,128,256,512).")
  int[] widths = {16, 32, 64};

  @Option(names = "--crop", description = "Image folders: training / eval crop size (default ${DEFAULT-VALUE}).")
  int crop = 224;

  @Option(names = "--resize", description = "Image folders: eval shorter-side resize (default ${DEFAULT-VALUE}).")
  int resize = 256;

  @Option(names = "--norm", description = "plain, plain-nobias, batchnorm (default), normprop, normprop2, normprop3.")
  String norm = "batchnorm";

  @Option(names = "--act", description = "relu or crelu (default).")
  String act = "crelu";

  @Option(names = "--shortcut", description = "A (default for CIFAR) or B (default for ImageNet).")
  String shortcut = "A";

  @Option(names = "--epochs", description = "Epochs (default ${DEFAULT-VALUE}).")
  int epochs = 1;

  @Option(names = "--batch", description = "Batch size (default ${DEFAULT-VALUE}).")
  int batch = 128;

  @Option(names = "--lr", description = "Initial learning rate (default ${DEFAULT-VALUE}).")
  float lr = 0.1f;

  @Option(names = "--wd", description = "Weight decay (default ${DEFAULT-VALUE}).")
  float wd = 1e-4f;

  @Option(names = "--schedule", description = "cifar (LR /10 at 50%% and 75%% of the epochs; default), imagenet "
      + "(/10 every 30 epochs), step:E1,E2,... (/10 at those epochs), cosine (per step, to 0) or const.")
  String schedule = "cifar";

  @Option(names = "--augment", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Random flip + crop of the zero-padded image while training (default on; --no-augment).")
  boolean augment = true;

  @Option(names = "--auto-lr-halving", description = "The paper's rule: if the loss is NaN/Inf or explodes in the "
      + "first epoch, restart from the initial weights with half the LR (up to 8 times).")
  boolean autoLrHalving;

  @Option(names = "--seed", description = "Seed of the initialization and the data order (default ${DEFAULT-VALUE}).")
  long seed = 1;

  @Mixin DeviceOptions devices;

  @Option(names = "--graph", description = "With --device cuda: replay each training step from a recorded CUDA graph "
      + "while the learning rate stays the same (one launch per step).")
  boolean graph;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--limit-train", description = "Use only the first N training examples.")
  int limitTrain = -1;

  @Option(names = "--limit-test", description = "Use only the first N test examples.")
  int limitTest = -1;

  @Option(names = "--out", description = "Run folder: checkpoint.safetensors (atomic, every epoch) and "
      + "metrics.jsonl / metrics.csv (one row per epoch).")
  Path out;

  @Option(names = "--resume", description = "Continue the run in this folder from its checkpoint (its settings are "
      + "used; on CPU with the same --threads the results equal an uninterrupted run's).")
  Path resume;

  @Option(names = "--stop-after", description = "Stop after this many epochs of the run (the schedule still spans "
      + "--epochs); --resume continues it.")
  Integer stopAfter;

  @Option(names = "--analyze-every", description = "Every E epochs, record the paper's block deltas and the last "
      + "activation's mean/std/NZR on --analyze-samples test images into the metrics files (0: never, default).")
  int analyzeEvery = 0;

  @Option(names = "--analyze-samples", description = "Test images for --analyze-every (default ${DEFAULT-VALUE}).")
  int analyzeSamples = 500;

  @Option(names = "--log-every", description = "Without a terminal, print progress every N steps (default "
      + "${DEFAULT-VALUE}; 0: no progress output). With a terminal a progress bar is shown unless 0.")
  int logEvery = 50;

  @Override
  public Integer call() throws IOException {
    devices.require();
    if (graph && !devices.cuda()) {
      throw new IllegalArgumentException("--graph needs --device cuda");
    }
    RunFolder.Resumed resumed = null;
    if (resume != null) {
      for (String o : RUN_OPTIONS) {
        if (commandSpec.commandLine().getParseResult().hasMatchedOption(o)) {
          throw new IllegalArgumentException(o + " cannot be given with --resume: the run's settings come from "
              + resume.resolve(RunFolder.CHECKPOINT));
        }
      }
      resumed = RunFolder.readResume(resume, this);
      if (out == null) {
        out = resume;
      }
    }
    if (arch == null) {
      arch = dataset.equalsIgnoreCase("imagenet") ? "imagenet" : "cifar";
    }
    boolean imagenet = ResNetConfig.Arch.parse(arch) == ResNetConfig.Arch.IMAGENET;
    if (imagenet && resumed == null) {  // the ImageNet networks' defaults, unless given
      var given = commandSpec.commandLine().getParseResult();
      depth = given.hasMatchedOption("--depth") ? depth : 18;
      widths = given.hasMatchedOption("--widths") ? widths : new int[] {64, 128, 256, 512};
      shortcut = given.hasMatchedOption("--shortcut") ? shortcut : "B";
    }
    Norm n = Norm.parse(norm);
    Act a = Act.parse(act);
    if (epochs <= 0 || batch < 2) {
      throw new IllegalArgumentException("--epochs must be >= 1 and --batch >= 2");
    }
    if (!(lr > 0) || !(wd >= 0)) {
      throw new IllegalArgumentException("--lr must be > 0 and --wd >= 0");
    }
    if (analyzeEvery < 0 || analyzeSamples < 1) {
      throw new IllegalArgumentException("--analyze-every must be >= 0 and --analyze-samples >= 1");
    }
    if (stopAfter != null && (stopAfter < 1 || stopAfter > epochs)) {
      throw new IllegalArgumentException("--stop-after must be in 1.." + epochs);
    }
    LrSchedule lrSchedule = LrSchedule.parse(schedule, lr, epochs);
    int firstEpoch = resumed == null ? 0 : resumed.epoch();
    if (firstEpoch >= epochs) {
      System.out.printf("%s: the run already finished its %d epochs; nothing to do%n", resume, epochs);
      return 0;
    }
    RunData runData = RunData.open(dataset, data, limitTrain, limitTest, crop, resize);
    ResNetConfig config = new ResNetConfig(imagenet ? ResNetConfig.Arch.IMAGENET : ResNetConfig.Arch.CIFAR, depth,
        widths, n, a, Shortcut.parse(shortcut), runData.channels(), runData.classes());
    System.out.printf("%s: %d train / %d test images of %dx%dx%d, %d classes%n", runData.name(), runData.trainSize(),
        runData.testSize(), runData.channels(), runData.height(), runData.width(), runData.classes());
    System.out.printf("model: %s, %,d parameters%n", config, ResNetSpec.of(config).parameterCount());
    try (Engine engine = devices.engine(threads);
        ResNet net = ResNet.create(engine, config, batch, runData.height(), runData.width(), seed);
        Sgd sgd = Sgd.paperRecipe(wd);
        Trainer trainer = new Trainer(engine, net, sgd, lrSchedule)) {
      trainer.useGraphs(graph);
      if (resumed != null) {
        try (SafeTensorsFile f = SafeTensors.read(resume.resolve(RunFolder.CHECKPOINT))) {
          ResNetCheckpoint.load(net, f, true);
        }
        trainer.setSteps(resumed.step());
        System.out.printf("resumed %s after epoch %d (step %d)%n", resume, firstEpoch, resumed.step());
      }
      System.out.printf("engine: %s; batch %d, lr %s (%s), weight decay %s, seed %d%n",
          engine.isCuda() ? engine.deviceName() : engine.threads() + " threads, " + engine.isa(), batch, lr, lrSchedule,
          wd, seed);
      RunFolder run = out == null ? null : new RunFolder(out, config, this, firstEpoch);
      DeltaTracker tracker = null;
      if (analyzeEvery > 0) {
        if (runData.testDataset() == null) {
          throw new IllegalArgumentException("--analyze-every needs an in-memory test set (not an image folder)");
        }
        tracker = new DeltaTracker(runData.testDataset(), analyzeSamples, analyzeEvery);
      }
      int lastEpoch = stopAfter == null ? epochs : stopAfter;
      double trainSeconds = 0;
      long trainImages = 0;
      Trainer.EvalStats result = null;
      for (int epoch = firstEpoch; epoch < lastEpoch; epoch++) {
        Trainer.EpochStats e = trainEpochWithHalving(trainer, net, runData, epoch);
        trainSeconds += e.seconds();
        trainImages += e.images();
        try (var testSource = runData.test(batch, false)) {
          result = Trainer.evaluate(engine, net, testSource);
        }
        DeltaTracker.Point analysis = tracker != null && tracker.due(epoch + 1) ? tracker.record(epoch + 1, net) : null;
        if (analysis != null) {
          ActivationStats.Summary last = analysis.lastActivation();
          System.out.printf(Locale.ROOT, "epoch %d analysis: last activation mean %.4f std %.4f NZR %.4f; block delta "
              + "first %.4f, last %.4f%n", epoch + 1, last.mean(), last.std(), last.nzr(), analysis.deltas()[0],
              analysis.deltas()[analysis.deltas().length - 1]);
        }
        if (run != null) {
          run.epochDone(net, trainer.steps(), e, result, analysis, this);
        }
        System.out.printf(Locale.ROOT, "epoch %d: lr %.4g  train loss %.4f acc %.4f  test loss %.4f acc %.4f%s  "
                + "%.1f s  %.0f img/s%n", epoch + 1, e.lastLr(), e.loss(), e.accuracy(), result.loss(), result.top1(),
            config.classes() > 10 ? String.format(Locale.ROOT, " top-5 %.4f", result.top5()) : "", e.seconds(),
            e.imagesPerSecond());
      }
      System.out.printf(Locale.ROOT, "test accuracy %.4f (top-1 error %.2f%%%s); training %.0f images/s%n",
          result.top1(), 100 * (1 - result.top1()), config.classes() > 10
              ? String.format(Locale.ROOT, ", top-5 error %.2f%%", 100 * (1 - result.top5())) : "",
          trainImages / trainSeconds);
      if (lastEpoch < epochs) {
        System.out.printf("stopped after epoch %d of %d%s%n", lastEpoch, epochs,
            run != null ? "; continue with: train --resume " + out : "");
      }
    }
    return 0;
  }

  /**
   * One epoch; with --auto-lr-halving a first epoch that is infeasible restarts the run from the
   * initial weights at half the LR (the paper: "decrease the initial learning rate by half until
   * training is feasible"): the loss became NaN/Inf or exploded (Trainer.DivergedException), or
   * the network did not learn at all (training accuracy of the first epoch below 1.5x chance,
   * e.g. a plain ReLU network stuck at loss ln(classes)). Nothing is written before the first
   * epoch ends, so no NaN reaches a checkpoint.
   */
  private Trainer.EpochStats trainEpochWithHalving(Trainer trainer, ResNet net, RunData runData, int epoch) {
    for (int attempt = 0; ; attempt++) {
      String why;
      try (Progress progress = new Progress(epoch, epochs, logEvery);
          var source = runData.trainEpoch(batch, seed, epoch, augment)) {
        Trainer.EpochStats e = trainer.trainEpoch(source, epoch, progress);
        double chance = 1.0 / net.spec().config().classes();
        if (!autoLrHalving || epoch > 0 || e.accuracy() >= 1.5 * chance) {
          return e;
        }
        why = String.format(Locale.ROOT, "epoch 1 trained to accuracy %.4f, chance level %.4f: not learning", e.accuracy(),
            chance);
        if (attempt >= 8) {
          return e;  // halved enough: report what it does
        }
      } catch (Trainer.DivergedException d) {
        if (!autoLrHalving || epoch > 0 || attempt >= 8) {
          throw new IllegalStateException(d.getMessage() + ": training diverged; try a smaller --lr"
              + (autoLrHalving ? " (halved " + attempt + " times already)" : " or --auto-lr-halving"));
        }
        why = d.getMessage();
      }
      float halved = trainer.schedule().base() / 2;
      System.out.printf(Locale.ROOT, "%s; restarting from the initial weights with lr %s%n", why, halved);
      trainer.setSchedule(trainer.schedule().withBase(halved));
      lr = halved;
      net.reinitialize(seed);
      trainer.setSteps(0);
    }
  }
}
