package org.resnorm.ops;

/**
 * Plain float64 reference implementations of the kernels, written for clarity, not speed.
 * The tests (and the {@code self-check} command) compare the native float32 kernels with these,
 * and check these against central finite differences.
 */
public final class Reference {
  private Reference() {}

  /** Geometry of a convolution: input [n, c, h, w], filters [k, c, r, s]. */
  public record ConvShape(int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
    public int p() {
      return (h + 2 * pad - r) / stride + 1;
    }

    public int q() {
      return (w + 2 * pad - s) / stride + 1;
    }

    public int[] input() {
      return new int[] {n, c, h, w};
    }

    public int[] weight() {
      return new int[] {k, c, r, s};
    }

    public int[] output() {
      return new int[] {n, k, p(), q()};
    }
  }

  /** y = conv(x, w) + bias (bias may be null). */
  public static double[] conv2dForward(ConvShape g, double[] x, double[] w, double[] bias) {
    int p = g.p();
    int q = g.q();
    double[] y = new double[g.n() * g.k() * p * q];
    for (int n = 0; n < g.n(); n++) {
      for (int k = 0; k < g.k(); k++) {
        for (int i = 0; i < p; i++) {
          for (int j = 0; j < q; j++) {
            double acc = bias == null ? 0.0 : bias[k];
            for (int c = 0; c < g.c(); c++) {
              for (int r = 0; r < g.r(); r++) {
                int ih = i * g.stride() - g.pad() + r;
                if (ih < 0 || ih >= g.h()) {
                  continue;
                }
                for (int s = 0; s < g.s(); s++) {
                  int iw = j * g.stride() - g.pad() + s;
                  if (iw < 0 || iw >= g.w()) {
                    continue;
                  }
                  acc += w[((k * g.c() + c) * g.r() + r) * g.s() + s] * x[((n * g.c() + c) * g.h() + ih) * g.w() + iw];
                }
              }
            }
            y[((n * g.k() + k) * p + i) * q + j] = acc;
          }
        }
      }
    }
    return y;
  }

  /** dx given dy (the adjoint of the forward map in x). */
  public static double[] conv2dBackwardData(ConvShape g, double[] dy, double[] w) {
    int p = g.p();
    int q = g.q();
    double[] dx = new double[g.n() * g.c() * g.h() * g.w()];
    forEachTap(g, (xi, wi, yi) -> dx[xi] += w[wi] * dy[yi], p, q);
    return dx;
  }

  /** dw given x and dy. */
  public static double[] conv2dBackwardFilter(ConvShape g, double[] x, double[] dy) {
    double[] dw = new double[g.k() * g.c() * g.r() * g.s()];
    forEachTap(g, (xi, wi, yi) -> dw[wi] += x[xi] * dy[yi], g.p(), g.q());
    return dw;
  }

  /** dbias[k] = sum of dy over n, p, q. */
  public static double[] conv2dBackwardBias(ConvShape g, double[] dy) {
    double[] db = new double[g.k()];
    int plane = g.p() * g.q();
    for (int i = 0; i < dy.length; i++) {
      db[(i / plane) % g.k()] += dy[i];
    }
    return db;
  }

  private interface Tap {
    void apply(int xi, int wi, int yi);
  }

  private static void forEachTap(ConvShape g, Tap tap, int p, int q) {
    for (int n = 0; n < g.n(); n++) {
      for (int k = 0; k < g.k(); k++) {
        for (int i = 0; i < p; i++) {
          for (int j = 0; j < q; j++) {
            int yi = ((n * g.k() + k) * p + i) * q + j;
            for (int c = 0; c < g.c(); c++) {
              for (int r = 0; r < g.r(); r++) {
                int ih = i * g.stride() - g.pad() + r;
                if (ih < 0 || ih >= g.h()) {
                  continue;
                }
                for (int s = 0; s < g.s(); s++) {
                  int iw = j * g.stride() - g.pad() + s;
                  if (iw < 0 || iw >= g.w()) {
                    continue;
                  }
                  tap.apply(((n * g.c() + c) * g.h() + ih) * g.w() + iw, ((k * g.c() + c) * g.r() + r) * g.s() + s, yi);
                }
              }
            }
          }
        }
      }
    }
  }

