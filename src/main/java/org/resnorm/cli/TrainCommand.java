package org.resnorm.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.data.Batch;
import org.resnorm.data.BatchLoader;
import org.resnorm.data.Cifar;
import org.resnorm.data.Dataset;
import org.resnorm.data.FashionMnist;
import org.resnorm.data.Split;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetConfig;
import org.resnorm.model.ResNetSpec;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;
import org.resnorm.ops.SoftmaxCrossEntropy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code train}: a CIFAR-style ResNet on Fashion-MNIST or CIFAR-10/100 with the paper's recipe
 * (SGD, momentum 0.9, Nesterov, weight decay, LR 0.1 divided by 10 at 50 % and 75 % of the
 * epochs), printing progress, test accuracy and training images/s.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a ResNet of the paper and report test accuracy and images/s.")
final class TrainCommand implements Callable<Integer> {
  @Option(names = "--dataset", description = "fashion-mnist (default), cifar10 or cifar100.")
  String dataset = "fashion-mnist";

  @Option(names = "--data", description = "Dataset folder (default for fashion-mnist: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--depth", description = "CIFAR ResNet depth 6n+2 (default ${DEFAULT-VALUE}).")
  int depth = 20;

  @Option(names = "--widths", split = ",", description = "Stage widths (default 16,32,64).")
  int[] widths = {16, 32, 64};

  @Option(names = "--norm", description = "plain, plain-nobias, batchnorm (default), normprop, normprop2, normprop3.")
  String norm = "batchnorm";

  @Option(names = "--act", description = "relu or crelu (default).")
  String act = "crelu";

  @Option(names = "--shortcut", description = "A (default) or B.")
  String shortcut = "A";

  @Option(names = "--epochs", description = "Epochs (default ${DEFAULT-VALUE}).")
  int epochs = 1;

  @Option(names = "--batch", description = "Batch size (default ${DEFAULT-VALUE}).")
  int batch = 128;

  @Option(names = "--lr", description = "Initial learning rate (default ${DEFAULT-VALUE}).")
  float lr = 0.1f;

  @Option(names = "--wd", description = "Weight decay (default ${DEFAULT-VALUE}).")
  float wd = 1e-4f;

  @Option(names = "--schedule", description = "cifar (LR /10 at 50%% and 75%% of the epochs; default), cosine "
      + "(per step, from --lr to 0 over the run) or const.")
  String schedule = "cifar";

