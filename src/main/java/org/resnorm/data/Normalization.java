package org.resnorm.data;

import java.util.Arrays;

/**
 * Per-channel normalization applied when a dataset is decoded: a pixel byte {@code p} of
 * channel {@code c} becomes {@code ((p / 255f) - mean[c]) / std[c]}, evaluated in float32 in
 * exactly that order (through a 256-entry table per channel), so a test can reproduce every
 * decoded value bit for bit. Mean and std are in [0, 1] units.
 */
public final class Normalization {
  private final float[] mean;
  private final float[] std;

  private Normalization(float[] mean, float[] std) {
    if (mean == null || std == null || mean.length == 0 || mean.length != std.length) {
      throw new IllegalArgumentException("mean and std must be non-empty and of the same length, got "
          + Arrays.toString(mean) + " and " + Arrays.toString(std));
    }
    for (int c = 0; c < mean.length; c++) {
      if (!Float.isFinite(mean[c]) || !Float.isFinite(std[c]) || !(std[c] > 0)) {
        throw new IllegalArgumentException("channel " + c + ": mean must be finite and std positive, got mean "
            + mean[c] + ", std " + std[c]);
      }
    }
    this.mean = mean.clone();
    this.std = std.clone();
  }

  /** Mean and std per channel, in [0, 1] units. */
  public static Normalization of(float[] mean, float[] std) {
    return new Normalization(mean, std);
  }

  /** Mean and std per channel given in 0..255 units (as fb.resnet.torch writes them); divided by 255 in float. */
  public static Normalization of255(float[] mean255, float[] std255) {
    if (mean255 == null || std255 == null) {
      throw new IllegalArgumentException("mean and std must not be null");
    }
    float[] m = new float[mean255.length];
    float[] s = new float[std255.length];
    for (int i = 0; i < m.length; i++) {
      m[i] = mean255[i] / 255f;
    }
    for (int i = 0; i < s.length; i++) {
      s[i] = std255[i] / 255f;
    }
    return new Normalization(m, s);
  }

  /** No normalization: pixels are just scaled to [0, 1] (mean 0, std 1 on every channel). */
  public static Normalization identity(int channels) {
    if (channels <= 0) {
      throw new IllegalArgumentException("channels must be positive, got " + channels);
    }
    float[] m = new float[channels];
    float[] s = new float[channels];
    Arrays.fill(s, 1f);
    return new Normalization(m, s);
  }

  public int channels() {
    return mean.length;
  }

  public float[] mean() {
    return mean.clone();
  }

  public float[] std() {
    return std.clone();
  }

  /** The decoded value of pixel byte {@code p} (0..255) of channel {@code c}. */
  public float apply(int c, int p) {
    return ((p / 255f) - mean[c]) / std[c];
  }

  /** table[c][p] = {@link #apply}(c, p). */
  float[][] table() {
    float[][] t = new float[mean.length][256];
    for (int c = 0; c < mean.length; c++) {
      for (int p = 0; p < 256; p++) {
        t[c][p] = apply(c, p);
      }
    }
    return t;
  }

  @Override
  public String toString() {
    return "Normalization(mean " + Arrays.toString(mean) + ", std " + Arrays.toString(std) + ")";
  }
}
