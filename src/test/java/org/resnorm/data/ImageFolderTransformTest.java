package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ImageNetTransform} against plain float64 references written here: bilinear resizing
 * as a sum of tent weights over every source pixel, crops by index, and the training recipe
 * replayed from its documented draws.
 */
class ImageFolderTransformTest {
  private static final int CROP = 16;
  private static final int RESIZE = 20;
  private static final Normalization NONE = Normalization.identity(3);

  @TempDir
  Path dir;

  /** A non-linear pattern (bilinear interpolation of it depends on the exact weights). */
  private static RgbImage pattern(int h, int w) {
    float[] d = new float[3 * h * w];
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          d[(c * h + y) * w + x] = (float) (0.5 + 0.4 * Math.sin(0.7 * x + 1.3 * y + 2.1 * c) * Math.cos(0.2 * x * y));
        }
      }
    }
    return new RgbImage(h, w, d);
  }

  private static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  /** Sampling position of output index i along an axis resized from n to m, clamped to [0, n-1]. */
  private static double source(int i, int n, int m) {
    double s = (i + 0.5) * n / m - 0.5;
    return Math.max(0, Math.min(n - 1, s));
  }

  private static double tent(double d) {
    return Math.max(0, 1 - Math.abs(d));
  }

  /** Reference bilinear resize of a 3 x h x w image to 3 x oh x ow. */
  static double[] resize(double[] src, int h, int w, int oh, int ow) {
    double[] out = new double[3 * oh * ow];
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < oh; y++) {
        double sy = source(y, h, oh);
        for (int x = 0; x < ow; x++) {
          double sx = source(x, w, ow);
          double v = 0;
          for (int j = 0; j < h; j++) {
            for (int i = 0; i < w; i++) {
              v += tent(sy - j) * tent(sx - i) * src[(c * h + j) * w + i];
            }
          }
          out[(c * oh + y) * ow + x] = v;
        }
      }
    }
    return out;
  }

  static double[] crop(double[] src, int h, int w, int top, int left, int ch, int cw) {
    double[] out = new double[3 * ch * cw];
    for (int c = 0; c < 3; c++) {
      for (int y = 0; y < ch; y++) {
        for (int x = 0; x < cw; x++) {
          out[(c * ch + y) * cw + x] = src[(c * h + top + y) * w + left + x];
        }
      }
    }
    return out;
  }

  static double[] mirror(double[] src, int h, int w) {
    double[] out = new double[src.length];
    for (int r = 0; r < 3 * h; r++) {
      for (int x = 0; x < w; x++) {
        out[r * w + x] = src[r * w + w - 1 - x];
      }
    }
    return out;
  }

  private static void assertClose(double[] want, float[] got, int offset, double tol, String what) {
    double worst = 0;
    int at = -1;
    for (int i = 0; i < want.length; i++) {
      double d = Math.abs(want[i] - got[offset + i]);
      if (!(d <= worst)) {
        worst = d;
        at = i;
      }
    }
    assertTrue(worst <= tol, what + ": value " + at + " differs by " + worst);
  }

  @Test
  void centreCropMatchesAPlainBilinearReference() {
    ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE).withNormalization(NONE);
    // {H, W, scaled H, scaled W, top, left}, worked out by hand: the shorter side becomes 20,
    // the longer floor(long * 20 / short); the crop starts at ceil((scaled - 16) / 2)
    int[][] cases = {
        {30, 44, 20, 29, 2, 7}, // 44 * 20 / 30 = 29.3; (29 - 16) / 2 = 6.5 -> 7
        {44, 30, 29, 20, 7, 2},
        {9, 13, 20, 28, 2, 6}, // upscaled: 13 * 20 / 9 = 28.9
        {20, 20, 20, 20, 2, 2}, // already the size: only cropped
        {17, 60, 20, 70, 2, 27}, // 60 * 20 / 17 = 70.6; (70 - 16) / 2 = 27
    };
    for (int[] k : cases) {
      RgbImage im = pattern(k[0], k[1]);
      double[] scaled = resize(toDouble(im.data()), k[0], k[1], k[2], k[3]);
      double[] want = crop(scaled, k[2], k[3], k[4], k[5], CROP, CROP);
      float[] got = new float[t.imageSize() + 5];
      t.center(im, got, 5);
      assertClose(want, got, 5, 1e-5, Arrays.toString(k));
    }
    // the 20 x 20 case is a plain crop of the source
    RgbImage square = pattern(20, 20);
    float[] got = new float[t.imageSize()];
    t.center(square, got, 0);
    assertEquals(square.get(1, 2 + 3, 2 + 4), got[(CROP + 3) * CROP + 4]);
  }

  @Test
  void tenCropYieldsTheTenExpectedCrops() {
    ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE).withNormalization(NONE);
    RgbImage im = pattern(30, 44);
    double[] scaled = resize(toDouble(im.data()), 30, 44, 20, 29);
    // centre, top-left, top-right, bottom-left, bottom-right of the 20 x 29 scaled image
    int[][] corners = {{2, 7}, {0, 0}, {0, 13}, {4, 0}, {4, 13}};
    float[] got = new float[10 * t.imageSize()];
    t.tenCrop(im, got, 0);
    int per = t.imageSize();
    for (int k = 0; k < 5; k++) {
      double[] want = crop(scaled, 20, 29, corners[k][0], corners[k][1], CROP, CROP);
      assertClose(want, got, k * per, 1e-5, "crop " + k);
      assertClose(mirror(want, CROP, CROP), got, (k + 5) * per, 1e-5, "mirrored crop " + k);
    }
    float[] centre = new float[per];
    t.center(im, centre, 0);
    assertArrayEquals(centre, Arrays.copyOf(got, per));
  }

  @Test
  void aConstantColourNormalizesToTheExpectedValues() {
    Path file = ImageFiles.png(dir.resolve("c.png"), ImageFiles.rgb(23, 31, (y, x) -> ImageFiles.pack(200, 100, 50)));
    RgbImage im = RgbImage.read(file);
    // ImageNet mean {0.485, 0.456, 0.406}, std {0.229, 0.224, 0.225}
    double[] want = {(200 / 255.0 - 0.485) / 0.229, (100 / 255.0 - 0.456) / 0.224, (50 / 255.0 - 0.406) / 0.225};
    ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE);
    float[] centre = new float[t.imageSize()];
    t.center(im, centre, 0);
    float[] ten = new float[10 * t.imageSize()];
    t.tenCrop(im, ten, 0);
    float[] train = new float[t.imageSize()];
    t.withColorJitter(0, 0, 0).withLighting(0).train(im, new SplittableRandom(3), train, 0);
    int plane = CROP * CROP;
    for (int i = 0; i < centre.length; i++) {
      assertEquals(want[i / plane], centre[i], 1e-5, "centre value " + i);
      assertEquals(want[i / plane], train[i], 1e-5, "train value " + i);
    }
    for (int i = 0; i < ten.length; i++) {
      assertEquals(want[(i / plane) % 3], ten[i], 1e-5, "ten-crop value " + i);
    }
  }

  /** The training recipe replayed in float64 from the documented draws. */
  private static double[] referenceTrain(RgbImage im, long seed, double[] jitter, double alphaStd) {
    SplittableRandom r = new SplittableRandom(seed);
    int h = im.height();
    int w = im.width();
    double[] src = toDouble(im.data());
    double[] out = null;
    for (int attempt = 0; attempt < 10 && out == null; attempt++) {
      double area = (0.08 + 0.92 * r.nextDouble()) * h * w;
      double ratio = 0.75 + (4.0 / 3 - 0.75) * r.nextDouble();
      long cw = Math.round(Math.sqrt(area * ratio));
      long ch = Math.round(Math.sqrt(area / ratio));
      if (r.nextDouble() < 0.5) {
        long t = cw;
        cw = ch;
        ch = t;
      }
      if (ch >= 1 && ch <= h && cw >= 1 && cw <= w) {
        int top = r.nextInt(h - (int) ch + 1);
        int left = r.nextInt(w - (int) cw + 1);
        out = resize(crop(src, h, w, top, left, (int) ch, (int) cw), (int) ch, (int) cw, CROP, CROP);
      }
    }
    if (out == null) {
      int sh = h <= w ? CROP : h * CROP / w;
      int sw = h <= w ? w * CROP / h : CROP;
      out = crop(resize(src, h, w, sh, sw), sh, sw, (sh - CROP + 1) / 2, (sw - CROP + 1) / 2, CROP, CROP);
    }
    int plane = CROP * CROP;
    List<Integer> order = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      if (jitter[k] != 0) {
        order.add(k);
      }
    }
    for (int i = order.size() - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      order.set(i, order.set(j, order.get(i)));
    }
    for (int k : order) {
      double alpha = 1 + jitter[k] * (2 * r.nextDouble() - 1);
      double[] grey = new double[plane];
      double mean = 0;
      for (int p = 0; p < plane; p++) {
        grey[p] = 0.299 * out[p] + 0.587 * out[plane + p] + 0.114 * out[2 * plane + p];
        mean += grey[p] / plane;
      }
      for (int i = 0; i < out.length; i++) {
        double target = k == 0 ? 0 : k == 1 ? mean : grey[i % plane];
        out[i] = alpha * out[i] + (1 - alpha) * target;
      }
    }
    if (alphaStd != 0) {
      double[] eigval = {0.2175, 0.0188, 0.0045};
      double[][] eigvec = {{-0.5675, 0.7192, 0.4009}, {-0.5808, -0.0045, -0.8140}, {-0.5836, -0.6948, 0.4203}};
      double[] a = new double[3];
      for (int j = 0; j < 3; j++) {
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        a[j] = alphaStd * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
      }
      for (int i = 0; i < out.length; i++) {
        int c = i / plane;
        out[i] += eigvec[c][0] * a[0] * eigval[0] + eigvec[c][1] * a[1] * eigval[1] + eigvec[c][2] * a[2] * eigval[2];
      }
    }
    double[] mean = {0.485, 0.456, 0.406};
    double[] std = {0.229, 0.224, 0.225};
    for (int i = 0; i < out.length; i++) {
      out[i] = (out[i] - mean[i / plane]) / std[i / plane];
    }
    return r.nextDouble() < 0.5 ? mirror(out, CROP, CROP) : out;
  }

  @Test
  void trainingReplaysTheRecipe() {
    double[][] jitters = {{0.4, 0.4, 0.4}, {0, 0.4, 0}, {0.3, 0, 0.5}, {0, 0, 0}};
    double[] lights = {0.1, 0.1, 0, 0.25};
    RgbImage[] images = {pattern(30, 44), pattern(41, 23), pattern(2, 60)}; // 2 x 60: no box fits, ever
    for (int v = 0; v < jitters.length; v++) {
      double[] j = jitters[v];
      ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE).withColorJitter(j[0], j[1], j[2]).withLighting(lights[v]);
      for (RgbImage im : images) {
        for (long seed = 0; seed < 12; seed++) {
          float[] got = new float[t.imageSize()];
          t.train(im, new SplittableRandom(seed), got, 0);
          assertClose(referenceTrain(im, seed, j, lights[v]), got, 0, 2e-5,
              im + " seed " + seed + " jitter " + Arrays.toString(j) + " lighting " + lights[v]);
        }
      }
    }
  }

  @Test
  void theCropBoxFollowsTheRecipe() {
    int fitted = 0;
    for (long seed = 0; seed < 500; seed++) {
      int[] box = ImageNetTransform.randomSizedCropBox(30, 44, new SplittableRandom(seed));
      assertTrue(box[0] >= 0 && box[1] >= 0 && box[0] + box[2] <= 30 && box[1] + box[3] <= 44, Arrays.toString(box));
      double fraction = (double) box[2] * box[3] / (30 * 44);
      double aspect = (double) box[3] / box[2];
      // rounding each side moves these a little beyond [0.08, 1] and [3/4, 4/3] (or its inverse)
      assertTrue(fraction > 0.06 && fraction <= 1, "area fraction " + fraction);
      assertTrue(aspect > 0.6 && aspect < 1.6, "aspect " + aspect);
      fitted++;
    }
    assertEquals(500, fitted);
    assertEquals(null, ImageNetTransform.randomSizedCropBox(2, 60, new SplittableRandom(1)));
  }

  @Test
  void flipReallyFlips() {
    // a left-to-right ramp: every crop of it rises to the right, every mirrored one falls
    RgbImage ramp = new RgbImage(24, 32, new float[3 * 24 * 32]);
    for (int i = 0; i < ramp.data().length; i++) {
      ramp.data()[i] = (i % 32) / 31f;
    }
    ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE).withColorJitter(0, 0, 0).withLighting(0)
        .withNormalization(NONE);
    int rising = 0;
    int falling = 0;
    for (long seed = 0; seed < 40; seed++) {
      float[] out = new float[t.imageSize()];
      t.train(ramp, new SplittableRandom(seed), out, 0);
      boolean up = out[CROP - 1] > out[0];
      for (int r = 0; r < 3 * CROP; r++) {
        assertEquals(up, out[r * CROP + CROP - 1] > out[r * CROP], "seed " + seed + " row " + r);
        for (int x = 1; x < CROP; x++) {
          float step = out[r * CROP + x] - out[r * CROP + x - 1];
          assertTrue(up ? step >= 0 : step <= 0, "seed " + seed + " row " + r + " x " + x);
        }
      }
      if (up) {
        rising++;
      } else {
        falling++;
      }
    }
    assertTrue(rising >= 8 && falling >= 8, rising + " rising, " + falling + " falling");
  }

  @Test
  void theSameSeedGivesTheSameImageAndAnotherSeedAnother() {
    ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE);
    RgbImage im = pattern(30, 44);
    float[] a = new float[t.imageSize()];
    float[] b = new float[t.imageSize()];
    float[] c = new float[t.imageSize()];
    t.train(im, new SplittableRandom(7), a, 0);
    t.train(im, new SplittableRandom(7), b, 0);
    t.train(im, new SplittableRandom(8), c, 0);
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, c));
  }

  @Test
  void rejectsBadSettings() {
    assertThrows(IllegalArgumentException.class, () -> ImageNetTransform.of(0, 10));
    assertThrows(IllegalArgumentException.class, () -> ImageNetTransform.of(12, 10));
    assertThrows(IllegalArgumentException.class, () -> ImageNetTransform.imagenet().withLighting(-0.1));
    assertThrows(IllegalArgumentException.class, () -> ImageNetTransform.imagenet().withColorJitter(0.4, Double.NaN, 0));
    assertThrows(IllegalArgumentException.class,
        () -> ImageNetTransform.imagenet().withNormalization(Normalization.identity(1)));
    ImageNetTransform t = ImageNetTransform.of(CROP, RESIZE);
    assertThrows(IllegalArgumentException.class, () -> t.center(pattern(4, 4), new float[t.imageSize() - 1], 0));
    assertThrows(IllegalArgumentException.class, () -> t.tenCrop(pattern(4, 4), new float[t.imageSize()], 0));
    assertEquals(224, ImageNetTransform.imagenet().cropSize());
    assertEquals(256, ImageNetTransform.imagenet().resizeSize());
  }
}
