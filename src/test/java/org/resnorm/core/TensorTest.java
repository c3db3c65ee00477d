package org.resnorm.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorTest {
  @Test
  void factoriesAndElementAccess() {
    try (Tensor t = Tensor.zeros(2, 3)) {
      assertEquals(6, t.numel());
      assertArrayEquals(new int[] {2, 3}, t.shape());
      assertArrayEquals(new long[] {3, 1}, t.strides());
      t.set(5f, 1, 2);
      assertEquals(5f, t.get(1, 2));
      assertEquals(0f, t.get(0, 0));
      assertArrayEquals(new float[] {0, 0, 0, 0, 0, 5}, t.toFloatArray());
    }
    try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)) {
      assertEquals(3f, t.get(1, 0));
    }
    try (Tensor t = Tensor.ofInts(new int[] {4, 5, 6})) {
      assertEquals(DType.I32, t.dtype());
      assertEquals(6, t.getInt(2));
      assertArrayEquals(new int[] {4, 5, 6}, t.toIntArray());
    }
  }

  @Test
  void badShapesAndDataAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> Tensor.empty(2, 0));
    assertThrows(IllegalArgumentException.class, () -> Tensor.empty(-1));
    assertThrows(IllegalArgumentException.class, () -> Tensor.empty((int[]) null));
    assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[3], 2, 2));
    assertThrows(IllegalArgumentException.class, () -> Tensor.of(null, 2));
    try (Tensor t = Tensor.zeros(2, 2)) {
      assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0));
      assertThrows(IllegalArgumentException.class, () -> t.get(0));
      assertThrows(IllegalArgumentException.class, () -> t.copyFrom(new float[5]));
      assertThrows(IllegalArgumentException.class, () -> t.getInt(0, 0));
    }
  }

  @Test
  void viewsShareMemoryWithoutCopying() {
    try (Tensor t = Tensor.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, 2, 2, 2)) {
      Tensor flat = t.view(-1);
      assertArrayEquals(new int[] {8}, flat.shape());
      flat.set(42f, 3);
      assertEquals(42f, t.get(0, 1, 1));
      Tensor second = t.slice(1, 2);
      assertEquals(4f, second.get(0, 0, 0));
      assertTrue(second.overlaps(t));
      assertFalse(second.overlaps(t.slice(0, 1)));
      Tensor tr = t.view(2, 4).transpose(0, 1);
      assertFalse(tr.isContiguous());
      assertArrayEquals(new int[] {4, 2}, tr.shape());
      assertEquals(5f, tr.get(1, 1));
      try (Tensor c = tr.copy()) {
        assertTrue(c.isContiguous());
        assertArrayEquals(new float[] {0, 4, 1, 5, 2, 6, 42, 7}, c.toFloatArray());
      }
      assertThrows(IllegalArgumentException.class, () -> tr.view(8));
      assertThrows(IllegalArgumentException.class, () -> t.view(3, 3));
      assertThrows(IllegalArgumentException.class, () -> t.slice(1, 1));
      flat.close(); // retiring a view leaves the owner usable
      assertEquals(1f, t.get(0, 0, 1));
    }
  }

  @Test
  void closingTheOwnerInvalidatesViews() {
    Tensor t = Tensor.zeros(4, 4);
    Tensor v = t.slice(0, 2);
    t.close();
    t.close(); // idempotent
    assertTrue(t.isClosed());
    assertTrue(v.isClosed());
    assertThrows(IllegalStateException.class, () -> v.get(0, 0));
    assertThrows(IllegalStateException.class, () -> t.toFloatArray());
    assertThrows(IllegalStateException.class, t::floatPointer);
  }

  @Test
  void nativePointerIsAligned() {
    try (Tensor t = Tensor.zeros(17)) {
      assertEquals(0, t.floatPointer().address() % 64);
      assertEquals(4 * 16, t.slice(16, 17).floatPointer().address() - t.floatPointer().address());
    }
  }
}