  /** y[n, o] = bias[o] + sum_i x[n, i] w[o, i]. */
  public static double[] linearForward(int n, int in, int out, double[] x, double[] w, double[] bias) {
    double[] y = new double[n * out];
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        double acc = bias == null ? 0.0 : bias[o];
        for (int j = 0; j < in; j++) {
          acc += x[i * in + j] * w[o * in + j];
        }
        y[i * out + o] = acc;
      }
    }
    return y;
  }

  public static double[] linearBackwardData(int n, int in, int out, double[] dy, double[] w) {
    double[] dx = new double[n * in];
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        for (int j = 0; j < in; j++) {
          dx[i * in + j] += dy[i * out + o] * w[o * in + j];
        }
      }
    }
    return dx;
  }

  public static double[] linearBackwardWeight(int n, int in, int out, double[] x, double[] dy) {
    double[] dw = new double[out * in];
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        for (int j = 0; j < in; j++) {
          dw[o * in + j] += dy[i * out + o] * x[i * in + j];
        }
      }
    }
    return dw;
  }

  public static double[] linearBackwardBias(int n, int out, double[] dy) {
    double[] db = new double[out];
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < out; o++) {
        db[o] += dy[i * out + o];
      }
    }
    return db;
  }

  /** Mean softmax cross-entropy. */
  public static double softmaxXentLoss(int n, int classes, double[] logits, int[] labels) {
    double total = 0.0;
    for (int i = 0; i < n; i++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < classes; j++) {
        max = Math.max(max, logits[i * classes + j]);
      }
      double sum = 0.0;
      for (int j = 0; j < classes; j++) {
        sum += Math.exp(logits[i * classes + j] - max);
      }
      total += Math.log(sum) + max - logits[i * classes + labels[i]];
    }
    return total / n;
  }

  /** d(mean loss)/d(logits) * scale. */
  public static double[] softmaxXentBackward(int n, int classes, double[] logits, int[] labels, double scale) {
    double[] g = new double[n * classes];
    for (int i = 0; i < n; i++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < classes; j++) {
        max = Math.max(max, logits[i * classes + j]);
      }
      double sum = 0.0;
      for (int j = 0; j < classes; j++) {
        sum += Math.exp(logits[i * classes + j] - max);
      }
      for (int j = 0; j < classes; j++) {
        double prob = Math.exp(logits[i * classes + j] - max) / sum;
        g[i * classes + j] = scale * (prob - (j == labels[i] ? 1.0 : 0.0)) / n;
      }
    }
    return g;
  }

  /** Rows whose label has fewer than k strictly larger logits. */
  public static long topkCorrect(int n, int classes, double[] logits, int[] labels, int k) {
    long count = 0;
    for (int i = 0; i < n; i++) {
      double target = logits[i * classes + labels[i]];
      int greater = 0;
      for (int j = 0; j < classes; j++) {
        if (logits[i * classes + j] > target) {
          greater++;
        }
      }
      if (greater < k) {
        count++;
      }
    }
    return count;
  }

  /** One SGD step in double (PyTorch semantics); updates param and velocity in place. */
  public static void sgdStep(double[] param, double[] grad, double[] velocity, double lr, double momentum,
      double dampening, double weightDecay, boolean nesterov, boolean firstStep) {
    for (int i = 0; i < param.length; i++) {
      double g = grad[i] + weightDecay * param[i];
      if (momentum != 0) {
        velocity[i] = firstStep ? g : momentum * velocity[i] + (1 - dampening) * g;
        g = nesterov ? g + momentum * velocity[i] : velocity[i];
      }
      param[i] -= lr * g;
    }
  }
}
