package org.resnorm.data;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * The caller's side of a prefetching loader ({@link BatchLoader}, {@link ImageFolderLoader}):
 * a fixed pool of batch buffers ({@link #free}), the queue of what the loader's threads have
 * ready in hand-out order ({@link #ready}: batches, the {@link #END_OF_EPOCH} and
 * {@link #FINISHED} markers, or a {@link #failure}), and {@link #next} with the
 * {@link BatchSource} contract. The buffer the caller holds goes back to the pool on the next
 * call. Only the caller's thread calls {@link #next}; the producers use the queues.
 */
final class BatchHandOff {
  static final Object END_OF_EPOCH = new Object();
  static final Object FINISHED = new Object();
  private static final long POLL_MS = 100;

  /** A producer's exception, queued in hand-out order. */
  private record Failure(Throwable cause) {}

  /** Buffers the producers may fill. */
  final BlockingQueue<Batch> free;
  /** What is ready, in hand-out order. */
  final BlockingQueue<Object> ready = new LinkedBlockingQueue<>();
  /** Every buffer, to free on close. */
  private final List<Batch> all = new ArrayList<>();
  private Batch held;
  private Throwable failure;
  private boolean finished;

  /** {@code slots} buffers of {@code batchRows} rows of C x H x W (and {@code partialRows} for a kept last batch). */
  BatchHandOff(int slots, int batchRows, int channels, int height, int width, int partialRows) {
    free = new ArrayBlockingQueue<>(slots);
    try {
      for (int i = 0; i < slots; i++) {
        Batch s = new Batch(batchRows, channels, height, width, partialRows);
        all.add(s);
        free.add(s);
      }
    } catch (RuntimeException | Error e) {
      closeBuffers();
      throw e;
    }
  }

  /** What a producer queues when it fails. */
  static Object failure(Throwable t) {
    return new Failure(t);
  }

  /**
   * The next batch, or null at the end of an epoch (and forever after {@link #FINISHED}).
   *
   * @param producersStopped whether nothing more can arrive (checked while waiting)
   * @param stoppedMessage the error when the producers stopped without a marker
   * @param failed the exception to throw for a producer's failure (thrown again on later calls)
   */
  Batch next(BooleanSupplier producersStopped, String stoppedMessage, Function<Throwable, DatasetException> failed) {
    if (failure != null) {
      throw failed.apply(failure);
    }
    if (held != null) {
      free.add(held);
      held = null;
    }
    if (finished) {
      return null;
    }
    Object item = take(producersStopped, stoppedMessage);
    if (item == END_OF_EPOCH) {
      return null;
    }
    if (item == FINISHED) {
      finished = true;
      return null;
    }
    if (item instanceof Failure f) {
      failure = f.cause();
      throw failed.apply(failure);
    }
    held = (Batch) item;
    return held;
  }

  private Object take(BooleanSupplier producersStopped, String stoppedMessage) {
    try {
      while (true) {
        Object o = ready.poll(POLL_MS, TimeUnit.MILLISECONDS);
        if (o != null) {
          return o;
        }
        if (producersStopped.getAsBoolean()) {
          o = ready.poll();
          if (o != null) {
            return o;
          }
          throw new DatasetException(stoppedMessage);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DatasetException("interrupted while waiting for a batch", e);
    }
  }

  /** Frees every buffer's tensors (after the producers stopped); handed-out batches become unusable. */
  void closeBuffers() {
    for (Batch b : all) {
      b.closeTensors();
    }
    held = null;
    ready.clear();
  }
}