  @Option(names = "--augment", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Random flip + crop of the zero-padded image while training (default on; --no-augment).")
  boolean augment = true;

  @Option(names = "--seed", description = "Seed of the initialization and the data order (default ${DEFAULT-VALUE}).")
  long seed = 1;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--limit-train", description = "Use only the first N training examples.")
  int limitTrain = -1;

  @Option(names = "--limit-test", description = "Use only the first N test examples.")
  int limitTest = -1;

  @Option(names = "--out", description = "Run folder: checkpoint.safetensors (atomic, every epoch) and "
      + "metrics.jsonl / metrics.csv (one row per epoch).")
  Path out;

  @Option(names = "--log-every", description = "Print progress every N steps (default ${DEFAULT-VALUE}; 0: never).")
  int logEvery = 50;

  @Override
  public Integer call() {
    Norm n = Norm.parse(norm);
    Act a = Act.parse(act);
    if (epochs <= 0 || batch < 2) {
      throw new IllegalArgumentException("--epochs must be >= 1 and --batch >= 2");
    }
    if (!(lr > 0) || !(wd >= 0)) {
      throw new IllegalArgumentException("--lr must be > 0 and --wd >= 0");
    }
    if (!schedule.equals("cifar") && !schedule.equals("const") && !schedule.equals("cosine")) {
      throw new IllegalArgumentException("unknown schedule '" + schedule + "': expected cifar, cosine or const");
    }
    Dataset train = load(Split.TRAIN, limitTrain);
    Dataset test = load(Split.TEST, limitTest);
    ResNetConfig config = new ResNetConfig(ResNetConfig.Arch.CIFAR, depth, widths, n, a, Shortcut.parse(shortcut),
        train.channels(), train.numClasses());
    System.out.printf("%s: %d train / %d test images of %dx%dx%d, %d classes%n", train.name(), train.size(),
        test.size(), train.channels(), train.height(), train.width(), train.numClasses());
    System.out.printf("model: %s, %,d parameters%n", config, ResNetSpec.of(config).parameterCount());
    try (Engine engine = threads == null ? Engine.create() : Engine.create(threads);
        ResNet net = ResNet.create(engine, config, batch, train.height(), train.width(), seed);
        Sgd sgd = Sgd.paperRecipe(wd);
        Tensor evalX = Tensor.zeros(batch, train.channels(), train.height(), train.width())) {
      System.out.printf("engine: %d threads, %s; batch %d, lr %s (%s), weight decay %s, seed %d%n",
          engine.threads(), engine.isa(), batch, lr, schedule, wd, seed);
      RunFolder run = out == null ? null : new RunFolder(out, config, this);
      long totalSteps = 0;
      double trainSeconds = 0;
      long trainImages = 0;
      double[] testResult = null;
      for (int epoch = 0; epoch < epochs; epoch++) {
        float epochLr = learningRate(epoch);
        long start = System.nanoTime();
        double lossSum = 0;
        long correct = 0;
        long seen = 0;
        try (BatchLoader loader = BatchLoader.builder(train).batchSize(batch).shuffle(true).seed(seed + epoch)
            .augmentation(augment ? org.resnorm.data.Augmentation.cropFlip(train.cropPadding())
                : org.resnorm.data.Augmentation.NONE).dropLast(true).epochs(1)
            .build()) {
          int steps = loader.batchesPerEpoch();
          int step = 0;
          for (Batch b = loader.next(); b != null; b = loader.next()) {
            float loss = net.forwardBackward(b.images(), b.labels());
            if (!Float.isFinite(loss)) {
              throw new IllegalStateException(String.format(Locale.ROOT,
                  "the loss became %s at epoch %d step %d: training diverged; try a smaller --lr (the paper halves "
                      + "it until training is feasible)", loss, epoch + 1, step + 1));
            }
            correct += net.correct(b.labels(), 1);
            net.step(sgd, stepLr(epochLr, epoch, step, steps));
            lossSum += loss * b.size();
            seen += b.size();
            step++;
            totalSteps++;
            if (logEvery > 0 && (step % logEvery == 0 || step == steps)) {
              double s = (System.nanoTime() - start) * 1e-9;
              System.out.printf(Locale.ROOT, "epoch %d/%d step %d/%d  loss %.4f  acc %.4f  %.0f img/s%n", epoch + 1,
                  epochs, step, steps, lossSum / seen, (double) correct / seen, seen / s);
            }
          }
        }
        double seconds = (System.nanoTime() - start) * 1e-9;
        trainSeconds += seconds;
        trainImages += seen;
        testResult = evaluate(engine, net, test, evalX);
        float lastLr = stepLr(epochLr, epoch, Math.max(0, (int) (seen / batch) - 1), (int) (seen / batch));
        if (run != null) {
          run.epochDone(net, epoch + 1, totalSteps, lastLr, lossSum / seen, (double) correct / seen, testResult,
              seen / seconds, seconds);
        }
        System.out.printf(Locale.ROOT, "epoch %d: lr %.4g  train loss %.4f acc %.4f  test loss %.4f acc %.4f  "
                + "%.1f s  %.0f img/s%n", epoch + 1, lastLr, lossSum / seen, (double) correct / seen, testResult[0],
            testResult[1], seconds, seen / seconds);
      }
      System.out.printf(Locale.ROOT, "test accuracy %.4f (top-1 error %.2f%%); training %.0f images/s%n",
          testResult[1], 100 * (1 - testResult[1]), trainImages / trainSeconds);
    }
    return 0;
  }

  /** The step's LR: the epoch's, or with cosine, lr/2 (1 + cos(pi t / T)) over all T steps of the run. */
  float stepLr(float epochLr, int epoch, int step, int stepsPerEpoch) {
    if (!schedule.equals("cosine")) {
      return epochLr;
    }
    double t = (double) epoch * stepsPerEpoch + step;
    return (float) (lr * 0.5 * (1 + Math.cos(Math.PI * t / ((double) epochs * stepsPerEpoch))));
  }

  float learningRate(int epoch) {
    if (!schedule.equals("cifar")) {
      return lr;
    }
    // fb.resnet.torch's CIFAR schedule: /10 at 50 % and 75 % of the epochs (164 epochs: 81, 122)
    int drops = (epoch >= epochs / 2 ? 1 : 0) + (epoch >= epochs * 3 / 4 ? 1 : 0);
    return epochs < 4 ? lr : (float) (lr * Math.pow(0.1, drops));
  }

  Dataset load(Split split, int limit) {
    return switch (dataset.toLowerCase(Locale.ROOT)) {
      case "fashion-mnist" -> FashionMnist.load(data == null ? FashionMnist.DEFAULT_DIR : data, split, limit);
      case "cifar10", "cifar100" -> {
        if (data == null) {
          throw new IllegalArgumentException("--data is required for " + dataset
              + " (the folder of the binary version's .bin files)");
        }
        Cifar.Variant v = dataset.equalsIgnoreCase("cifar10") ? Cifar.Variant.CIFAR10 : Cifar.Variant.CIFAR100;
        yield Cifar.load(data, v, split, limit);
      }
      default -> throw new IllegalArgumentException("unknown dataset '" + dataset
          + "': expected fashion-mnist, cifar10 or cifar100");
    };
  }

  /** {mean loss, top-1 accuracy} over the whole test set in eval mode (the last batch padded). */
  static double[] evaluate(Engine engine, ResNet net, Dataset test, Tensor evalX) {
    int batch = evalX.dim(0);
    double lossSum = 0;
    long correct = 0;
    long seen = 0;
    try (BatchLoader loader = BatchLoader.builder(test).batchSize(batch).shuffle(false).dropLast(false).epochs(1)
        .build()) {
      for (Batch b = loader.next(); b != null; b = loader.next()) {
        int k = b.size();
        Tensor x = b.images();
        if (k < batch) {  // a partial last batch: pad it (eval mode: rows do not affect each other)
          try (Tensor rows = evalX.slice(0, k)) {
            rows.copyFrom(b.images());
          }
          x = evalX;
        }
        // the loss and top-1 of the batch's real rows (a view of the first k logits)
        try (Tensor logits = net.forward(x, false).slice(0, k)) {
          lossSum += (double) SoftmaxCrossEntropy.loss(engine, logits, b.labels()) * k;
          correct += SoftmaxCrossEntropy.topkCorrect(engine, logits, b.labels(), 1);
        }
        seen += k;
      }
    }
    return new double[] {lossSum / seen, (double) correct / seen};
  }
}
