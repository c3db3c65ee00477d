package org.resnorm.data;

import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Streams a {@link Dataset} as batches, prepared on a background thread.
 *
 * <p>Per epoch {@code e} the loader seeds {@code new SplittableRandom(seed + e *
 * 0x9E3779B97F4A7C15L)}, shuffles the example order with it (Fisher-Yates, when shuffling)
 * and then draws each example's augmentation from it in batch order, so the same seed gives the
 * same batches, epoch by epoch, however the caller consumes them. The thread works at most
 * {@code prefetch} batches ahead of the one the caller holds: a bounded pool of
 * {@code prefetch + 1} batch buffers (the caller's, and the ready or being-filled ones).
 *
 * <p>Use from one thread:
 * <pre>{@code
 * try (BatchLoader loader = BatchLoader.forTraining(train, 128, 42)) {
 *   for (int epoch = 0; epoch < 160; epoch++) {
 *     for (Batch b; (b = loader.next()) != null; ) {
 *       step(b.images(), b.labels());   // valid until the next next()
 *     }
 *   }
 * }
 * }</pre>
 * {@link #next()} returns null at the end of each epoch (and forever after the last one when
 * {@link Builder#epochs} was given). An exception on the loader thread is re-thrown by
 * {@code next()} as a {@link DatasetException} whose cause is the original. {@link #close()}
 * stops the thread and frees the batch tensors.
 */
public final class BatchLoader implements BatchSource {
  private static final AtomicInteger THREADS = new AtomicInteger();

  private final Dataset dataset;
  private final int batchSize;
  private final boolean shuffle;
  private final long seed;
  private final Augmentation augmentation;
  private final boolean dropLast;
  private final int examples;
  private final int batches;
  private final int epochs;
  private final BatchHandOff handOff;
  private final BlockingQueue<Batch> free;
  private final BlockingQueue<Object> ready;
  private final Thread thread;
  private volatile boolean closed;

  private BatchLoader(Builder b) {
    if (b.dataset == null) {
      throw new IllegalArgumentException("dataset must not be null");
    }
    if (b.batchSize <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + b.batchSize);
    }
    if (b.prefetch < 1 || b.prefetch > 64) {
      throw new IllegalArgumentException("prefetch must be in 1..64, got " + b.prefetch);
    }
    if (b.limit == 0 || b.limit < -1) {
      throw new IllegalArgumentException("limit must be positive (or -1 for all), got " + b.limit);
    }
    if (b.epochs <= 0) {
      throw new IllegalArgumentException("epochs must be positive, got " + b.epochs);
    }
    if (b.augmentation == null) {
      throw new IllegalArgumentException("augmentation must not be null (use Augmentation.NONE)");
    }
    this.dataset = b.dataset;
    this.batchSize = b.batchSize;
    this.shuffle = b.shuffle;
    this.seed = b.seed;
    this.augmentation = b.augmentation;
    this.dropLast = b.dropLast;
    this.epochs = b.epochs;
    this.examples = b.limit < 0 ? dataset.size() : Math.min(b.limit, dataset.size());
    this.batches = dropLast ? examples / batchSize : (examples + batchSize - 1) / batchSize;
    if (batches == 0) {
      throw new IllegalArgumentException("no batch per epoch: " + examples + " examples, batch size " + batchSize
          + (dropLast ? " and the partial batch dropped" : ""));
    }
    int partial = dropLast ? 0 : examples % batchSize;
    handOff = new BatchHandOff(b.prefetch + 1, batchSize, dataset.channels(), dataset.height(), dataset.width(),
        partial);
    free = handOff.free;
    ready = handOff.ready;
    thread = new Thread(this::run, "resnorm-batch-loader-" + THREADS.incrementAndGet());
    thread.setDaemon(true);
    thread.start();
  }

  /** A builder; only the batch size is required. */
  public static Builder builder(Dataset dataset) {
    return new Builder(dataset);
  }

  /**
   * Training: shuffled, {@link CropFlip} with the dataset's crop padding (4 CIFAR, 2
   * Fashion-MNIST; flip only when 0), last partial batch dropped, unlimited epochs.
   */
  public static BatchLoader forTraining(Dataset dataset, int batchSize, long seed) {
    if (dataset == null) {
      throw new IllegalArgumentException("dataset must not be null");
    }
    return builder(dataset).batchSize(batchSize).shuffle(true).seed(seed)
        .augmentation(new CropFlip(dataset.cropPadding())).dropLast(true).build();
  }

  /** Evaluation: in order, no augmentation, last partial batch kept, unlimited epochs. */
  public static BatchLoader forEval(Dataset dataset, int batchSize) {
    return builder(dataset).batchSize(batchSize).build();
  }

  /** Options of a {@link BatchLoader}. */
  public static final class Builder {
    private final Dataset dataset;
    private int batchSize;
    private boolean shuffle;
    private long seed;
    private Augmentation augmentation = Augmentation.NONE;
    private boolean dropLast;
    private int prefetch = 2;
    private int limit = -1;
    private int epochs = Integer.MAX_VALUE;

    private Builder(Dataset dataset) {
      this.dataset = dataset;
    }

    /** Examples per batch (required). */
    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    /** Shuffle the examples every epoch (default false). */
    public Builder shuffle(boolean shuffle) {
      this.shuffle = shuffle;
      return this;
    }

    /** Seed of the shuffling and augmentation (default 0). */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Per-example transform (default {@link Augmentation#NONE}). */
    public Builder augmentation(Augmentation augmentation) {
      this.augmentation = augmentation;
      return this;
    }

    /** Drop the last partial batch (default false: it comes with its real size). */
    public Builder dropLast(boolean dropLast) {
      this.dropLast = dropLast;
      return this;
    }

    /** Batches prepared ahead of the one the caller holds, 1..64 (default 2; 1 is double buffering). */
    public Builder prefetch(int prefetch) {
      this.prefetch = prefetch;
      return this;
    }

    /** Use only the first {@code limit} examples of the dataset (-1, the default: all). */
    public Builder limit(int limit) {
      this.limit = limit;
      return this;
    }

    /** Number of epochs, after which {@link BatchLoader#next()} keeps returning null (default unlimited). */
    public Builder epochs(int epochs) {
      this.epochs = epochs;
      return this;
    }

    public BatchLoader build() {
      return new BatchLoader(this);
    }
  }

  public Dataset dataset() {
    return dataset;
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  /** Examples used per epoch (the dataset size, or the limit). */
  @Override
  public int examplesPerEpoch() {
    return examples;
  }

  @Override
  public int batchesPerEpoch() {
    return batches;
  }

  /**
   * The next batch of the current epoch, or null when the epoch is over (the following call
   * starts the next epoch; after the last epoch, null forever). Blocks until the loader thread
   * has it ready. The previously returned batch becomes invalid.
   *
   * @throws DatasetException if the loader thread failed (the cause is its exception)
   * @throws IllegalStateException if the loader is closed
   */
  @Override
  public Batch next() {
    if (closed) {
      throw new IllegalStateException("batch loader is closed");
    }
    return handOff.next(() -> !thread.isAlive(), "batch loader thread stopped unexpectedly",
        failure -> new DatasetException("batch loader thread failed on " + dataset.name() + ": " + failure, failure));
  }

  /** The seed of epoch {@code e}'s generator. */
  static long epochSeed(long seed, int epoch) {
    return seed + epoch * 0x9E3779B97F4A7C15L;
  }

  private void run() {
    try {
      int per = dataset.imageSize();
      int c = dataset.channels();
      int h = dataset.height();
      int w = dataset.width();
      float[] src = dataset.images();
      int[] order = new int[examples];
      for (int e = 0; e < epochs; e++) {
        SplittableRandom rng = new SplittableRandom(epochSeed(seed, e));
        for (int i = 0; i < examples; i++) {
          order[i] = i;
        }
        if (shuffle) {
          for (int i = examples - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
          }
        }
        for (int bi = 0; bi < batches; bi++) {
          Batch b = free.take();
          if (closed) {
            return;
          }
          int start = bi * batchSize;
          int size = Math.min(batchSize, examples - start);
          float[] buf = size == batchSize ? b.staging : b.partialStaging;
          for (int j = 0; j < size; j++) {
            int idx = order[start + j];
            b.indices[j] = idx;
            augmentation.apply(src, idx * per, buf, j * per, c, h, w, rng);
          }
          if (closed) {
            return;
          }
          if (size == batchSize) {
            b.images.copyFrom(buf);
            for (int j = 0; j < size; j++) {
              b.labels.setInt(dataset.label(b.indices[j]), j);
            }
          } else {
            if (b.imagesView == null) {
              b.imagesView = b.images.slice(0, size);
              b.labelsView = b.labels.slice(0, size);
            }
            b.imagesView.copyFrom(buf);
            for (int j = 0; j < size; j++) {
              b.labelsView.setInt(dataset.label(b.indices[j]), j);
            }
          }
          b.size = size;
          b.epoch = e;
          b.index = bi;
          ready.put(b);
        }
        ready.put(BatchHandOff.END_OF_EPOCH);
      }
      ready.put(BatchHandOff.FINISHED);
    } catch (InterruptedException e) {
      // close(): stop quietly
    } catch (Throwable t) {
      if (!closed) {
        ready.add(BatchHandOff.failure(t));
      }
    }
  }

  /** Whether the background thread is still running (for tests). */
  boolean threadAlive() {
    return thread.isAlive();
  }

  /**
   * Stops the loader thread (waiting for it to finish the example it is on) and frees the
   * batch tensors; batches handed out become unusable. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    thread.interrupt();
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    handOff.closeBuffers();
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
