package org.resnorm.core;

import java.util.Arrays;

/**
 * Argument checks shared by the op classes. Every op validates its tensors with these before
 * any native call, so native code never sees a null, closed, mistyped, strided or mis-shaped
 * tensor: the caller gets an {@link IllegalArgumentException} (or {@link IllegalStateException}
 * for a closed tensor/engine) naming the argument.
 */
public final class Checks {
  private Checks() {}

  /** {@code t} is an open, contiguous float tensor of exactly {@code shape}. */
  public static void floatTensor(String name, Tensor t, int... shape) {
    tensor(name, t, DType.F32, shape);
  }

  /** {@code t} is an open, contiguous int tensor of exactly {@code shape}. */
  public static void intTensor(String name, Tensor t, int... shape) {
    tensor(name, t, DType.I32, shape);
  }

  /** {@code t} is null or an open, contiguous float tensor of exactly {@code shape}. */
  public static void optionalFloatTensor(String name, Tensor t, int... shape) {
    if (t != null) {
      floatTensor(name, t, shape);
    }
  }

  private static void tensor(String name, Tensor t, DType dtype, int[] shape) {
    present(name, t, dtype);
    if (!Arrays.equals(t.shape(), shape)) {
      throw new IllegalArgumentException(name + " must have shape " + Arrays.toString(shape) + ", got " + t.shapeString());
    }
  }

  /** {@code t} is an open, contiguous tensor of type {@code dtype} and rank {@code rank}. */
  public static void rank(String name, Tensor t, DType dtype, int rank) {
    present(name, t, dtype);
    if (t.rank() != rank) {
      throw new IllegalArgumentException(name + " must have rank " + rank + ", got " + t.shapeString());
    }
  }

  private static void present(String name, Tensor t, DType dtype) {
    if (t == null) {
      throw new IllegalArgumentException(name + " must not be null");
    }
    if (t.isClosed()) {
      throw new IllegalArgumentException(name + " is closed");
    }
    if (t.dtype() != dtype) {
      throw new IllegalArgumentException(name + " must be " + dtype + ", got " + t);
    }
    if (!t.isContiguous()) {
      throw new IllegalArgumentException(name + " must be contiguous, got " + t + ": copy() it first");
    }
  }

  /** The output must not share memory with any input (kernels do not support in-place use). */
  public static void noOverlap(String outName, Tensor out, String[] inNames, Tensor... ins) {
    for (int i = 0; i < ins.length; i++) {
      if (ins[i] != null && out != null && out.overlaps(ins[i])) {
        throw new IllegalArgumentException(outName + " overlaps " + inNames[i] + ": in-place use is not supported");
      }
    }
  }

  /** 0 <= i < size, or an IllegalArgumentException naming what is indexed. */
  public static void index(String name, int i, int size) {
    if (i < 0 || i >= size) {
      throw new IllegalArgumentException(name + " index " + i + " is out of range 0.." + (size - 1));
    }
  }

  public static void positive(String name, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be positive, got " + value);
    }
  }

  public static void nonNegative(String name, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(name + " must be >= 0, got " + value);
    }
  }

  /** A finite float (not NaN, not infinite). */
  public static void finite(String name, float value) {
    if (!Float.isFinite(value)) {
      throw new IllegalArgumentException(name + " must be finite, got " + value);
    }
  }

  public static Engine engine(Engine e) {
    if (e == null) {
      throw new IllegalArgumentException("engine must not be null");
    }
    if (e.isClosed()) {
      throw new IllegalArgumentException("engine is closed");
    }
    return e;
  }
}
