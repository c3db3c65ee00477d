package org.resnorm.data;

import java.util.Arrays;
import org.resnorm.core.Tensor;

/**
 * One batch from a {@link BatchSource} ({@link BatchLoader}, {@link ImageFolderLoader}): images
 * as a float32 tensor [B, C, H, W] and labels as an int32 tensor [B], where B is {@link #size()}
 * (smaller than the full size only for a kept last partial batch; its tensors are then views of
 * the first B rows). B counts rows: with several crops per example (ten-crop evaluation) each
 * example fills {@link BatchSource#cropsPerExample()} consecutive rows, all with its label.
 *
 * <p>The source owns and reuses the tensors: a batch is valid until the next call to
 * {@link BatchSource#next()} or {@link BatchSource#close()}. Do not close its tensors; copy them
 * to keep them longer.
 */
public final class Batch {
  final Tensor images;
  final Tensor labels;
  final float[] staging;
  final float[] partialStaging;
  final int[] indices;
  Tensor imagesView;
  Tensor labelsView;
  int size;
  int epoch;
  int index;

  Batch(int batchSize, int channels, int height, int width, int partialSize) {
    Tensor im = Tensor.empty(batchSize, channels, height, width);
    try {
      labels = Tensor.emptyInt(batchSize);
    } catch (RuntimeException | Error e) {
      im.close();
      throw e;
    }
    images = im;
    int per = channels * height * width;
    staging = new float[batchSize * per];
    partialStaging = partialSize > 0 ? new float[partialSize * per] : null;
    indices = new int[batchSize];
  }

  /** Images [size, C, H, W]. */
  public Tensor images() {
    return size == images.dim(0) ? images : imagesView;
  }

  /** Labels, int32 [size]. */
  public Tensor labels() {
    return size == labels.dim(0) ? labels : labelsView;
  }

  /** The number of rows (examples, or examples times crops) in this batch. */
  public int size() {
    return size;
  }

  /** The epoch this batch belongs to, from 0. */
  public int epoch() {
    return epoch;
  }

  /** The batch's position in its epoch, from 0. */
  public int index() {
    return index;
  }

  /** The dataset index of every row, in batch order (a copy; repeated per crop). */
  public int[] exampleIndices() {
    return Arrays.copyOf(indices, size);
  }

  void closeTensors() {
    if (imagesView != null) {
      imagesView.close();
      labelsView.close();
    }
    images.close();
    labels.close();
  }

  @Override
  public String toString() {
    return "Batch(epoch " + epoch + ", index " + index + ", size " + size + ")";
  }
}
