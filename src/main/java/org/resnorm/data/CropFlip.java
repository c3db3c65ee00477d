package org.resnorm.data;

import java.util.SplittableRandom;

/**
 * The CIFAR training augmentation of fb.resnet.torch (also used for Fashion-MNIST): a random
 * horizontal flip (probability 1/2), then a random H x W crop of the image zero-padded by
 * {@code padding} pixels on every side.
 *
 * <p>Padding value: the images are already normalized, and the padding is 0 in that normalized
 * space, i.e. the per-channel mean pixel, exactly as fb.resnet.torch pads the normalized tensor
 * with zeros ({@code RandomCrop} after {@code ColorNormalize}).
 *
 * <p>Draws per example, in this order: {@code flip = rng.nextBoolean()}, {@code oy =
 * rng.nextInt(2P+1)}, {@code ox = rng.nextInt(2P+1)}; (oy, ox) is the crop's top-left corner in
 * the padded image, so (P, P) is the centre crop (no shift). With padding 0 only the flip is
 * random (and no crop offsets are drawn).
 */
public final class CropFlip implements Augmentation {
  private final int padding;

  public CropFlip(int padding) {
    if (padding < 0) {
      throw new IllegalArgumentException("padding must be >= 0, got " + padding);
    }
    this.padding = padding;
  }

  public int padding() {
    return padding;
  }

  @Override
  public void apply(float[] src, int srcOffset, float[] dst, int dstOffset, int channels, int height, int width,
      SplittableRandom rng) {
    boolean flip = rng.nextBoolean();
    int oy = padding == 0 ? 0 : rng.nextInt(2 * padding + 1);
    int ox = padding == 0 ? 0 : rng.nextInt(2 * padding + 1);
    apply(src, srcOffset, dst, dstOffset, channels, height, width, padding, oy, ox, flip);
  }

  /**
   * The deterministic transform: {@code dst[c][y][x] = f[c][y + oy - P][x + ox - P]}, or 0 where
   * that falls in the padding, with {@code f} the image flipped horizontally when {@code flip}
   * ({@code f[c][y][x] = src[c][y][W-1-x]}) and the image itself otherwise.
   */
  public static void apply(float[] src, int srcOffset, float[] dst, int dstOffset, int channels, int height, int width,
      int padding, int oy, int ox, boolean flip) {
    if (padding < 0 || oy < 0 || ox < 0 || oy > 2 * padding || ox > 2 * padding) {
      throw new IllegalArgumentException("crop offset (" + oy + ", " + ox + ") out of range 0.." + 2 * padding);
    }
    int dy = oy - padding;
    int dx = ox - padding;
    int plane = height * width;
    for (int c = 0; c < channels; c++) {
      int s = srcOffset + c * plane;
      int d = dstOffset + c * plane;
      for (int y = 0; y < height; y++) {
        int sy = y + dy;
        int row = d + y * width;
        if (sy < 0 || sy >= height) {
          java.util.Arrays.fill(dst, row, row + width, 0f);
          continue;
        }
        int srow = s + sy * width;
        for (int x = 0; x < width; x++) {
          int sx = x + dx;
          if (sx < 0 || sx >= width) {
            dst[row + x] = 0f;
          } else {
            dst[row + x] = src[srow + (flip ? width - 1 - sx : sx)];
          }
        }
      }
    }
  }

  @Override
  public String toString() {
    return "CropFlip(padding " + padding + ")";
  }
}
