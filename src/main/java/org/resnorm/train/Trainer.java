package org.resnorm.train;

import java.util.Locale;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.data.Augmentation;
import org.resnorm.data.Batch;
import org.resnorm.data.BatchLoader;
import org.resnorm.data.Dataset;
import org.resnorm.model.ResNet;
import org.resnorm.ops.Sgd;
import org.resnorm.ops.SoftmaxCrossEntropy;

/**
 * Trains and evaluates a {@link ResNet} on in-memory datasets with SGD and an {@link LrSchedule}:
 * the loop of {@code resnorm train}, for use from Java.
 *
 * <pre>{@code
 * try (Engine engine = Engine.create();
 *      ResNet net = ResNet.create(engine, ResNetConfig.cifar(20, Norm.BATCHNORM, Act.CRELU, 10)
 *          .withInChannels(1), 128, 28, 28, 1);
 *      Sgd sgd = Sgd.paperRecipe(1e-4f)) {
 *   Trainer trainer = new Trainer(engine, net, sgd, LrSchedule.parse("cosine", 0.1f, 1));
 *   Trainer.EpochStats e = trainer.trainEpoch(train, 0, 1, true, null);
 *   Trainer.EvalStats t = trainer.evaluate(test);
 * }
 * }</pre>
 *
 * <p>Reproducible: epoch {@code e} of a run with seed {@code s} draws its example order and
 * augmentation from {@code s + e} ({@link BatchLoader}), so the same seed and thread count give
 * bit-identical losses, and a run resumed at an epoch boundary continues exactly. Not
 * thread-safe.
 */
public final class Trainer {
  /** Statistics of one training epoch (loss and accuracy as running means over its batches). */
  public record EpochStats(int epoch, float lastLr, double loss, double accuracy, long images, double seconds) {
    public double imagesPerSecond() {
      return images / seconds;
    }
  }

  /** Mean loss and top-1 / top-5 accuracy (fractions 0..1) over a test set in eval mode. */
  public record EvalStats(double loss, double top1, double top5, long images) {}

  /** Called after every training step. */
  public interface Listener {
    void step(int epoch, int step, int stepsPerEpoch, double meanLoss, double accuracy, double imagesPerSecond);
  }

  /**
   * The loss became NaN or infinite, or (in the first epoch) exploded: the mean of 10
   * consecutive losses exceeded 3 ln(classes), three times a chance-level classifier's loss.
   */
  public static final class DivergedException extends IllegalStateException {
    private final int epoch;
    private final int step;

    DivergedException(String message, int epoch, int step) {
      super(message);
      this.epoch = epoch;
      this.step = step;
    }

    /** The epoch (0-based) it happened in. */
    public int epoch() {
      return epoch;
    }

    public int step() {
      return step;
    }
  }

  private static final int EXPLOSION_WINDOW = 10;

  private final Engine engine;
  private final ResNet net;
  private final Sgd sgd;
  private LrSchedule schedule;
  private long steps;

  public Trainer(Engine engine, ResNet net, Sgd sgd, LrSchedule schedule) {
    if (engine == null || net == null || sgd == null || schedule == null) {
      throw new IllegalArgumentException("engine, net, sgd and schedule must not be null");
    }
    this.engine = engine;
    this.net = net;
    this.sgd = sgd;
    this.schedule = schedule;
  }

  /** Optimizer steps taken so far (restored from a checkpoint with {@link #setSteps}). */
  public long steps() {
    return steps;
  }

  public void setSteps(long steps) {
    this.steps = steps;
  }

  public LrSchedule schedule() {
    return schedule;
  }

  public void setSchedule(LrSchedule schedule) {
    this.schedule = schedule;
  }

