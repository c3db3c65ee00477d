package org.resnorm;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;

/** Shared helpers: float-representable random data, error norms, finite differences, poison. */
public final class TestSupport {
  private TestSupport() {}

  /** Uniform in [-1, 1), rounded to float so both sides of a comparison see the same input. */
  public static double[] random(SplittableRandom rng, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    return v;
  }

  public static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  public static double[] toDouble(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }

  /** A float tensor filled with NaN: a kernel must overwrite every element. */
  public static Tensor poisoned(int... shape) {
    return Tensor.full(Float.NaN, shape);
  }

  /** ||out - ref|| / ||ref||. */
  public static double relErr(float[] out, double[] ref) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < ref.length; i++) {
      double d = out[i] - ref[i];
      num += d * d;
      den += ref[i] * ref[i];
    }
    return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
  }

  public static double relErr(double[] out, double[] ref) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < ref.length; i++) {
      double d = out[i] - ref[i];
      num += d * d;
      den += ref[i] * ref[i];
    }
    return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
  }

  /** Asserts every element was written (no NaN poison left) and the error is below tol. */
  public static void assertClose(String what, float[] out, double[] ref, double tol) {
    for (int i = 0; i < out.length; i++) {
      if (!Float.isFinite(out[i])) {
        fail(what + ": element " + i + " not written (or not finite): " + out[i]);
      }
    }
    double err = relErr(out, ref);
    assertTrue(err < tol, what + ": relative error " + err + " >= " + tol);
  }

  /**
   * Central finite-difference gradient of {@code loss} (a float64 function) at {@code at}:
   * (L(at + h e_i) - L(at - h e_i)) / 2h for every i.
   */
  public static double[] finiteDifference(Function<double[], Double> loss, double[] at, double h) {
    double[] g = new double[at.length];
    double[] probe = at.clone();
    for (int i = 0; i < at.length; i++) {
      probe[i] = at[i] + h;
      double up = loss.apply(probe);
      probe[i] = at[i] - h;
      double down = loss.apply(probe);
      probe[i] = at[i];
      g[i] = (up - down) / (2 * h);
    }
    return g;
  }

  public static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  /** The ISA levels this CPU supports: every kernel test runs on each. */
  public static List<Isa> supportedIsas() {
    List<Isa> out = new ArrayList<>();
    for (Isa isa : Isa.values()) {
      if (isa.supported()) {
        out.add(isa);
      }
    }
    return out;
  }
}
