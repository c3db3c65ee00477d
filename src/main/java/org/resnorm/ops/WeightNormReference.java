package org.resnorm.ops;

import org.resnorm.ops.Reference.ConvShape;

/** Float64 reference of the weight-normalized conv ({@link WeightNormConv2d}) and its pieces. */
public final class WeightNormReference {
  private WeightNormReference() {}

  /** ||v_k|| over C, R, S for every filter k. */
  public static double[] filterNorms(ConvShape g, double[] v) {
    int crs = g.c() * g.r() * g.s();
    double[] norms = new double[g.k()];
    for (int k = 0; k < g.k(); k++) {
      double sum = 0;
      for (int i = 0; i < crs; i++) {
        sum += v[k * crs + i] * v[k * crs + i];
      }
      norms[k] = Math.sqrt(sum);
    }
    return norms;
  }

  /** gamma_k * v_k / ||v_k||: the filters the conv effectively applies. */
  public static double[] effectiveFilters(ConvShape g, double[] v, double[] gamma) {
    int crs = g.c() * g.r() * g.s();
    double[] norms = filterNorms(g, v);
    double[] w = new double[v.length];
    for (int k = 0; k < g.k(); k++) {
      for (int i = 0; i < crs; i++) {
        w[k * crs + i] = gamma[k] * v[k * crs + i] / norms[k];
      }
    }
    return w;
  }

  /** y = postScale * act(u) + postShift for u [N, K, P, Q] (2K channels out with CReLU). */
  public static double[] activate(int n, int k, int plane, double[] u, Act act, double postScale, double postShift) {
    int outK = act.outputChannels(k);
    double[] y = new double[n * outK * plane];
    for (int img = 0; img < n; img++) {
      for (int c = 0; c < k; c++) {
        for (int i = 0; i < plane; i++) {
          double e = u[(img * k + c) * plane + i];
          int at = (img * outK + c) * plane + i;
          y[at] = postScale * (act == Act.NONE ? e : Math.max(e, 0)) + postShift;
          if (act == Act.CRELU) {
            y[at + k * plane] = postScale * Math.max(-e, 0) + postShift;
          }
        }
      }
    }
    return y;
  }

  /** The whole op: postScale * act(gamma_k conv(x, v_k / ||v_k||) + beta_k) + postShift. */
  public static double[] forward(ConvShape g, double[] x, double[] v, double[] gamma, double[] beta, Act act,
      double postScale, double postShift) {
    double[] u = Reference.conv2dForward(g, x, effectiveFilters(g, v, gamma), beta);
    return activate(g.n(), g.k(), g.p() * g.q(), u, act, postScale, postShift);
  }
}
