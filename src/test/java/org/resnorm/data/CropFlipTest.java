package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CropFlipTest {
  private static final int C = 2;
  private static final int H = 3;
  private static final int W = 4;

  /** Distinct non-zero values: v(c, y, x) = 100c + 10y + x + 1. */
  private static float[] image() {
    float[] v = new float[C * H * W];
    for (int c = 0; c < C; c++) {
      for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
          v[(c * H + y) * W + x] = 100 * c + 10 * y + x + 1;
        }
      }
    }
    return v;
  }

  /** Reference from the definition: flip, zero-pad into a bigger array, take the window at (oy, ox). */
  private static float[] reference(float[] src, int p, int oy, int ox, boolean flip) {
    int ph = H + 2 * p;
    int pw = W + 2 * p;
    float[] out = new float[C * H * W];
    for (int c = 0; c < C; c++) {
      float[][] padded = new float[ph][pw];
      for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
          padded[y + p][x + p] = src[(c * H + y) * W + (flip ? W - 1 - x : x)];
        }
      }
      for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
          out[(c * H + y) * W + x] = padded[y + oy][x + ox];
        }
      }
    }
    return out;
  }

  private static float[] apply(float[] src, int p, int oy, int ox, boolean flip) {
    float[] dst = new float[3 + C * H * W];
    java.util.Arrays.fill(dst, Float.NaN);
    float[] padded = new float[5 + src.length];
    System.arraycopy(src, 0, padded, 5, src.length);
    CropFlip.apply(padded, 5, dst, 3, C, H, W, p, oy, ox, flip);
    return java.util.Arrays.copyOfRange(dst, 3, dst.length);
  }

  @Test
  void centreCropWithoutFlipIsTheIdentity() {
    assertArrayEquals(image(), apply(image(), 2, 2, 2, false));
    assertArrayEquals(image(), apply(image(), 0, 0, 0, false));
  }

  @Test
  void shiftsAndPadsWithZeros() {
    // top-left corner of the padded image: content moves down-right by one, zeros on top and left
    float[] tl = apply(image(), 1, 0, 0, false);
    assertArrayEquals(new float[] {
        0, 0, 0, 0,
        0, 1, 2, 3,
        0, 11, 12, 13,
        0, 0, 0, 0,
        0, 101, 102, 103,
        0, 111, 112, 113}, tl);
    // bottom-right corner with padding 2: content moves up-left by two
    float[] br = apply(image(), 2, 4, 4, false);
    assertArrayEquals(new float[] {
        23, 24, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 0,
        123, 124, 0, 0,
        0, 0, 0, 0,
        0, 0, 0, 0}, br);
  }

  @Test
  void flipsBeforeCropping() {
    float[] f = apply(image(), 1, 1, 1, true);
    assertArrayEquals(new float[] {
        4, 3, 2, 1,
        14, 13, 12, 11,
        24, 23, 22, 21,
        104, 103, 102, 101,
        114, 113, 112, 111,
        124, 123, 122, 121}, f);
    // flip, then the window one to the left: the flipped image moves right by one
    float[] fl = apply(image(), 1, 1, 0, true);
    assertEquals(0f, fl[0]);
    assertEquals(4f, fl[1]);
    assertEquals(2f, fl[3]);
  }

  @Test
  void everyOffsetAndFlipMatchesTheDefinition() {
    float[] src = image();
    for (int p = 0; p <= 5; p++) {
      for (int oy = 0; oy <= 2 * p; oy++) {
        for (int ox = 0; ox <= 2 * p; ox++) {
          for (boolean flip : new boolean[] {false, true}) {
            assertArrayEquals(reference(src, p, oy, ox, flip), apply(src, p, oy, ox, flip),
                "p=" + p + " oy=" + oy + " ox=" + ox + " flip=" + flip);
          }
        }
      }
    }
  }

  @Test
  void randomDrawsAreFlipThenRowThenColumnOffset() {
    float[] src = image();
    CropFlip aug = new CropFlip(2);
    SplittableRandom rng = new SplittableRandom(7);
    SplittableRandom replay = new SplittableRandom(7);
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 400; i++) {
      float[] dst = new float[src.length];
      aug.apply(src, 0, dst, 0, C, H, W, rng);
      boolean flip = replay.nextBoolean();
      int oy = replay.nextInt(5);
      int ox = replay.nextInt(5);
      seen.add(flip + " " + oy + " " + ox);
      assertArrayEquals(reference(src, 2, oy, ox, flip), dst, "draw " + i);
    }
    assertEquals(2 * 5 * 5, seen.size(), "every offset and flip occurs");
    // padding 0: only the flip is random, and no offsets are drawn
    CropFlip flipOnly = new CropFlip(0);
    SplittableRandom r0 = new SplittableRandom(3);
    SplittableRandom replay0 = new SplittableRandom(3);
    for (int i = 0; i < 20; i++) {
      float[] dst = new float[src.length];
      flipOnly.apply(src, 0, dst, 0, C, H, W, r0);
      assertArrayEquals(reference(src, 0, 0, 0, replay0.nextBoolean()), dst);
    }
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> new CropFlip(-1));
    float[] src = image();
    float[] dst = new float[src.length];
    assertThrows(IllegalArgumentException.class, () -> CropFlip.apply(src, 0, dst, 0, C, H, W, 1, 3, 0, false));
    assertThrows(IllegalArgumentException.class, () -> CropFlip.apply(src, 0, dst, 0, C, H, W, 1, 0, -1, false));
  }

  @Test
  void noneCopies() {
    float[] src = image();
    float[] dst = new float[src.length + 2];
    Augmentation.NONE.apply(src, 0, dst, 2, C, H, W, new SplittableRandom(1));
    assertArrayEquals(src, java.util.Arrays.copyOfRange(dst, 2, dst.length));
  }
}
