package org.resnorm.data;

import java.util.SplittableRandom;

/**
 * fb.resnet.torch's ImageNet preprocessing (the recipe the paper followed): turns an
 * {@link RgbImage} of any size into a {@code crop x crop} normalized 3-channel image, written
 * channel-major into a {@code float[]}. Immutable; sizes and strengths are configurable so that
 * tests can use tiny images.
 *
 * <p><b>Training</b> ({@link #train}), in this order:
 * <ol>
 *   <li>RandomSizedCrop: up to 10 attempts, each drawing an area fraction uniform in [0.08, 1]
 *       and an aspect ratio uniform in [3/4, 4/3]; {@code w = round(sqrt(area * ratio))},
 *       {@code h = round(sqrt(area / ratio))}, swapped with probability 1/2; the first box that
 *       fits (1 <= h <= H, 1 <= w <= W) is placed uniformly and resized to crop x crop. When no
 *       attempt fits: Scale(crop) and CenterCrop(crop) as in evaluation.
 *   <li>ColorJitter: brightness, contrast and saturation (strength 0.4 each), in a random order;
 *       each blends the image with a target, {@code alpha * img + (1 - alpha) * target} with
 *       {@code alpha} uniform in [1 - s, 1 + s]: black for brightness, the mean grey of the
 *       image for contrast, each pixel's grey for saturation (grey = 0.299 R + 0.587 G + 0.114
 *       B). A strength of 0 leaves the transform out (no draws).
 *   <li>Lighting (AlexNet's PCA noise, alphastd 0.1): adds {@code sum_j eigvec[c][j] * alpha_j *
 *       eigval[j]} to channel c, {@code alpha_j} normal with mean 0 and sd alphastd, with
 *       ImageNet's eigval {0.2175, 0.0188, 0.0045} and eigvec rows {-0.5675, 0.7192, 0.4009},
 *       {-0.5808, -0.0045, -0.8140}, {-0.5836, -0.6948, 0.4203}. Alphastd 0: no draws.
 *   <li>Normalization: {@code (v - mean[c]) / std[c]}, ImageNet's mean {0.485, 0.456, 0.406}
 *       and std {0.229, 0.224, 0.225} by default.
 *   <li>Horizontal flip with probability 1/2.
 * </ol>
 * No clamping anywhere, as in fb.resnet.torch.
 *
 * <p>The draws, all from the given generator, so that a test can replay them: per crop attempt
 * {@code nextDouble()} for the area, the ratio and the swap ({@code < 0.5} swaps), then, for the
 * box that fits, {@code nextInt(H - h + 1)} for its top row and {@code nextInt(W - w + 1)} for
 * its left column; for the jitter the order of the n transforms of non-zero strength (kept in the
 * order brightness, contrast, saturation, then for {@code i = n-1 .. 1} swap {@code i} with
 * {@code nextInt(i + 1)}) and one {@code nextDouble()} per transform, as it is applied; for
 * the lighting three normals, each {@code sqrt(-2 ln(1 - u1)) cos(2 pi u2)} from two
 * {@code nextDouble()}; last {@code nextDouble() < 0.5} flips.
 *
 * <p><b>Evaluation</b> ({@link #center}): Scale(resize) then CenterCrop(crop), normalized.
 * Scale makes the shorter side {@code resize} and the longer {@code floor(long * resize /
 * short)}; CenterCrop takes the box at {@code (ceil((H - crop) / 2), ceil((W - crop) / 2))}.
 * {@link #tenCrop} writes ten crops of the scaled image: the centre, top-left, top-right,
 * bottom-left and bottom-right ones, then the mirror images of those five, in that order.
 *
 * <p>Resizing is bilinear with pixel centres at half-integers (output pixel {@code x} samples
 * the source at {@code (x + 0.5) * W / outW - 0.5}, clamped to the image), without
 * antialiasing, the usual convention of image libraries (OpenCV, PyTorch with
 * {@code align_corners=False}).
 */
