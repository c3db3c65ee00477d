package org.resnorm.train;

import java.util.Locale;
import org.resnorm.core.CudaGraph;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;
import org.resnorm.data.Augmentation;
import org.resnorm.data.Batch;
import org.resnorm.data.BatchLoader;
import org.resnorm.data.BatchSource;
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
public final class Trainer implements AutoCloseable {
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
  // CUDA graphs (useGraphs): the step recorded for one learning rate, replayed while it lasts.
  private boolean graphs;
  private CudaGraph graph;
  private float graphLr = Float.NaN;
  private float lastLr = Float.NaN;

  public Trainer(Engine engine, ResNet net, Sgd sgd, LrSchedule schedule) {
    if (engine == null || net == null || sgd == null || schedule == null) {
      throw new IllegalArgumentException("engine, net, sgd and schedule must not be null");
    }
    this.engine = engine;
    this.net = net;
    this.sgd = sgd;
    this.schedule = schedule;
  }

  /**
   * On a CUDA engine: replay each training step from a recorded CUDA graph (one launch instead of
   * one per op) wherever the learning rate repeats from one step to the next; the step is
   * recorded again when it changes (per-step schedules such as cosine therefore run eagerly).
   * The first step, which starts the momentum buffers, always runs eagerly. Where the CUDA
   * runtime cannot record graphs (the host emulation), training says so once and stays eager.
   */
  public Trainer useGraphs(boolean on) {
    if (on && !engine.isCuda()) {
      throw new IllegalArgumentException("CUDA graphs need a CUDA engine (--device cuda)");
    }
    graphs = on;
    return this;
  }

  /** Releases the recorded graph (before the engine is closed). */
  @Override
  public void close() {
    if (graph != null) {
      graph.close();
      graph = null;
    }
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
    try (BatchLoader loader = BatchLoader.builder(train).batchSize(net.inputShape()[0]).shuffle(true)
        .seed(seed + epoch).augmentation(augment ? Augmentation.cropFlip(train.cropPadding()) : Augmentation.NONE)
        .dropLast(true).epochs(1).build()) {
      return trainEpoch(loader, epoch, listener);
    }
  }

  /**
   * One epoch: every batch {@code source} hands out until the end of its epoch (null). Each
   * batch must be full (the network's batch size): build the source with the partial batch
   * dropped. The source's seeding decides the order and augmentation.
   *
   * @throws DivergedException when the loss is not finite or explodes in the first epoch
   */
  public EpochStats trainEpoch(BatchSource source, int epoch, Listener listener) {
    int batch = net.inputShape()[0];
    long start = System.nanoTime();
    double lossSum = 0;
    long correct = 0;
    long seen = 0;
    float lr = 0;
    double explodeAt = 3 * Math.log(net.spec().config().classes());
    double[] recent = new double[EXPLOSION_WINDOW];
    int stepsPerEpoch = source.batchesPerEpoch();
    int step = 0;
    for (Batch b = source.next(); b != null; b = source.next()) {
      if (b.size() != batch) {
        throw new IllegalArgumentException("training batch " + step + " has " + b.size() + " rows, the network "
            + batch + ": drop the partial last batch");
      }
      lr = schedule.lr(epoch, step, stepsPerEpoch);
      float loss;
      boolean replay = graphReady(lr);
      if (replay) {  // forward, backward and the update in one launch (the update is done when checked)
        net.stage(b.images(), b.labels());
        graph.launch();
        loss = net.stagedLoss();
      } else {
        loss = net.forwardBackward(b.images(), b.labels());
      }
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
      correct += net.correct(b.labels(), 1);  // the logits of this step's forward either way
      if (!replay) {
        net.step(sgd, lr);
      }
      lossSum += (double) loss * b.size();
      seen += b.size();
      step++;
      steps++;
      if (listener != null) {
        listener.step(epoch, step, stepsPerEpoch, lossSum / seen, (double) correct / seen,
            seen / ((System.nanoTime() - start) * 1e-9));
      }
    }
    if (seen == 0) {
      throw new IllegalArgumentException("the training source had no batch in this epoch");
    }
    return new EpochStats(epoch, lr, lossSum / seen, (double) correct / seen, seen, (System.nanoTime() - start) * 1e-9);
  }

