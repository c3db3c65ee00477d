package org.resnorm.data;

import java.util.SplittableRandom;

/**
 * A per-example transform applied by the {@link BatchLoader} on its background thread: reads
 * one C x H x W image from {@code src} at {@code srcOffset} and writes one of the same shape to
 * {@code dst} at {@code dstOffset} (every value), drawing any randomness from {@code rng} (the
 * loader's seeded per-epoch generator, so batches are reproducible). Implementations must not
 * keep references to the arrays.
 */
@FunctionalInterface
public interface Augmentation {
  void apply(float[] src, int srcOffset, float[] dst, int dstOffset, int channels, int height, int width,
      SplittableRandom rng);

  /** No augmentation: a plain copy (evaluation). */
  Augmentation NONE = (src, so, dst, dO, c, h, w, rng) -> System.arraycopy(src, so, dst, dO, c * h * w);

  /** Random horizontal flip, then a random crop of the image zero-padded by {@code padding}. */
  static Augmentation cropFlip(int padding) {
    return new CropFlip(padding);
  }
}
