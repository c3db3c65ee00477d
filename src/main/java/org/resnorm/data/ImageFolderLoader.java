package org.resnorm.data;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Streams one split of an {@link ImageFolder} as {@link Batch}es, decoding and transforming the
 * images ({@link ImageNetTransform}) on the fly: ImageNet does not fit in memory. Batches are
 * float32 [B, 3, crop, crop] and int32 labels [B].
 *
 * <p>Threads: a scheduler thread shuffles each epoch and hands the examples of every batch to
 * a pool of decoding threads ({@link Builder#threads}, by default {@link #defaultThreads()}),
 * which decode, transform and write into the batch's buffer; the thread that completes a batch
 * copies it into the batch tensors, and batches are handed out in order. At most
 * {@code prefetch} batches are prepared ahead of the one the caller holds: a fixed pool of
 * {@code prefetch + 1} batch buffers, as in {@link BatchLoader}. All threads are daemons;
 * {@link #close()} stops and joins them, then frees the tensors.
 *
 * <p>Determinism: epoch {@code e}'s order is {@link BatchLoader}'s (a Fisher-Yates shuffle with
 * {@code new SplittableRandom(seed + e * 0x9E3779B97F4A7C15L)}), and the example at position
 * {@code p} of the epoch draws its augmentation from its own generator, not from a shared one:
 * {@code new SplittableRandom(mix(mix(seed + e * 0x9E3779B97F4A7C15L) + p))}, {@code mix} being
 * SplitMix64's finalizer. The same seed gives the same batches whatever the number of threads
 * and their timing.
 *
 * <p>Modes: {@link Mode#TRAIN} ({@link ImageNetTransform#train}), {@link Mode#CENTER_CROP}
 * ({@link ImageNetTransform#center}) and {@link Mode#TEN_CROP}
 * ({@link ImageNetTransform#tenCrop}), where each example fills 10 consecutive rows
 * ({@link #cropsPerExample()}), all with its label: a batch of n examples has 10 n rows (mind
 * the memory: use a batch size ten times smaller). To score an example, average the network's
 * outputs over its rows, e.g. with {@link #averageCrops}, and compare the arg max with the label
 * of its first row; fb.resnet.torch sums the ten outputs, which ranks the classes the same.
 *
 * <pre>{@code
 * ImageFolder imagenet = ImageFolder.open(Path.of("/data/imagenet"));
 * try (ImageFolderLoader train = ImageFolderLoader.forTraining(imagenet, 256, 42)) {
 *   for (int epoch = 0; epoch < 90; epoch++) {
 *     for (Batch b; (b = train.next()) != null; ) {
 *       step(b.images(), b.labels());   // valid until the next next()
 *     }
 *   }
 * }
 * }</pre>
 * A file that cannot be decoded makes {@link #next()} throw a {@link DatasetException} naming
 * it (the batches before it are delivered first); the loader is then unusable, as after any
 * failure of its threads.
 */
public final class ImageFolderLoader implements BatchSource {
  /** What is done to each image. */
  public enum Mode {
    /** RandomSizedCrop, colour jitter, lighting, normalization, random flip. */
    TRAIN(1),
    /** Scale to the resize size, centre crop, normalization. */
    CENTER_CROP(1),
    /** Ten crops per example (centre, corners, and their mirrors), normalized. */
    TEN_CROP(ImageNetTransform.TEN_CROPS);

    private final int crops;

    Mode(int crops) {
      this.crops = crops;
    }

    /** Rows per example. */
    public int crops() {
      return crops;
    }
  }

  private static final AtomicInteger LOADERS = new AtomicInteger();
  private static final long POLL_MS = 100;

  /** A batch being decoded: done when its last example is in the tensors. */
  private static final class Job {
    final Batch batch;
    final float[] buffer;
    final int examples;
    final AtomicInteger remaining;
    volatile boolean done;
    private Throwable failure;
    private int failedAt = Integer.MAX_VALUE;

    Job(Batch batch, float[] buffer, int examples) {
      this.batch = batch;
      this.buffer = buffer;
      this.examples = examples;
      this.remaining = new AtomicInteger(examples);
    }

    /** Keeps the failure of the first example in batch order, so which error surfaces is deterministic. */
    synchronized void fail(int slot, Throwable t) {
      if (slot < failedAt) {
        failedAt = slot;
        failure = t;
      }
    }

    synchronized Throwable failure() {
      return failure;
    }
  }

  /** One example of a job: dataset index {@code example} into rows from {@code slot * crops}. */
  private static final class Task {
    final Job job;
    final int slot;
    final int example;
    final long seed;

    Task(Job job, int slot, int example, long seed) {
      this.job = job;
      this.slot = slot;
      this.example = example;
      this.seed = seed;
    }
  }

  private final ImageFolder folder;
  private final Split split;
  private final Mode mode;
  private final ImageNetTransform transform;
  private final int batchSize;
  private final boolean shuffle;
  private final long seed;
  private final int epochs;
  private final int examples;
  private final int batches;
  private final int crops;
  private final int per;
  private final BatchHandOff handOff;
  private final BlockingQueue<Batch> free;
  private final BlockingQueue<Object> ready;
  private final BlockingQueue<Task> work = new LinkedBlockingQueue<>();
  /** Jobs and markers in hand-out order, not yet handed out; guarded by itself. */
  private final ArrayDeque<Object> pending = new ArrayDeque<>();
  private final Thread scheduler;
  private final Thread[] decoders;
  private volatile boolean closed;
  private boolean stopped; // guarded by pending: a failure was handed out, nothing follows it

  private ImageFolderLoader(Builder b) {
    if (b.folder == null || b.split == null || b.mode == null || b.transform == null) {
      throw new IllegalArgumentException("folder, split, mode and transform must not be null");
    }
    if (b.batchSize <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + b.batchSize);
    }
    if (b.threads < 1 || b.threads > 256) {
      throw new IllegalArgumentException("threads must be in 1..256, got " + b.threads);
    }
    if (b.prefetch < 1 || b.prefetch > 64) {
      throw new IllegalArgumentException("prefetch must be in 1..64, got " + b.prefetch);
    }
    if (b.epochs <= 0) {
      throw new IllegalArgumentException("epochs must be positive, got " + b.epochs);
    }
    this.folder = b.folder;
    this.split = b.split;
    this.mode = b.mode;
    this.transform = b.transform;
    this.batchSize = b.batchSize;
    this.shuffle = b.shuffle;
    this.seed = b.seed;
    this.epochs = b.epochs;
    this.examples = folder.size(split);
    this.batches = b.dropLast ? examples / batchSize : (examples + batchSize - 1) / batchSize;
    if (batches == 0) {
      throw new IllegalArgumentException("no batch per epoch: " + examples + " examples, batch size " + batchSize
          + (b.dropLast ? " and the partial batch dropped" : ""));
    }
    this.crops = mode.crops();
    this.per = transform.imageSize();
    if ((long) batchSize * crops * per > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("a batch of " + batchSize + " x " + crops + " images of " + per
          + " values does not fit a Java array: use a smaller batch");
    }
    int partial = b.dropLast ? 0 : examples % batchSize;
    int crop = transform.cropSize();
    int slots = b.prefetch + 1;
    handOff = new BatchHandOff(slots, batchSize * crops, 3, crop, crop, partial * crops);
    free = handOff.free;
    ready = handOff.ready;
    int id = LOADERS.incrementAndGet();
    decoders = new Thread[b.threads];
    for (int i = 0; i < decoders.length; i++) {
      decoders[i] = new Thread(this::decode, "resnorm-image-decoder-" + id + "-" + i);
      decoders[i].setDaemon(true);
    }
    scheduler = new Thread(this::schedule, "resnorm-image-loader-" + id);
    scheduler.setDaemon(true);
    for (Thread t : decoders) {
      t.start();
    }
    scheduler.start();
  }

  /** A sensible number of decoding threads: the cores but one (for the trainer), 1..8. */
  public static int defaultThreads() {
    return Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors() - 1));
  }

  /** A builder for one split; only the batch size is required. */
  public static Builder builder(ImageFolder folder, Split split) {
    return new Builder(folder, split);
  }

  /**
   * Training on {@code train/}: shuffled, {@link Mode#TRAIN} with ImageNet's sizes (crop 224),
   * last partial batch dropped, unlimited epochs.
   */
  public static ImageFolderLoader forTraining(ImageFolder folder, int batchSize, long seed) {
    return builder(folder, Split.TRAIN).batchSize(batchSize).mode(Mode.TRAIN).shuffle(true).seed(seed)
        .dropLast(true).build();
  }

  /** Evaluation on {@code val/}: in order, resize 256 + centre crop 224, last partial batch kept. */
  public static ImageFolderLoader forEval(ImageFolder folder, int batchSize) {
    return builder(folder, Split.TEST).batchSize(batchSize).mode(Mode.CENTER_CROP).build();
  }

  /** Ten-crop evaluation on {@code val/}: {@code batchSize} examples, ten rows each. */
  public static ImageFolderLoader forTenCrop(ImageFolder folder, int batchSize) {
    return builder(folder, Split.TEST).batchSize(batchSize).mode(Mode.TEN_CROP).build();
  }

  /** Options of an {@link ImageFolderLoader}. */
  public static final class Builder {
    private final ImageFolder folder;
    private final Split split;
    private int batchSize;
    private Mode mode = Mode.CENTER_CROP;
    private ImageNetTransform transform = ImageNetTransform.imagenet();
    private boolean shuffle;
    private long seed;
    private boolean dropLast;
    private int threads = defaultThreads();
    private int prefetch = 2;
    private int epochs = Integer.MAX_VALUE;

    private Builder(ImageFolder folder, Split split) {
      this.folder = folder;
      this.split = split;
    }

    /** Examples per batch (required). */
    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    /** What is done to each image (default {@link Mode#CENTER_CROP}). */
    public Builder mode(Mode mode) {
      this.mode = mode;
      return this;
    }

    /** Sizes, strengths and normalization (default {@link ImageNetTransform#imagenet()}). */
    public Builder transform(ImageNetTransform transform) {
      this.transform = transform;
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

    /** Drop the last partial batch (default false: it comes with its real size). */
    public Builder dropLast(boolean dropLast) {
      this.dropLast = dropLast;
      return this;
    }

    /** Decoding threads, 1..256 (default {@link ImageFolderLoader#defaultThreads()}); results do not depend on it. */
    public Builder threads(int threads) {
      this.threads = threads;
      return this;
    }

    /** Batches prepared ahead of the one the caller holds, 1..64 (default 2). */
    public Builder prefetch(int prefetch) {
      this.prefetch = prefetch;
      return this;
    }

    /** Number of epochs, after which {@link ImageFolderLoader#next()} keeps returning null (default unlimited). */
    public Builder epochs(int epochs) {
      this.epochs = epochs;
      return this;
    }

    public ImageFolderLoader build() {
      return new ImageFolderLoader(this);
    }
  }

  public ImageFolder folder() {
    return folder;
  }

  public Split split() {
    return split;
  }

  public Mode mode() {
    return mode;
  }

  public ImageNetTransform transform() {
    return transform;
  }

  /** Number of decoding threads. */
  public int threads() {
    return decoders.length;
  }

  @Override
  public int batchSize() {
    return batchSize;
  }

  /** All the images of the split. */
  @Override
  public int examplesPerEpoch() {
    return examples;
  }

  @Override
  public int batchesPerEpoch() {
    return batches;
  }

  @Override
  public int cropsPerExample() {
    return crops;
  }

  /**
   * The seed of the generator of the example at {@code position} of epoch {@code epoch}: the
   * epoch's seed and the position, each mixed by SplitMix64's finalizer, so that neighbouring
   * positions and epochs get unrelated streams.
   */
  static long exampleSeed(long seed, int epoch, int position) {
    return mix(mix(BatchLoader.epochSeed(seed, epoch)) + position);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /**
   * Averages per-row scores over each example's crops: {@code scores} is rows x classes
   * (row-major, rows = examples x crops, in batch order), the result examples x classes.
   */
  public static float[] averageCrops(float[] scores, int crops, int classes) {
    if (scores == null || crops <= 0 || classes <= 0 || scores.length % (crops * classes) != 0) {
      throw new IllegalArgumentException("need rows x classes scores with rows a multiple of " + crops + ", got "
          + (scores == null ? "null" : scores.length + " values") + " for " + classes + " classes");
    }
    int n = scores.length / (crops * classes);
    float[] out = new float[n * classes];
    for (int j = 0; j < n; j++) {
      for (int k = 0; k < classes; k++) {
        double sum = 0;
        for (int r = 0; r < crops; r++) {
          sum += scores[(j * crops + r) * classes + k];
        }
        out[j * classes + k] = (float) (sum / crops);
      }
    }
    return out;
  }

  /**
   * The next batch of the current epoch, or null when the epoch is over (the following call
   * starts the next epoch; after the last epoch, null forever). Blocks until it is decoded.
   * The previously returned batch becomes invalid.
   *
   * @throws DatasetException if an image could not be read or decoded (the message names the
   *     file; the cause is the original), or another failure of the loader's threads
   * @throws IllegalStateException if the loader is closed
   */
  @Override
  public Batch next() {
    if (closed) {
      throw new IllegalStateException("image folder loader is closed");
    }
    return handOff.next(this::threadsStopped, "image loader threads stopped unexpectedly on " + folder.dir(split),
        failure -> new DatasetException("image loader failed on " + folder.dir(split) + ": "
            + (failure instanceof DatasetException ? failure.getMessage() : failure.toString()), failure));
  }

  /** Whether nothing more can reach the caller: a decoder died, or the scheduler ended with nothing pending. */
  private boolean threadsStopped() {
    boolean decodersAlive = true;
    for (Thread t : decoders) {
      decodersAlive &= t.isAlive();
    }
    synchronized (pending) {
      return !decodersAlive || !scheduler.isAlive() && pending.isEmpty();
    }
  }

  /** Appends a job or marker to the hand-out order; false once a failure was handed out. */
  private boolean enqueue(Object item) {
    synchronized (pending) {
      if (stopped) {
        return false;
      }
      pending.addLast(item);
    }
    handOut();
    return true;
  }

  /** Moves the finished head of the hand-out order to the caller, in order. */
  private void handOut() {
    synchronized (pending) {
      while (!pending.isEmpty()) {
        Object head = pending.peekFirst();
        if (head instanceof Job) {
          Job job = (Job) head;
          if (!job.done) {
            return;
          }
          pending.pollFirst();
          Throwable t = job.failure();
          if (t != null) {
            ready.add(BatchHandOff.failure(t));
            stopped = true;
            pending.clear();
            return;
          }
          ready.add(job.batch);
        } else {
          pending.pollFirst();
          ready.add(head);
        }
      }
    }
  }

  /** The scheduler thread: the epochs' orders, batch after batch as buffers come free. */
  private void schedule() {
    try {
      int[] order = new int[examples];
      for (int e = 0; e < epochs; e++) {
        SplittableRandom rng = new SplittableRandom(BatchLoader.epochSeed(seed, e));
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
          Batch b = null;
          while (b == null) {
            if (closed) {
              return;
            }
            b = free.poll(POLL_MS, TimeUnit.MILLISECONDS);
          }
          int start = bi * batchSize;
          int n = Math.min(batchSize, examples - start);
          for (int j = 0; j < n; j++) {
            for (int k = 0; k < crops; k++) {
              b.indices[j * crops + k] = order[start + j];
            }
          }
          b.size = n * crops;
          b.epoch = e;
          b.index = bi;
          Job job = new Job(b, n == batchSize ? b.staging : b.partialStaging, n);
          if (!enqueue(job)) {
            return;
          }
          for (int j = 0; j < n; j++) {
            work.add(new Task(job, j, order[start + j], exampleSeed(seed, e, start + j)));
          }
        }
        if (!enqueue(BatchHandOff.END_OF_EPOCH)) {
          return;
        }
      }
      enqueue(BatchHandOff.FINISHED);
    } catch (InterruptedException e) {
      // close(): stop quietly
    } catch (Throwable t) {
      if (!closed) {
        enqueue(BatchHandOff.failure(t));
      }
    }
  }

  /** A decoding thread: one example at a time; whoever completes a batch fills its tensors. */
  private void decode() {
    try {
      while (!closed) {
        Task t = work.poll(POLL_MS, TimeUnit.MILLISECONDS);
        if (t == null) {
          continue;
        }
        if (!closed) {
          try {
            transform(t);
          } catch (Throwable e) {
            t.job.fail(t.slot, e instanceof DatasetException ? e
                : new DatasetException(folder.file(split, t.example), "cannot load: " + e, e));
          }
        }
        if (t.job.remaining.decrementAndGet() == 0 && !closed) {
          complete(t.job);
        }
      }
    } catch (InterruptedException e) {
      // close(): stop quietly
    }
  }

  private void transform(Task t) {
    RgbImage image = folder.read(split, t.example);
    int offset = t.slot * crops * per;
    switch (mode) {
      case TRAIN:
        transform.train(image, new SplittableRandom(t.seed), t.job.buffer, offset);
        break;
      case CENTER_CROP:
        transform.center(image, t.job.buffer, offset);
        break;
      default:
        transform.tenCrop(image, t.job.buffer, offset);
        break;
    }
  }

  /** Copies a decoded batch into its tensors (views of the first rows for a partial batch). */
  private void complete(Job job) {
    if (job.failure() == null) {
      try {
        Batch b = job.batch;
        int rows = job.examples * crops;
        boolean full = rows == b.images.dim(0);
        if (!full && b.imagesView == null) {
          b.imagesView = b.images.slice(0, rows);
          b.labelsView = b.labels.slice(0, rows);
        }
        (full ? b.images : b.imagesView).copyFrom(job.buffer);
        for (int r = 0; r < rows; r++) {
          (full ? b.labels : b.labelsView).setInt(folder.label(split, b.indices[r]), r);
        }
      } catch (Throwable e) {
        job.fail(-1, e);
      }
    }
    job.done = true;
    handOut();
  }

  /** Whether any of the loader's threads is still running (for tests). */
  boolean threadsAlive() {
    boolean alive = scheduler.isAlive();
    for (Thread t : decoders) {
      alive |= t.isAlive();
    }
    return alive;
  }

  /**
   * Stops the threads (each finishes the image it is on) and frees the batch tensors; batches
   * handed out become unusable. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    scheduler.interrupt();
    for (Thread t : decoders) {
      t.interrupt();
    }
    boolean interrupted = false;
    List<Thread> threads = new ArrayList<>(List.of(decoders));
    threads.add(scheduler);
    for (Thread t : threads) {
      while (t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    handOff.closeBuffers();
    work.clear();
    synchronized (pending) {
      pending.clear();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "ImageFolderLoader(" + folder.dir(split) + ", " + mode + ", batch " + batchSize + ", " + decoders.length
        + " threads)";
  }
}