  /**
   * One epoch over {@code train} in batches of the network's batch size (the last partial batch
   * dropped), shuffled and augmented from {@code seed + epoch}.
   *
   * @throws DivergedException when the loss is not finite or explodes in the first epoch
   */
  public EpochStats trainEpoch(Dataset train, int epoch, long seed, boolean augment, Listener listener) {
    int batch = net.inputShape()[0];
    long start = System.nanoTime();
    double lossSum = 0;
    long correct = 0;
    long seen = 0;
    float lr = 0;
    double explodeAt = 3 * Math.log(net.spec().config().classes());
    double[] recent = new double[EXPLOSION_WINDOW];
    try (BatchLoader loader = BatchLoader.builder(train).batchSize(batch).shuffle(true).seed(seed + epoch)
        .augmentation(augment ? Augmentation.cropFlip(train.cropPadding()) : Augmentation.NONE).dropLast(true)
        .epochs(1).build()) {
      int stepsPerEpoch = loader.batchesPerEpoch();
      int step = 0;
      for (Batch b = loader.next(); b != null; b = loader.next()) {
        float loss = net.forwardBackward(b.images(), b.labels());
        if (!Float.isFinite(loss)) {
          throw new DivergedException(String.format(Locale.ROOT, "the loss became %s at epoch %d step %d", loss,
              epoch + 1, step + 1), epoch, step);
        }
        recent[step % EXPLOSION_WINDOW] = loss;
        if (epoch == 0 && step + 1 >= EXPLOSION_WINDOW && mean(recent) > explodeAt) {
          throw new DivergedException(String.format(Locale.ROOT, "the loss exploded at epoch 1 step %d (mean of the "
              + "last %d steps %.3g > 3 ln(classes) = %.3g)", step + 1, EXPLOSION_WINDOW, mean(recent), explodeAt),
              epoch, step);
        }
        correct += net.correct(b.labels(), 1);
        lr = schedule.lr(epoch, step, stepsPerEpoch);
        net.step(sgd, lr);
        lossSum += (double) loss * b.size();
        seen += b.size();
        step++;
        steps++;
        if (listener != null) {
          listener.step(epoch, step, stepsPerEpoch, lossSum / seen, (double) correct / seen,
              seen / ((System.nanoTime() - start) * 1e-9));
        }
      }
    }
    return new EpochStats(epoch, lr, lossSum / seen, (double) correct / seen, seen, (System.nanoTime() - start) * 1e-9);
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double d : v) {
      s += d;
    }
    return s / v.length;
  }

  /**
   * Loss and top-1 / top-5 accuracy over all of {@code test} in eval mode (running statistics);
   * the last partial batch is padded, which cannot affect the real rows in eval mode. With 5
   * classes or fewer, top-5 is 1.
   */
  public EvalStats evaluate(Dataset test) {
    return evaluate(engine, net, test);
  }

  /** {@link #evaluate(Dataset)} without a trainer (an evaluation-only network). */
  public static EvalStats evaluate(Engine engine, ResNet net, Dataset test) {
    int[] shape = net.inputShape();
    double lossSum = 0;
    long top1 = 0;
    long top5 = 0;
    long seen = 0;
    try (Tensor padded = Tensor.zeros(shape);
        BatchLoader loader = BatchLoader.builder(test).batchSize(shape[0]).shuffle(false).dropLast(false).epochs(1)
            .build()) {
      for (Batch b = loader.next(); b != null; b = loader.next()) {
        int k = b.size();
        Tensor x = b.images();
        if (k < shape[0]) {
          try (Tensor rows = padded.slice(0, k)) {
            rows.copyFrom(b.images());
          }
          x = padded;
        }
        try (Tensor logits = net.forward(x, false).slice(0, k)) {
          lossSum += (double) SoftmaxCrossEntropy.loss(engine, logits, b.labels()) * k;
          top1 += SoftmaxCrossEntropy.topkCorrect(engine, logits, b.labels(), 1);
          top5 += SoftmaxCrossEntropy.topkCorrect(engine, logits, b.labels(),
              Math.min(5, net.spec().config().classes()));
        }
        seen += k;
      }
    }
    return new EvalStats(lossSum / seen, (double) top1 / seen, (double) top5 / seen, seen);
  }
}
