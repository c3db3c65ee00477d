package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.dot;
import static org.resnorm.TestSupport.finiteDifference;
import static org.resnorm.TestSupport.poisoned;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.toFloat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;

class LinearTest extends WithEngine {
  @ParameterizedTest(name = "n={0} in={1} out={2}")
  @CsvSource({"3, 5, 7", "1, 1, 1", "17, 64, 10", "5, 33, 2"})
  void matchesReferenceAndFiniteDifferences(int n, int in, int out) {
    SplittableRandom rng = new SplittableRandom(n * 31 + in * 7 + out);
    double[] x = random(rng, n * in);
    double[] w = random(rng, out * in);
    double[] b = random(rng, out);
    double[] dy = random(rng, n * out);
    Linear lin = new Linear(in, out);
    try (Tensor tx = Tensor.of(toFloat(x), n, in);
        Tensor tw = Tensor.of(toFloat(w), out, in);
        Tensor tb = Tensor.of(toFloat(b), out);
        Tensor tdy = Tensor.of(toFloat(dy), n, out);
        Tensor y = poisoned(n, out);
        Tensor dx = poisoned(n, in);
        Tensor dw = poisoned(out, in);
        Tensor db = poisoned(out)) {
      lin.forward(engine, tx, tw, tb, y);
      assertClose("forward", y.toFloatArray(), Reference.linearForward(n, in, out, x, w, b), 1e-5);
      lin.backwardData(engine, tdy, tw, dx);
      double h = 1e-3;
      assertClose("backward_data vs FD", dx.toFloatArray(),
          finiteDifference(v -> dot(Reference.linearForward(n, in, out, v, w, b), dy), x, h), 1e-4);
      assertClose("backward_data vs reference", dx.toFloatArray(), Reference.linearBackwardData(n, in, out, dy, w), 1e-5);
      lin.backwardWeight(engine, tx, tdy, dw, db);
      assertClose("backward_weight vs FD", dw.toFloatArray(),
          finiteDifference(v -> dot(Reference.linearForward(n, in, out, x, v, b), dy), w, h), 1e-4);
      assertClose("backward_bias vs FD", db.toFloatArray(),
          finiteDifference(v -> dot(Reference.linearForward(n, in, out, x, w, v), dy), b, h), 1e-4);
    }
  }

  @Test
  void rejectsBadArguments() {
    Linear lin = new Linear(4, 3);
    assertThrows(IllegalArgumentException.class, () -> new Linear(0, 3));
    try (Tensor x = Tensor.zeros(2, 4); Tensor w = Tensor.zeros(3, 4); Tensor y = Tensor.zeros(2, 3);
        Tensor badX = Tensor.zeros(2, 5); Tensor badY = Tensor.zeros(3, 3); Tensor x3 = Tensor.zeros(2, 4, 1)) {
      assertThrows(IllegalArgumentException.class, () -> lin.forward(engine, badX, w, null, y));
      assertThrows(IllegalArgumentException.class, () -> lin.forward(engine, x, w, null, badY));
      assertThrows(IllegalArgumentException.class, () -> lin.forward(engine, x3, w, null, y));
      assertThrows(IllegalArgumentException.class, () -> lin.forward(engine, x, w, null, null));
      assertThrows(IllegalArgumentException.class, () -> lin.backwardData(engine, y, w, badX));
      assertThrows(IllegalArgumentException.class, () -> lin.backwardWeight(engine, x, y, x, null));
    }
  }
}
