package org.resnorm.ops;

/**
 * Plain float64 references of {@link BatchNorm2d} and {@link Activation}, written for clarity,
 * not speed (the tests compare the float32 kernels with these and check these against finite
 * differences). Layout NCHW with H*W flattened to {@code hw}; gamma/beta null = affine off.
 */
public final class NormReference {
  private NormReference() {}

  /** Forward results: y, the pre-activation u, and the per-channel statistics used. */
  public record BatchNormResult(double[] y, double[] u, double[] mean, double[] var, double[] invstd) {}

  /** Gradients of the training forward. */
  public record BatchNormGrad(double[] dx, double[] dgamma, double[] dbeta) {}

  /** Training forward: batch mean and biased variance. */
  public static BatchNormResult batchNormTraining(int n, int c, int hw, Act act, double eps, double[] x,
      double[] gamma, double[] beta) {
    double[] mean = new double[c];
    double[] var = new double[c];
    int m = n * hw;
    for (int ch = 0; ch < c; ch++) {
      double s = 0;
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < hw; j++) {
          s += x[(i * c + ch) * hw + j];
        }
      }
      mean[ch] = s / m;
      double v = 0;
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < hw; j++) {
          double d = x[(i * c + ch) * hw + j] - mean[ch];
          v += d * d;
        }
      }
      var[ch] = v / m;
    }
    return normalize(n, c, hw, act, eps, x, gamma, beta, mean, var);
  }

  /** Inference forward: the given running statistics. */
  public static BatchNormResult batchNormInference(int n, int c, int hw, Act act, double eps, double[] x,
      double[] gamma, double[] beta, double[] runningMean, double[] runningVar) {
    return normalize(n, c, hw, act, eps, x, gamma, beta, runningMean.clone(), runningVar.clone());
  }

  private static BatchNormResult normalize(int n, int c, int hw, Act act, double eps, double[] x, double[] gamma,
      double[] beta, double[] mean, double[] var) {
    double[] invstd = new double[c];
    for (int ch = 0; ch < c; ch++) {
      invstd[ch] = 1.0 / Math.sqrt(var[ch] + eps);
    }
    double[] u = new double[n * c * hw];
    for (int i = 0; i < n; i++) {
      for (int ch = 0; ch < c; ch++) {
        double g = gamma == null ? 1.0 : gamma[ch];
        double b = beta == null ? 0.0 : beta[ch];
        for (int j = 0; j < hw; j++) {
          int xi = (i * c + ch) * hw + j;
          u[xi] = (x[xi] - mean[ch]) * invstd[ch] * g + b;
        }
      }
    }
    return new BatchNormResult(activate(n, c, hw, act, u), u, mean, var, invstd);
  }

  /** act(u) for u [N, C, HW]: [N, C, HW] or [N, 2C, HW] for CReLU. */
  public static double[] activate(int n, int c, int hw, Act act, double[] u) {
    switch (act) {
      case NONE:
        return u.clone();
      case RELU:
        return relu(u);
      default:
        return crelu(n, c, hw, u);
    }
  }

  /** Running statistics after one training step (unbiased variance, as PyTorch). */
  public static double[][] runningUpdate(double[] runningMean, double[] runningVar, double momentum, double[] mean,
      double[] var, long m) {
    double[] rm = new double[mean.length];
    double[] rv = new double[mean.length];
    for (int ch = 0; ch < mean.length; ch++) {
      rm[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch];
      rv[ch] = (1 - momentum) * runningVar[ch] + momentum * var[ch] * m / (m - 1);
    }
    return new double[][] {rm, rv};
  }

  /** Analytic gradients of the training forward (batch statistics) given dy (y's shape). */
  public static BatchNormGrad batchNormBackward(int n, int c, int hw, Act act, double eps, double[] x,
      double[] gamma, double[] beta, double[] dy) {
    BatchNormResult f = batchNormTraining(n, c, hw, act, eps, x, gamma, beta);
    double[] du = activateBackward(n, c, hw, act, f.u(), dy);
    int m = n * hw;
    double[] dgamma = new double[c];
    double[] dbeta = new double[c];
    for (int i = 0; i < n; i++) {
      for (int ch = 0; ch < c; ch++) {
        for (int j = 0; j < hw; j++) {
          int xi = (i * c + ch) * hw + j;
          dbeta[ch] += du[xi];
          dgamma[ch] += du[xi] * (x[xi] - f.mean()[ch]) * f.invstd()[ch];
        }
      }
    }
    double[] dx = new double[x.length];
    for (int i = 0; i < n; i++) {
      for (int ch = 0; ch < c; ch++) {
        double g = gamma == null ? 1.0 : gamma[ch];
        for (int j = 0; j < hw; j++) {
          int xi = (i * c + ch) * hw + j;
          double xhat = (x[xi] - f.mean()[ch]) * f.invstd()[ch];
          dx[xi] = g * f.invstd()[ch] / m * (m * du[xi] - dbeta[ch] - xhat * dgamma[ch]);
        }
      }
    }
    return new BatchNormGrad(dx, dgamma, dbeta);
  }

  /** du from dy through the activation at u (u [N, C, HW]; dy has act's output shape). */
  public static double[] activateBackward(int n, int c, int hw, Act act, double[] u, double[] dy) {
    switch (act) {
      case NONE:
        return dy.clone();
      case RELU:
        return reluBackward(u, dy);
      default:
        return creluBackward(n, c, hw, u, dy);
    }
  }

  public static double[] relu(double[] x) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = x[i] > 0 ? x[i] : 0.0;
    }
    return y;
  }

  /** dx = dy * [y > 0] (y: the forward output, or equally its input). */
  public static double[] reluBackward(double[] y, double[] dy) {
    double[] dx = new double[y.length];
    for (int i = 0; i < y.length; i++) {
      dx[i] = y[i] > 0 ? dy[i] : 0.0;
    }
    return dx;
  }

  /** [N, C, HW] -> [N, 2C, HW]: max(x, 0) in channels 0..C-1, max(-x, 0) in C..2C-1. */
  public static double[] crelu(int n, int c, int hw, double[] x) {
    double[] y = new double[2 * x.length];
    for (int i = 0; i < n; i++) {
      for (int ch = 0; ch < c; ch++) {
        for (int j = 0; j < hw; j++) {
          double v = x[(i * c + ch) * hw + j];
          y[(i * 2 * c + ch) * hw + j] = v > 0 ? v : 0.0;
          y[(i * 2 * c + c + ch) * hw + j] = v < 0 ? -v : 0.0;
        }
      }
    }
    return y;
  }

  /** dx = dy[:, c] * [x > 0] - dy[:, C + c] * [x < 0]. */
  public static double[] creluBackward(int n, int c, int hw, double[] x, double[] dy) {
    double[] dx = new double[x.length];
    for (int i = 0; i < n; i++) {
      for (int ch = 0; ch < c; ch++) {
        for (int j = 0; j < hw; j++) {
          int xi = (i * c + ch) * hw + j;
          double pos = dy[(i * 2 * c + ch) * hw + j];
          double neg = dy[(i * 2 * c + c + ch) * hw + j];
          dx[xi] = (x[xi] > 0 ? pos : 0.0) - (x[xi] < 0 ? neg : 0.0);
        }
      }
    }
    return dx;
  }

  /** max(a + b, 0). */
  public static double[] addRelu(double[] a, double[] b) {
    double[] y = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      double s = a[i] + b[i];
      y[i] = s > 0 ? s : 0.0;
    }
    return y;
  }
}