  /**
   * Whether this step can replay a graph recorded for {@code lr}: recording one when the same
   * learning rate was used by the step before (and the momentum buffers have started).
   */
  private boolean graphReady(float lr) {
    boolean repeats = lr == lastLr;
    lastLr = lr;
    if (!graphs || !net.stepsTaken()) {
      return false;
    }
    if (graph != null && graphLr == lr && graph.isValid()) {
      return true;
    }
    if (!repeats && (graph == null || graphLr != lr)) {
      return false;
    }
    close();
    try {
      graph = engine.record(() -> {
        net.forwardBackwardStaged();
        net.step(sgd, lr);
      });
      graphLr = lr;
      return true;
    } catch (UnsupportedOperationException e) {
      graphs = false;
      System.err.println("note: " + e.getMessage() + ": training steps run eagerly");
      return false;
    }
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
    try (BatchLoader loader = BatchLoader.builder(test).batchSize(net.inputShape()[0]).shuffle(false)
        .dropLast(false).epochs(1).build()) {
      return evaluate(engine, net, loader);
    }
  }

  /**
   * Loss and top-1 / top-5 over one epoch of {@code source} in eval mode. A partial batch is
   * padded. With several crops per example (ten-crop), the network's batch must be the source's
   * batch size x crops; an example's class probabilities are the mean of its crops' softmax.
   */
  public static EvalStats evaluate(Engine engine, ResNet net, BatchSource source) {
    int[] shape = net.inputShape();
    int crops = source.cropsPerExample();
    if (shape[0] != source.batchSize() * crops) {
      throw new IllegalArgumentException("the network takes batches of " + shape[0] + " rows; the source gives "
          + source.batchSize() + " examples x " + crops + " crops");
    }
    int classes = net.spec().config().classes();
    int k5 = Math.min(5, classes);
    double lossSum = 0;
    long top1 = 0;
    long top5 = 0;
    long seen = 0;
    try (Tensor padded = Tensor.zeros(shape)) {
      for (Batch b = source.next(); b != null; b = source.next()) {
        int rows = b.size();
        Tensor x = b.images();
        if (rows < shape[0]) {
          try (Tensor part = padded.slice(0, rows)) {
            part.copyFrom(b.images());
          }
          x = padded;
        }
        try (Tensor logits = net.forward(x, false).slice(0, rows)) {
          if (crops == 1) {
            Tensor y = net.labelsOnEngine(b.labels());  // where the logits are (device memory on CUDA)
            lossSum += (double) SoftmaxCrossEntropy.loss(engine, logits, y) * rows;
            top1 += SoftmaxCrossEntropy.topkCorrect(engine, logits, y, 1);
            top5 += SoftmaxCrossEntropy.topkCorrect(engine, logits, y, k5);
            seen += rows;
          } else {
            double[] r = scoreCrops(logits.toFloatArray(), b.labels().toIntArray(), crops, classes, k5);
            lossSum += r[0];
            top1 += (long) r[1];
            top5 += (long) r[2];
            seen += rows / crops;
          }
        }
      }
    }
    if (seen == 0) {
      throw new IllegalArgumentException("the evaluation source had no example");
    }
    return new EvalStats(lossSum / seen, (double) top1 / seen, (double) top5 / seen, seen);
  }

  /** {summed -log p(label), top-1 hits, top-k hits} of examples whose p is the mean softmax of their crops. */
  static double[] scoreCrops(float[] logits, int[] labels, int crops, int classes, int k) {
    int examples = labels.length / crops;
    double loss = 0;
    long hit1 = 0;
    long hitK = 0;
    for (int j = 0; j < examples; j++) {
      double[] p = new double[classes];
      for (int c = 0; c < crops; c++) {
        int row = (j * crops + c) * classes;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < classes; i++) {
          max = Math.max(max, logits[row + i]);
        }
        double z = 0;
        for (int i = 0; i < classes; i++) {
          z += Math.exp(logits[row + i] - max);
        }
        for (int i = 0; i < classes; i++) {
          p[i] += Math.exp(logits[row + i] - max) / z / crops;
        }
      }
      int label = labels[j * crops];
      loss -= Math.log(Math.max(p[label], Double.MIN_NORMAL));
      int above = 0;  // classes ranked strictly above the label
      for (int i = 0; i < classes; i++) {
        above += p[i] > p[label] ? 1 : 0;
      }
      hit1 += above < 1 ? 1 : 0;
      hitK += above < k ? 1 : 0;
    }
    return new double[] {loss, hit1, hitK};
  }
}
