package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.relErr;
import static org.resnorm.TestSupport.toFloat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.resnorm.TestSupport;
import org.resnorm.WithEngine;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Reference.ConvShape;

/**
 * conv2d on random odd shapes (1x1, 3x3, 7x7, strides 1 and 2, with and without padding), for
 * every ISA level this CPU has and every algorithm that applies:
 * forward vs the float64 reference (< 1e-5), backward-data / -filter / -bias vs central finite
 * differences of the float64 reference (< 1e-4) and vs the reference's own backward (< 1e-5),
 * all outputs NaN-poisoned before the call.
 */
class Conv2dTest extends WithEngine {
  static final List<ConvShape> SHAPES = List.of(
      new ConvShape(3, 5, 7, 6, 4, 3, 3, 1, 1),
      new ConvShape(3, 5, 7, 6, 4, 3, 3, 2, 1),
      new ConvShape(3, 5, 7, 6, 4, 1, 1, 1, 0),
      new ConvShape(3, 5, 7, 6, 4, 1, 1, 2, 0),
      new ConvShape(2, 3, 13, 15, 4, 7, 7, 2, 3),
      new ConvShape(3, 5, 7, 6, 4, 7, 7, 1, 3),
      new ConvShape(2, 16, 9, 9, 8, 3, 3, 1, 1),
      new ConvShape(1, 3, 5, 5, 2, 3, 3, 1, 0),
      new ConvShape(2, 7, 10, 11, 9, 3, 3, 1, 1),
      new ConvShape(2, 16, 3, 32, 8, 1, 1, 1, 0));

  /** Finite-difference gradients per shape (they do not depend on ISA or algorithm). */
  static final Map<ConvShape, Case> CASES = new ConcurrentHashMap<>();

  static Stream<Arguments> cases() {
    List<Arguments> out = new ArrayList<>();
    for (ConvShape g : SHAPES) {
      for (Isa isa : TestSupport.supportedIsas()) {
        for (ConvAlgo algo : ConvAlgo.values()) {
          if (applicable(algo, g)) {
            out.add(Arguments.of(g, isa, algo));
          }
        }
      }
    }
    return out.stream();
  }

  static boolean applicable(ConvAlgo algo, ConvShape g) {
    return algo.appliesTo(g.r(), g.s(), g.stride(), g.stride());
  }

  /** Inputs, an upstream gradient, and the float64 reference results for one shape. */
  record Case(double[] x, double[] w, double[] b, double[] dy, double[] y, double[] dxFd, double[] dwFd,
      double[] dbFd, double[] dx, double[] dw, double[] db) {}

  static Case caseFor(ConvShape g) {
    return CASES.computeIfAbsent(g, shape -> {
      SplittableRandom rng = new SplittableRandom(shape.hashCode());
      double[] x = random(rng, g.n() * g.c() * g.h() * g.w());
      double[] w = random(rng, g.k() * g.c() * g.r() * g.s());
      double[] b = random(rng, g.k());
      double[] dy = random(rng, g.n() * g.k() * g.p() * g.q());
      // L = <conv(x, w, b), dy>: its gradients are exactly what backward computes.
      double h = 1e-3;
      double[] dxFd = finiteDifference(v -> dot(Reference.conv2dForward(g, v, w, b), dy), x, h);
      double[] dwFd = finiteDifference(v -> dot(Reference.conv2dForward(g, x, v, b), dy), w, h);
      double[] dbFd = finiteDifference(v -> dot(Reference.conv2dForward(g, x, w, v), dy), b, h);
      Case c = new Case(x, w, b, dy, Reference.conv2dForward(g, x, w, b), dxFd, dwFd, dbFd,
          Reference.conv2dBackwardData(g, dy, w), Reference.conv2dBackwardFilter(g, x, dy),
          Reference.conv2dBackwardBias(g, dy));
      // The reference's analytic backward must agree with finite differences (float64).
      assertTrue(relErr(c.dx(), dxFd) < 1e-8, "reference dx vs FD");
      assertTrue(relErr(c.dw(), dwFd) < 1e-8, "reference dw vs FD");
      assertTrue(relErr(c.db(), dbFd) < 1e-8, "reference db vs FD");
      return c;
    });
  }

  @ParameterizedTest(name = "{0} {1} {2}")
  @MethodSource("cases")
  void matchesReferenceAndFiniteDifferences(ConvShape g, Isa isa, ConvAlgo algo) {
    Case c = caseFor(g);
    engine.isa(isa);
    try (Conv2d conv = new Conv2d(g.c(), g.k(), g.r(), g.s(), g.stride(), g.stride(), g.pad(), g.pad(), algo);
        Tensor x = Tensor.of(toFloat(c.x()), g.input());
        Tensor w = Tensor.of(toFloat(c.w()), g.weight());
        Tensor b = Tensor.of(toFloat(c.b()), g.k());
        Tensor dy = Tensor.of(toFloat(c.dy()), g.output());
        Tensor y = poisoned(g.output());
        Tensor yNoBias = poisoned(g.output());
        Tensor dx = poisoned(g.input());
        Tensor dw = poisoned(g.weight());
        Tensor db = poisoned(g.k())) {
      conv.forward(engine, x, w, b, y);
      assertClose("forward", y.toFloatArray(), c.y(), 1e-5);
      conv.forward(engine, x, w, null, yNoBias);
      assertClose("forward without bias", yNoBias.toFloatArray(), Reference.conv2dForward(g, c.x(), c.w(), null), 1e-5);

      conv.backwardData(engine, dy, w, dx);
      assertClose("backward_data vs FD", dx.toFloatArray(), c.dxFd(), 1e-4);
      assertClose("backward_data vs reference", dx.toFloatArray(), c.dx(), 1e-5);

      conv.backwardFilter(engine, x, dy, dw, db);
      assertClose("backward_filter vs FD", dw.toFloatArray(), c.dwFd(), 1e-4);
      assertClose("backward_filter vs reference", dw.toFloatArray(), c.dw(), 1e-5);
      assertClose("backward_bias vs FD", db.toFloatArray(), c.dbFd(), 1e-4);

      // Without a bias gradient the filter gradient is the same and dbias untouched.
      dw.fill(Float.NaN);
      conv.backwardFilter(engine, x, dy, dw, null);
      assertClose("backward_filter (no bias)", dw.toFloatArray(), c.dw(), 1e-5);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fusedShapes")
  void algorithmsAgreeWithEachOther(ConvShape g) {
    // Every applicable algorithm computes the same function (float32 rounding apart).
    Case c = caseFor(g);
    engine.isa(Isa.best());
    List<float[]> outs = new ArrayList<>();
    for (ConvAlgo algo : ConvAlgo.values()) {
      if (!applicable(algo, g)) {
        continue;
      }
      try (Conv2d conv = new Conv2d(g.c(), g.k(), g.r(), g.s(), g.stride(), g.stride(), g.pad(), g.pad(), algo);
          Tensor x = Tensor.of(toFloat(c.x()), g.input());
          Tensor w = Tensor.of(toFloat(c.w()), g.weight());
          Tensor y = poisoned(g.output())) {
        conv.forward(engine, x, w, null, y);
        outs.add(y.toFloatArray());
      }
    }
    for (float[] o : outs) {
      assertTrue(relErr(o, TestSupport.toDouble(outs.get(0))) < 1e-5, "algorithms disagree on " + g);
    }
  }

  static Stream<ConvShape> fusedShapes() {
    return SHAPES.stream();
  }
}
