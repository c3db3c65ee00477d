package org.resnorm.data;

/**
 * Something that hands out {@link Batch}es epoch by epoch, so that a trainer can consume an
 * in-memory {@link BatchLoader} and a streaming {@link ImageFolderLoader} alike.
 *
 * <p>The contract of {@link #next()}: the next batch of the current epoch, or null when the
 * epoch is over (the following call starts the next epoch; after the last epoch, null
 * forever). A batch is valid until the next {@code next()} or {@link #close()}. A failure of
 * a background thread is re-thrown by {@code next()} as a {@link DatasetException}. Use from
 * one thread.
 */
public interface BatchSource extends AutoCloseable {
  /**
   * The next batch, or null at the end of an epoch.
   *
   * @throws DatasetException if preparing the batch failed (the cause is the original)
   * @throws IllegalStateException if the source is closed
   */
  Batch next();

  /** Examples per full batch. */
  int batchSize();

  /** Batches per epoch (the last may be partial when it is kept). */
  int batchesPerEpoch();

  /** Examples used per epoch. */
  int examplesPerEpoch();

  /**
   * Rows of a batch per example: 1, or e.g. 10 for ten-crop evaluation, where example
   * {@code j} of a batch fills rows {@code j * crops .. j * crops + crops - 1} and a batch of
   * {@code n} examples has {@code n * crops} rows ({@link Batch#size()}).
   */
  default int cropsPerExample() {
    return 1;
  }

  /** Stops the background threads and frees the batch tensors. Idempotent. */
  @Override
  void close();
}
