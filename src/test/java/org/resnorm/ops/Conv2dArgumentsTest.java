package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.resnorm.core.Engine;
import org.resnorm.core.Tensor;

/** Bad shapes and arguments are rejected in Java, before any native call. */
class Conv2dArgumentsTest {
  static Engine engine;

  @BeforeAll
  static void open() {
    engine = Engine.create(1);
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void constructorRejectsBadGeometry() {
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(0, 4, 3, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 0, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 3, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 3, 1, -1));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 3, 1, 3));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 3, 3, 2, 2, 1, 1, ConvAlgo.WINOGRAD));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 1, 1, 1, 1, 0, 0, ConvAlgo.WINOGRAD));
    assertThrows(IllegalArgumentException.class, () -> new Conv2d(4, 4, 3, 3, 1, 1, 1, 1, null));
  }

  @Test
  void outputShape() {
    try (Conv2d conv = new Conv2d(5, 4, 3, 2, 1)) {
      assertArrayEquals(new int[] {3, 4, 4, 3}, conv.outputShape(new int[] {3, 5, 7, 6}));
      assertThrows(IllegalArgumentException.class, () -> conv.outputShape(new int[] {3, 6, 7, 6}));
      assertThrows(IllegalArgumentException.class, () -> conv.outputShape(new int[] {3, 5, 7}));
    }
    try (Conv2d conv = new Conv2d(1, 1, 7, 1, 0)) {
      assertThrows(IllegalArgumentException.class, () -> conv.outputShape(new int[] {1, 1, 5, 9}));
    }
  }

  @Test
  void forwardRejectsBadTensors() {
    try (Conv2d conv = new Conv2d(5, 4, 3, 1, 1);
        Tensor x = Tensor.zeros(3, 5, 7, 6);
        Tensor w = Tensor.zeros(4, 5, 3, 3);
        Tensor b = Tensor.zeros(4);
        Tensor y = Tensor.zeros(3, 4, 7, 6);
        Tensor wrongC = Tensor.zeros(3, 6, 7, 6);
        Tensor wrongW = Tensor.zeros(4, 5, 3, 1);
        Tensor wrongY = Tensor.zeros(3, 4, 7, 7);
        Tensor wrongB = Tensor.zeros(5);
        Tensor ints = Tensor.emptyInt(3, 5, 7, 6)) {
      assertThrows(IllegalArgumentException.class, () -> conv.forward(null, x, w, b, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, null, w, b, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, null, b, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, w, b, null));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, wrongC, w, b, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, wrongW, b, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, w, wrongB, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, w, b, wrongY));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, ints, w, b, y));
      assertThrows(IllegalArgumentException.class, () -> conv.backwardData(engine, wrongY, w, x));
      assertThrows(IllegalArgumentException.class, () -> conv.backwardFilter(engine, x, y, wrongW, b));
      assertThrows(IllegalArgumentException.class, () -> conv.backwardFilter(engine, x, y, w, wrongB));
    }
  }

  @Test
  void closedStridedAndAliasedTensorsAreRejected() {
    try (Conv2d conv = new Conv2d(2, 2, 1, 1, 0);
        Tensor x = Tensor.zeros(2, 2, 3, 3);
        Tensor w = Tensor.zeros(2, 2, 1, 1);
        Tensor y = Tensor.zeros(2, 2, 3, 3);
        Tensor pair = Tensor.zeros(2, 2, 2, 1, 1)) {
      Tensor closed = Tensor.zeros(2, 2, 3, 3);
      closed.close();
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, closed, w, null, y));
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, w, null, closed));
      Tensor closedView = x.slice(0, 1);
      closedView.close();
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, closedView, w, null, y.slice(0, 1)));

      Tensor strided = x.transpose(2, 3);
      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, strided, w, null, y));

      assertThrows(IllegalArgumentException.class, () -> conv.forward(engine, x, w, null, x));
      assertThrows(IllegalArgumentException.class, () -> conv.backwardData(engine, y, w, y));
      // dw and dbias carved from one buffer so that they overlap
      Tensor dw = pair.slice(0, 1).view(2, 2, 1, 1);
      Tensor dbias = pair.view(-1).slice(2, 4);
      assertThrows(IllegalArgumentException.class, () -> conv.backwardFilter(engine, x, y, dw, dbias));

      Engine closedEngine = Engine.create(1);
      closedEngine.close();
      assertThrows(IllegalArgumentException.class, () -> conv.forward(closedEngine, x, w, null, y));
    }
  }
}
