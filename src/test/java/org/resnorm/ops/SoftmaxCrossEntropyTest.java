package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
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

class SoftmaxCrossEntropyTest extends WithEngine {
  @ParameterizedTest(name = "n={0} classes={1}")
  @CsvSource({"3, 5", "1, 1", "128, 10", "7, 100"})
  void lossGradientAndTopk(int n, int classes) {
    SplittableRandom rng = new SplittableRandom(n + 1000L * classes);
    double[] logits = random(rng, n * classes);
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (float) (logits[i] * 6); // spread the softmax
    }
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = rng.nextInt(classes);
    }
    try (Tensor tl = Tensor.of(toFloat(logits), n, classes);
        Tensor lab = Tensor.ofInts(labels);
        Tensor grad = poisoned(n, classes)) {
      double ref = Reference.softmaxXentLoss(n, classes, logits, labels);
      float loss = SoftmaxCrossEntropy.loss(engine, tl, lab);
      assertEquals(ref, loss, 1e-5 * Math.max(1, Math.abs(ref)));
      SoftmaxCrossEntropy.backward(engine, tl, lab, 1f, grad);
      assertClose("gradient vs FD", grad.toFloatArray(),
          finiteDifference(v -> Reference.softmaxXentLoss(n, classes, v, labels), logits, 1e-4), 1e-4);
      assertClose("gradient vs reference", grad.toFloatArray(),
          Reference.softmaxXentBackward(n, classes, logits, labels, 1.0), 1e-5);
      for (int k : new int[] {1, 5}) {
        assertEquals(Reference.topkCorrect(n, classes, logits, labels, k), SoftmaxCrossEntropy.topkCorrect(engine, tl,
            lab, k));
      }
      // in place: dlogits == logits
      SoftmaxCrossEntropy.backward(engine, tl, lab, 2f, tl);
      assertClose("in-place gradient", tl.toFloatArray(),
          Reference.softmaxXentBackward(n, classes, logits, labels, 2.0), 1e-5);
    }
  }

  @Test
  void nanLogitGivesNanLossAndIsNeverCorrect() {
    try (Tensor tl = Tensor.of(new float[] {1, Float.NaN, 0, 5, 1, 0}, 2, 3); Tensor lab = Tensor.ofInts(new int[] {0, 0})) {
      assertTrue(Float.isNaN(SoftmaxCrossEntropy.loss(engine, tl, lab)));
      assertEquals(1, SoftmaxCrossEntropy.topkCorrect(engine, tl, lab, 1));
    }
  }

  @Test
  void labelsOutOfRangeAndBadShapesAreRejected() {
    try (Tensor tl = Tensor.zeros(2, 3);
        Tensor high = Tensor.ofInts(new int[] {0, 3});
        Tensor negative = Tensor.ofInts(new int[] {-1, 0});
        Tensor shortLabels = Tensor.ofInts(new int[] {0});
        Tensor floatLabels = Tensor.zeros(2);
        Tensor ok = Tensor.ofInts(new int[] {0, 2});
        Tensor badGrad = Tensor.zeros(3, 2)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SoftmaxCrossEntropy.loss(engine, tl, high));
      assertTrue(e.getMessage().contains("out of range"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.loss(engine, tl, negative));
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.loss(engine, tl, shortLabels));
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.loss(engine, tl, floatLabels));
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.loss(engine, tl, null));
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.backward(engine, tl, ok, 1f, badGrad));
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.backward(engine, tl, ok, Float.NaN, tl));
      assertThrows(IllegalArgumentException.class, () -> SoftmaxCrossEntropy.topkCorrect(engine, tl, ok, 0));
    }
  }
}
