package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.toFloat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.resnorm.TestSupport;
import org.resnorm.WithEngine;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;

/** Fused SGD against a float64 transcription of torch.optim.SGD over several steps. */
class SgdTest extends WithEngine {
  static Stream<Arguments> variants() {
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : TestSupport.supportedIsas()) {
      out.add(Arguments.of(isa, 0.9f, 0f, true));   // the paper's recipe
      out.add(Arguments.of(isa, 0.9f, 0f, false));  // heavy ball
      out.add(Arguments.of(isa, 0.9f, 0.3f, false)); // dampening
      out.add(Arguments.of(isa, 0f, 0f, false));    // plain SGD, no velocity
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} momentum={1} dampening={2} nesterov={3}")
  @MethodSource("variants")
  void matchesPytorchSemantics(Isa isa, float momentum, float dampening, boolean nesterov) {
    engine.isa(isa);
    int n = 100_003; // odd: vector tails and uneven thread splits
    SplittableRandom rng = new SplittableRandom(99);
    double[] param = random(rng, n);
    double[] velocity = new double[n];
    try (Sgd sgd = new Sgd(momentum, dampening, 1e-4f, nesterov);
        Tensor p = Tensor.of(toFloat(param), n);
        Tensor v = momentum == 0 ? null : TestSupport.poisoned(n);
        Tensor g = Tensor.zeros(n)) {
      for (int step = 0; step < 4; step++) {
        double[] grad = random(rng, n);
        g.copyFrom(toFloat(grad));
        float lr = step < 2 ? 0.1f : 0.01f;
        sgd.step(engine, lr, p, g, v, step == 0);
        Reference.sgdStep(param, grad, velocity, lr, momentum, dampening, 1e-4, nesterov, step == 0);
      }
      assertClose("param", p.toFloatArray(), param, 1e-6);
      if (v != null) {
        assertClose("velocity", v.toFloatArray(), velocity, 1e-6);
      }
    }
  }

  @ParameterizedTest(name = "{0} momentum={1} dampening={2} nesterov={3}")
  @MethodSource("variants")
  void fusedEqualsUnfused(Isa isa, float momentum, float dampening, boolean nesterov) {
    engine.isa(isa);
    int n = 4099;
    SplittableRandom rng = new SplittableRandom(7);
    float[] start = toFloat(random(rng, n));
    try (Sgd sgd = new Sgd(momentum, dampening, 5e-4f, nesterov);
        Tensor fused = Tensor.of(start, n);
        Tensor unfused = Tensor.of(start, n);
        Tensor vf = momentum == 0 ? null : Tensor.zeros(n);
        Tensor vu = momentum == 0 ? null : Tensor.zeros(n);
        Tensor g = Tensor.zeros(n)) {
      for (int step = 0; step < 3; step++) {
        g.copyFrom(toFloat(random(rng, n)));
        sgd.step(engine, 0.05f, fused, g, vf, step == 0);
        sgd.stepUnfused(engine, 0.05f, unfused, g, vu, step == 0);
      }
      assertClose("fused vs unfused", fused.toFloatArray(), org.resnorm.TestSupport.toDouble(unfused.toFloatArray()),
          1e-6);
    }
  }

  @Test
  void rejectsBadHyperparametersAndTensors() {
    assertThrows(IllegalArgumentException.class, () -> new Sgd(0f, 0f, 0f, true));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(0.9f, 0.1f, 0f, true));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(-0.9f, 0f, 0f, false));
    assertThrows(IllegalArgumentException.class, () -> new Sgd(0.9f, 0f, Float.NaN, false));
    try (Sgd sgd = Sgd.paperRecipe(1e-4f); Tensor p = Tensor.zeros(4); Tensor g = Tensor.zeros(4);
        Tensor v = Tensor.zeros(4); Tensor small = Tensor.zeros(3)) {
      assertThrows(IllegalArgumentException.class, () -> sgd.step(engine, 0.1f, p, g, null, true));
      assertThrows(IllegalArgumentException.class, () -> sgd.step(engine, 0.1f, p, small, v, true));
      assertThrows(IllegalArgumentException.class, () -> sgd.step(engine, Float.NaN, p, g, v, true));
      assertThrows(IllegalArgumentException.class, () -> sgd.step(engine, -1f, p, g, v, true));
      assertThrows(IllegalArgumentException.class, () -> sgd.step(engine, 0.1f, p, p, v, true));
      assertThrows(IllegalArgumentException.class, () -> sgd.step(engine, 0.1f, null, g, v, true));
    }
  }
}
