package org.resnorm.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.resnorm.core.Engine;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;
import org.resnorm.ops.ConvAlgo;
import org.resnorm.ops.Conv2d;
import org.resnorm.ops.Reference;
import org.resnorm.ops.Reference.ConvShape;
import picocli.CommandLine.Command;

/**
 * Runs every conv algorithm on every ISA level this CPU has, against the float64 reference, on
 * a few odd shapes, and prints one line per check. Exit code 1 if any check fails.
 */
@Command(name = "self-check", mixinStandardHelpOptions = true,
    description = "Check the native conv kernels against a float64 reference on this machine.")
final class SelfCheckCommand implements Callable<Integer> {
  private static final List<ConvShape> SHAPES = List.of(
      new ConvShape(3, 5, 7, 6, 4, 3, 3, 1, 1),
      new ConvShape(3, 5, 7, 6, 4, 3, 3, 2, 1),
      new ConvShape(2, 3, 9, 11, 5, 1, 1, 1, 0),
      new ConvShape(2, 3, 13, 15, 4, 7, 7, 2, 3),
      new ConvShape(2, 16, 12, 12, 16, 3, 3, 1, 1));

  @Override
  public Integer call() {
    int failed = 0;
    int total = 0;
    try (Engine engine = Engine.create()) {
      for (Isa isa : Isa.values()) {
        if (!isa.supported()) {
          System.out.printf("%-8s skipped (not supported by this CPU)%n", isa.name().toLowerCase());
          continue;
        }
        engine.isa(isa);
        for (ConvShape g : SHAPES) {
          for (ConvAlgo algo : ConvAlgo.values()) {
            if (!algo.appliesTo(g.r(), g.s(), g.stride(), g.stride())) {
              continue;
            }
            double err = check(engine, g, algo);
            boolean ok = err < 1e-5;
            total++;
            failed += ok ? 0 : 1;
            System.out.printf("%-8s %-9s %-32s max rel err %.2e  %s%n", isa.name().toLowerCase(),
                algo.name().toLowerCase(), describe(g), err, ok ? "ok" : "FAIL");
          }
        }
      }
    }
    System.out.printf("self-check: %d/%d passed%n", total - failed, total);
    return failed == 0 ? 0 : 1;
  }

  private static String describe(ConvShape g) {
    return String.format("n%d c%d %dx%d k%d %dx%d/%d p%d", g.n(), g.c(), g.h(), g.w(), g.k(), g.r(), g.s(),
        g.stride(), g.pad());
  }

  /** Largest relative error (||out-ref||/||ref||) over forward, backward-data, backward-filter. */
  private static double check(Engine engine, ConvShape g, ConvAlgo algo) {
    SplittableRandom rng = new SplittableRandom(17);
    double[] x = random(rng, g.n() * g.c() * g.h() * g.w());
    double[] w = random(rng, g.k() * g.c() * g.r() * g.s());
    double[] b = random(rng, g.k());
    double[] dy = random(rng, g.n() * g.k() * g.p() * g.q());
    List<Double> errs = new ArrayList<>();
    try (Conv2d conv = new Conv2d(g.c(), g.k(), g.r(), g.s(), g.stride(), g.stride(), g.pad(), g.pad(), algo);
        Tensor tx = Tensor.of(toFloat(x), g.input());
        Tensor tw = Tensor.of(toFloat(w), g.weight());
        Tensor tb = Tensor.of(toFloat(b), g.k());
        Tensor tdy = Tensor.of(toFloat(dy), g.output());
        Tensor ty = Tensor.full(Float.NaN, g.output());
        Tensor tdx = Tensor.full(Float.NaN, g.input());
        Tensor tdw = Tensor.full(Float.NaN, g.weight());
        Tensor tdb = Tensor.full(Float.NaN, g.k())) {
      conv.forward(engine, tx, tw, tb, ty);
      errs.add(relErr(ty.toFloatArray(), Reference.conv2dForward(g, x, w, b)));
      conv.backwardData(engine, tdy, tw, tdx);
      errs.add(relErr(tdx.toFloatArray(), Reference.conv2dBackwardData(g, dy, w)));
      conv.backwardFilter(engine, tx, tdy, tdw, tdb);
      errs.add(relErr(tdw.toFloatArray(), Reference.conv2dBackwardFilter(g, x, dy)));
      errs.add(relErr(tdb.toFloatArray(), Reference.conv2dBackwardBias(g, dy)));
    }
    return errs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
  }

  private static double[] random(SplittableRandom rng, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rng.nextDouble() * 2 - 1); // representable in float: same input for both sides
    }
    return v;
  }

  private static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  /** ||out - ref|| / ||ref||; NaN anywhere in out (unwritten poison) gives infinity. */
  static double relErr(float[] out, double[] ref) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < ref.length; i++) {
      if (!Float.isFinite(out[i])) {
        return Double.POSITIVE_INFINITY;
      }
      double d = out[i] - ref[i];
      num += d * d;
      den += ref[i] * ref[i];
    }
    return Math.sqrt(num / den);
  }
}
