package org.resnorm.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
  @Test
  void cifarDropsAtThePapersEpochs() {
    LrSchedule s = LrSchedule.parse("cifar", 0.1f, 164);
    assertEquals(0.1f, s.lr(80, 0, 391));
    assertEquals(0.01f, s.lr(81, 0, 391), 1e-9f, "epoch 82 (0-based 81) runs at 0.01, as MultiStepLR([81, 122])");
    assertEquals(0.01f, s.lr(121, 390, 391), 1e-9f);
    assertEquals(0.001f, s.lr(122, 0, 391), 1e-9f);
    assertEquals(0.001f, s.lr(163, 0, 391), 1e-9f);
    assertEquals(0.1f, LrSchedule.parse("cifar", 0.1f, 3).lr(2, 0, 10), "short runs keep the base LR");
    LrSchedule four = LrSchedule.parse("cifar", 1f, 4);
    assertEquals(1f, four.lr(0, 0, 1));
    assertEquals(0.1f, four.lr(1, 0, 1), 1e-7f);
    assertEquals(0.01f, four.lr(2, 0, 1), 1e-7f);
  }

  @Test
  void imagenetStepCosineConst() {
    LrSchedule im = LrSchedule.parse("imagenet", 0.1f, 90);
    assertEquals(0.1f, im.lr(29, 0, 10));
    assertEquals(0.01f, im.lr(30, 0, 10), 1e-9f);
    assertEquals(0.001f, im.lr(60, 0, 10), 1e-9f);
    LrSchedule st = LrSchedule.parse("step:3,5", 1f, 10);
    assertEquals(1f, st.lr(2, 0, 4));
    assertEquals(0.1f, st.lr(3, 0, 4), 1e-7f);
    assertEquals(0.01f, st.lr(5, 0, 4), 1e-7f);
    assertEquals("step:3,5", st.toString());
    LrSchedule cos = LrSchedule.parse("cosine", 2f, 2);
    assertEquals(2f, cos.lr(0, 0, 10));
    assertEquals(1f, cos.lr(1, 0, 10), 1e-6f, "half-way");
    assertEquals((float) (1 + Math.cos(Math.PI * 19 / 20)), cos.lr(1, 9, 10), 1e-6f);
    assertEquals(0.5f, LrSchedule.parse("const", 0.5f, 7).lr(6, 3, 9));
    assertEquals(0.1f, cos.withBase(0.1f).lr(0, 0, 10));
    assertEquals(0.05f, cos.withBase(0.1f).lr(1, 0, 10), 1e-7f);
  }

  @Test
  void badSchedulesAreRejectedClearly() {
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("linear", 0.1f, 10));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("step:5,3", 0.1f, 10));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("step:a", 0.1f, 10));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("step:0", 0.1f, 10));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("cifar", -1f, 10));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("cifar", Float.NaN, 10));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.parse("cifar", 0.1f, 0));
  }
}