public final class ImageNetTransform {
  /** ImageNet's per-channel mean and std, in [0, 1] units. */
  public static final Normalization IMAGENET_NORMALIZATION =
      Normalization.of(new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});

  /** Crops per example of {@link #tenCrop}. */
  public static final int TEN_CROPS = 10;

  static final double[] PCA_EIGVAL = {0.2175, 0.0188, 0.0045};
  static final double[][] PCA_EIGVEC = {
      {-0.5675, 0.7192, 0.4009},
      {-0.5808, -0.0045, -0.8140},
      {-0.5836, -0.6948, 0.4203},
  };
  static final int CROP_ATTEMPTS = 10;
  static final double MIN_AREA = 0.08;
  static final double MIN_RATIO = 3.0 / 4.0;
  static final double MAX_RATIO = 4.0 / 3.0;

  private static final int C = 3;
  private static final int BRIGHTNESS = 0;
  private static final int CONTRAST = 1;
  private static final int SATURATION = 2;

  private final int crop;
  private final int resize;
  private final double brightness;
  private final double contrast;
  private final double saturation;
  private final double lightingStd;
  private final Normalization normalization;
  private final float[] mean;
  private final float[] std;

  private ImageNetTransform(int crop, int resize, double brightness, double contrast, double saturation,
      double lightingStd, Normalization normalization) {
    if (crop <= 0 || resize < crop) {
      throw new IllegalArgumentException("need 0 < crop size <= resize size, got crop " + crop + ", resize " + resize);
    }
    for (double s : new double[] {brightness, contrast, saturation, lightingStd}) {
      if (!(s >= 0 && s < Double.POSITIVE_INFINITY)) {
        throw new IllegalArgumentException("jitter strengths and lighting std must be finite and >= 0, got " + s);
      }
    }
    if (normalization == null || normalization.channels() != C) {
      throw new IllegalArgumentException("need a 3-channel normalization, got " + normalization);
    }
    this.crop = crop;
    this.resize = resize;
    this.brightness = brightness;
    this.contrast = contrast;
    this.saturation = saturation;
    this.lightingStd = lightingStd;
    this.normalization = normalization;
    this.mean = normalization.mean();
    this.std = normalization.std();
  }

  /** ImageNet's sizes: crop 224, resize 256; jitter 0.4, lighting 0.1, ImageNet normalization. */
  public static ImageNetTransform imagenet() {
    return of(224, 256);
  }

  /** The recipe with other sizes ({@code 0 < cropSize <= resizeSize}). */
  public static ImageNetTransform of(int cropSize, int resizeSize) {
    return new ImageNetTransform(cropSize, resizeSize, 0.4, 0.4, 0.4, 0.1, IMAGENET_NORMALIZATION);
  }

  /** The same with other colour jitter strengths (0 leaves a transform out). */
  public ImageNetTransform withColorJitter(double brightness, double contrast, double saturation) {
    return new ImageNetTransform(crop, resize, brightness, contrast, saturation, lightingStd, normalization);
  }

  /** The same with another lighting alphastd (0: none). */
  public ImageNetTransform withLighting(double alphaStd) {
    return new ImageNetTransform(crop, resize, brightness, contrast, saturation, alphaStd, normalization);
  }

  /** The same with another 3-channel normalization. */
  public ImageNetTransform withNormalization(Normalization normalization) {
    return new ImageNetTransform(crop, resize, brightness, contrast, saturation, lightingStd, normalization);
  }

  public int cropSize() {
    return crop;
  }

  public int resizeSize() {
    return resize;
  }

  public Normalization normalization() {
    return normalization;
  }

  /** Values per output image: 3 * crop * crop. */
  public int imageSize() {
    return C * crop * crop;
  }

  /** The training transform of {@code image} into {@code dst[offset ..]}, drawing from {@code rng}. */
  public void train(RgbImage image, SplittableRandom rng, float[] dst, int offset) {
    check(image, dst, offset, 1);
    int h = image.height();
    int w = image.width();
    int[] box = randomSizedCropBox(h, w, rng);
    if (box != null) {
      resize(image.data(), h, w, box[0], box[1], box[2], box[3], crop, crop, 0, 0, crop, crop, dst, offset);
    } else {
      int[] s = scaledSize(h, w, crop);
      resize(image.data(), h, w, 0, 0, h, w, s[0], s[1], centerOffset(s[0], crop), centerOffset(s[1], crop), crop,
          crop, dst, offset);
    }
    colorJitter(dst, offset, rng);
    lighting(dst, offset, rng);
    normalize(dst, offset);
    if (rng.nextDouble() < 0.5) {
      flip(dst, offset, crop, crop);
    }
  }

  /** The evaluation transform, Scale(resize) + CenterCrop(crop), into {@code dst[offset ..]}. */
  public void center(RgbImage image, float[] dst, int offset) {
    check(image, dst, offset, 1);
    int[] s = scaledSize(image.height(), image.width(), resize);
    scaledCrop(image, s, centerOffset(s[0], crop), centerOffset(s[1], crop), dst, offset);
    normalize(dst, offset);
  }

  /**
   * The ten crops of the image scaled to {@code resize}, {@link #imageSize()} values each, from
   * {@code dst[offset]} on: centre, top-left, top-right, bottom-left, bottom-right, then their
   * mirror images in the same order (crop {@code k + 5} is crop {@code k} flipped).
   */
  public void tenCrop(RgbImage image, float[] dst, int offset) {
    check(image, dst, offset, TEN_CROPS);
    int[] s = scaledSize(image.height(), image.width(), resize);
    int bottom = s[0] - crop;
    int right = s[1] - crop;
    int[][] corners = {{centerOffset(s[0], crop), centerOffset(s[1], crop)}, {0, 0}, {0, right}, {bottom, 0},
        {bottom, right}};
    int per = imageSize();
    for (int k = 0; k < 5; k++) {
      int o = offset + k * per;
      scaledCrop(image, s, corners[k][0], corners[k][1], dst, o);
      normalize(dst, o);
      int m = offset + (k + 5) * per;
      System.arraycopy(dst, o, dst, m, per);
      flip(dst, m, crop, crop);
    }
  }

  private void check(RgbImage image, float[] dst, int offset, int images) {
    if (image == null || dst == null) {
      throw new IllegalArgumentException("image and dst must not be null");
    }
    if (offset < 0 || (long) offset + (long) images * imageSize() > dst.length) {
      throw new IllegalArgumentException("dst of " + dst.length + " values has no room for " + images + " x "
          + imageSize() + " at offset " + offset);
    }
  }

  /** The crop x crop box at (oy, ox) of the image resized to {@code scaled} (H, W). */
  private void scaledCrop(RgbImage image, int[] scaled, int oy, int ox, float[] dst, int offset) {
    int h = image.height();
    int w = image.width();
    resize(image.data(), h, w, 0, 0, h, w, scaled[0], scaled[1], oy, ox, crop, crop, dst, offset);
  }

  /**
   * RandomSizedCrop's box {top, left, height, width} for an H x W image, or null when none of
   * the attempts fits (the caller then scales and centre-crops).
   */
  static int[] randomSizedCropBox(int height, int width, SplittableRandom rng) {
    double area = (double) height * width;
    for (int attempt = 0; attempt < CROP_ATTEMPTS; attempt++) {
      double target = (MIN_AREA + (1 - MIN_AREA) * rng.nextDouble()) * area;
      double ratio = MIN_RATIO + (MAX_RATIO - MIN_RATIO) * rng.nextDouble();
      long w = Math.round(Math.sqrt(target * ratio));
      long h = Math.round(Math.sqrt(target / ratio));
      if (rng.nextDouble() < 0.5) {
        long t = w;
        w = h;
        h = t;
      }
      if (h >= 1 && h <= height && w >= 1 && w <= width) {
        int top = rng.nextInt(height - (int) h + 1);
        int left = rng.nextInt(width - (int) w + 1);
        return new int[] {top, left, (int) h, (int) w};
      }
    }
    return null;
  }

  /** Scale(size): {H', W'} with the shorter side {@code size}, the longer floor(long * size / short). */
  static int[] scaledSize(int height, int width, int size) {
    if (height <= width) {
      return new int[] {size, (int) ((long) width * size / height)};
    }
    return new int[] {(int) ((long) height * size / width), size};
  }

  /** CenterCrop's offset, ceil((length - size) / 2), as fb.resnet.torch rounds it. */
  static int centerOffset(int length, int size) {
    return (length - size + 1) / 2;
  }

  /**
   * Bilinear resize of the window (y0, x0, wh x ww) of a 3 x H x W image to a virtual th x tw
   * image, of which the oh x ow box at (oy, ox) is written to {@code dst} (3 x oh x ow). Only
   * the window's pixels are read: resizing a window is the same as cropping, then resizing.
   */
  static void resize(float[] src, int h, int w, int y0, int x0, int wh, int ww, int th, int tw, int oy, int ox,
      int oh, int ow, float[] dst, int offset) {
    int[] xa = new int[ow];
    int[] xb = new int[ow];
    float[] fx = new float[ow];
    taps(ox, ow, ww, tw, x0, xa, xb, fx);
    int[] ya = new int[oh];
    int[] yb = new int[oh];
    float[] fy = new float[oh];
    taps(oy, oh, wh, th, y0, ya, yb, fy);
    for (int c = 0; c < C; c++) {
      int plane = c * h * w;
      int out = offset + c * oh * ow;
      for (int y = 0; y < oh; y++) {
        int ra = plane + ya[y] * w;
        int rb = plane + yb[y] * w;
        float wy = fy[y];
        int row = out + y * ow;
        for (int x = 0; x < ow; x++) {
          float a = src[ra + xa[x]];
          float b = src[ra + xb[x]];
          float top = a + fx[x] * (b - a);
          a = src[rb + xa[x]];
          b = src[rb + xb[x]];
          float bottom = a + fx[x] * (b - a);
          dst[row + x] = top + wy * (bottom - top);
        }
      }
    }
  }

  /**
   * For output positions {@code start .. start+n-1} of a length-{@code target} axis resampled
   * from a length-{@code length} window at {@code origin}: the two source indices and the
   * weight of the second.
   */
  private static void taps(int start, int n, int length, int target, int origin, int[] a, int[] b, float[] f) {
    double scale = (double) length / target;
    for (int i = 0; i < n; i++) {
      double s = (start + i + 0.5) * scale - 0.5;
      s = Math.min(Math.max(s, 0), length - 1);
      int lo = (int) s;
      a[i] = origin + lo;
      b[i] = origin + Math.min(lo + 1, length - 1);
      f[i] = (float) (s - lo);
    }
  }

  private void colorJitter(float[] a, int offset, SplittableRandom rng) {
    int[] order = new int[3];
    double[] strength = {brightness, contrast, saturation};
    int n = 0;
    for (int t = 0; t < 3; t++) {
      if (strength[t] != 0) {
        order[n++] = t;
      }
    }
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    int plane = crop * crop;
    for (int k = 0; k < n; k++) {
      int t = order[k];
      float alpha = (float) (1 + strength[t] * (2 * rng.nextDouble() - 1));
      if (t == BRIGHTNESS) {
        for (int i = offset; i < offset + C * plane; i++) {
          a[i] *= alpha;
        }
      } else if (t == CONTRAST) {
        double sum = 0;
        for (int p = 0; p < plane; p++) {
          sum += grey(a, offset, plane, p);
        }
        float m = (float) (sum / plane);
        for (int i = offset; i < offset + C * plane; i++) {
          a[i] = alpha * a[i] + (1 - alpha) * m;
        }
      } else {
        for (int p = 0; p < plane; p++) {
          float g = grey(a, offset, plane, p);
          for (int c = 0; c < C; c++) {
            int i = offset + c * plane + p;
            a[i] = alpha * a[i] + (1 - alpha) * g;
          }
        }
      }
    }
  }

  private static float grey(float[] a, int offset, int plane, int p) {
    return 0.299f * a[offset + p] + 0.587f * a[offset + plane + p] + 0.114f * a[offset + 2 * plane + p];
  }

  private void lighting(float[] a, int offset, SplittableRandom rng) {
    if (lightingStd == 0) {
      return;
    }
    double[] alpha = new double[3];
    for (int j = 0; j < 3; j++) {
      alpha[j] = lightingStd * gaussian(rng);
    }
    int plane = crop * crop;
    for (int c = 0; c < C; c++) {
      double shift = 0;
      for (int j = 0; j < 3; j++) {
        shift += PCA_EIGVEC[c][j] * alpha[j] * PCA_EIGVAL[j];
      }
      float s = (float) shift;
      for (int i = offset + c * plane; i < offset + (c + 1) * plane; i++) {
        a[i] += s;
      }
    }
  }

  /** A standard normal by Box-Muller (cosine branch), spelled out so that a test can replay it. */
  static double gaussian(SplittableRandom rng) {
    double u1 = rng.nextDouble();
    double u2 = rng.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }

  private void normalize(float[] a, int offset) {
    int plane = crop * crop;
    for (int c = 0; c < C; c++) {
      float m = mean[c];
      float s = std[c];
      for (int i = offset + c * plane; i < offset + (c + 1) * plane; i++) {
        a[i] = (a[i] - m) / s;
      }
    }
  }

  /** Mirrors a 3 x h x w image left to right, in place. */
  static void flip(float[] a, int offset, int h, int w) {
    for (int r = 0; r < C * h; r++) {
      int row = offset + r * w;
      for (int x = 0, y = w - 1; x < y; x++, y--) {
        float t = a[row + x];
        a[row + x] = a[row + y];
        a[row + y] = t;
      }
    }
  }

  @Override
  public String toString() {
    return "ImageNetTransform(crop " + crop + ", resize " + resize + ", jitter " + brightness + "/" + contrast + "/"
        + saturation + ", lighting " + lightingStd + ", " + normalization + ")";
  }
}
