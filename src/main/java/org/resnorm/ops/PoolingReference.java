package org.resnorm.ops;

/**
 * Plain float64 references for global average pooling, max pooling and the option A shortcut,
 * written for clarity, not speed (kept apart from {@link Reference} so that op families can be
 * added side by side). All tensors are flat NCHW arrays.
 */
public final class PoolingReference {
  private PoolingReference() {}

  /** Max-pooling geometry: input [n, c, h, w], square window, output [n, c, p, q]. */
  public record PoolShape(int n, int c, int h, int w, int kernel, int stride, int pad) {
    public int p() {
      return (h + 2 * pad - kernel) / stride + 1;
    }

    public int q() {
      return (w + 2 * pad - kernel) / stride + 1;
    }

    public int[] input() {
      return new int[] {n, c, h, w};
    }

    public int[] output() {
      return new int[] {n, c, p(), q()};
    }
  }

  /** y[n, c] = mean of the hw values of plane (n, c). */
  public static double[] globalAvgPoolForward(int n, int c, int hw, double[] x) {
    double[] y = new double[n * c];
    for (int pl = 0; pl < n * c; pl++) {
      double sum = 0;
      for (int i = 0; i < hw; i++) {
        sum += x[pl * hw + i];
      }
      y[pl] = sum / hw;
    }
    return y;
  }

  /** dx[n, c, i] = dy[n, c] / hw. */
  public static double[] globalAvgPoolBackward(int n, int c, int hw, double[] dy) {
    double[] dx = new double[n * c * hw];
    for (int pl = 0; pl < n * c; pl++) {
      for (int i = 0; i < hw; i++) {
        dx[pl * hw + i] = dy[pl] / hw;
      }
    }
    return dx;
  }

  /**
   * Index (row * w + col, within its input plane) of the pixel each output selects: the kernel
   * window is scanned row-major, padding skipped, the first maximum kept; a NaN wins (the first).
   */
  public static int[] maxPool2dArgmax(PoolShape g, double[] x) {
    int p = g.p();
    int q = g.q();
    int[] arg = new int[g.n() * g.c() * p * q];
    for (int pl = 0; pl < g.n() * g.c(); pl++) {
      for (int i = 0; i < p; i++) {
        for (int j = 0; j < q; j++) {
          double best = 0;
          int at = -1;
          for (int r = 0; r < g.kernel(); r++) {
            for (int s = 0; s < g.kernel(); s++) {
              int ih = i * g.stride() - g.pad() + r;
              int iw = j * g.stride() - g.pad() + s;
              if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) {
                continue;
              }
              double v = x[(pl * g.h() + ih) * g.w() + iw];
              if (at < 0 || (!Double.isNaN(best) && (v > best || Double.isNaN(v)))) {
                best = v;
                at = ih * g.w() + iw;
              }
            }
          }
          arg[(pl * p + i) * q + j] = at;
        }
      }
    }
    return arg;
  }

  /** y = maxpool(x). */
  public static double[] maxPool2dForward(PoolShape g, double[] x) {
    int[] arg = maxPool2dArgmax(g, x);
    int outPlane = g.p() * g.q();
    int inPlane = g.h() * g.w();
    double[] y = new double[arg.length];
    for (int o = 0; o < arg.length; o++) {
      y[o] = x[(o / outPlane) * inPlane + arg[o]];
    }
    return y;
  }

  /** dx = 0; dx[plane, argmax] += dy (overlapping windows accumulate). */
  public static double[] maxPool2dBackward(PoolShape g, int[] argmax, double[] dy) {
    int outPlane = g.p() * g.q();
    int inPlane = g.h() * g.w();
    double[] dx = new double[g.n() * g.c() * inPlane];
    for (int o = 0; o < argmax.length; o++) {
      dx[(o / outPlane) * inPlane + argmax[o]] += dy[o];
    }
    return dx;
  }

  /** Output side of the option A shortcut: ceil(size / stride). */
  public static int shortcutSize(int size, int stride) {
    return (size + stride - 1) / stride;
  }

  /** y[n, k, i, j] = x[n, k, i*stride, j*stride] for k < cIn, 0 for cIn <= k < cOut. */
  public static double[] shortcutAForward(int n, int cIn, int h, int w, int cOut, int stride, double[] x) {
    int p = shortcutSize(h, stride);
    int q = shortcutSize(w, stride);
    double[] y = new double[n * cOut * p * q];
    for (int b = 0; b < n; b++) {
      for (int k = 0; k < cIn; k++) {
        for (int i = 0; i < p; i++) {
          for (int j = 0; j < q; j++) {
            y[((b * cOut + k) * p + i) * q + j] = x[((b * cIn + k) * h + i * stride) * w + j * stride];
          }
        }
      }
    }
    return y;
  }

  /** The adjoint: dx[n, k, i*stride, j*stride] = dy[n, k, i, j] for k < cIn, 0 elsewhere. */
  public static double[] shortcutABackward(int n, int cIn, int h, int w, int cOut, int stride, double[] dy) {
    int p = shortcutSize(h, stride);
    int q = shortcutSize(w, stride);
    double[] dx = new double[n * cIn * h * w];
    for (int b = 0; b < n; b++) {
      for (int k = 0; k < cIn; k++) {
        for (int i = 0; i < p; i++) {
          for (int j = 0; j < q; j++) {
            dx[((b * cIn + k) * h + i * stride) * w + j * stride] = dy[((b * cOut + k) * p + i) * q + j];
          }
        }
      }
    }
    return dx;
  }
}
