package org.resnorm.io;

import java.util.Arrays;
import java.util.Objects;
import org.resnorm.core.Tensor;

/**
 * A tensor held in a Java array: what the safetensors writer takes besides {@link Tensor}s (int64
 * labels, scalars such as a step counter, empty tensors, float64) and what the reader returns
 * from {@link SafeTensorsFile#data}. Immutable: factories copy the array and the accessors
 * return copies.
 *
 * <p>Shapes are {@code long[]} as in the file; a dimension may be 0 (an empty tensor, no data)
 * and the shape may be {@code []} (a scalar, one element).
 */
public final class TensorData {
  private final SafeDType dtype;
  private final long[] shape;
  private final Object data; // float[] | double[] | int[] | long[], row-major, owned

  private TensorData(SafeDType dtype, long[] shape, Object data, int length) {
    this.dtype = dtype;
    this.shape = checkShape(shape);
    long n = numel(this.shape);
    if (n != length) {
      throw new IllegalArgumentException("data has " + length + " elements but shape "
          + Arrays.toString(shape) + " needs " + n);
    }
    this.data = data;
  }

  /** float32 elements, row-major, shaped {@code shape}. */
  public static TensorData ofFloats(float[] values, long... shape) {
    Objects.requireNonNull(values, "values");
    return new TensorData(SafeDType.F32, shape, values.clone(), values.length);
  }

  /** float64 elements. */
  public static TensorData ofDoubles(double[] values, long... shape) {
    Objects.requireNonNull(values, "values");
    return new TensorData(SafeDType.F64, shape, values.clone(), values.length);
  }

  /** int32 elements. */
  public static TensorData ofInts(int[] values, long... shape) {
    Objects.requireNonNull(values, "values");
    return new TensorData(SafeDType.I32, shape, values.clone(), values.length);
  }

  /** int64 elements (labels, counters). */
  public static TensorData ofLongs(long[] values, long... shape) {
    Objects.requireNonNull(values, "values");
    return new TensorData(SafeDType.I64, shape, values.clone(), values.length);
  }

  // Reader-side factories: the array is fresh and handed over, no copy.
  static TensorData ofFloatsOwned(float[] values, long[] shape) {
    return new TensorData(SafeDType.F32, shape, values, values.length);
  }

  static TensorData ofDoublesOwned(double[] values, long[] shape) {
    return new TensorData(SafeDType.F64, shape, values, values.length);
  }

  static TensorData ofIntsOwned(int[] values, long[] shape) {
    return new TensorData(SafeDType.I32, shape, values, values.length);
  }

  static TensorData ofLongsOwned(long[] values, long[] shape) {
    return new TensorData(SafeDType.I64, shape, values, values.length);
  }

  /** An int64 scalar (shape []). */
  public static TensorData scalar(long value) {
    return ofLongs(new long[] {value});
  }

  /** A float32 scalar (shape []). */
  public static TensorData scalar(float value) {
    return ofFloats(new float[] {value});
  }

  /** A copy of an open F32 or I32 tensor (any layout). */
  public static TensorData of(Tensor t) {
    Objects.requireNonNull(t, "tensor");
    t.ensureOpen();
    long[] shape = Arrays.stream(t.shape()).asLongStream().toArray();
    switch (t.dtype()) {
      case F32:
        return new TensorData(SafeDType.F32, shape, t.toFloatArray(), Math.toIntExact(t.numel()));
      case I32:
        return new TensorData(SafeDType.I32, shape, t.toIntArray(), Math.toIntExact(t.numel()));
      default:
        throw new IllegalArgumentException("unsupported tensor type " + t.dtype());
    }
  }

  public SafeDType dtype() {
    return dtype;
  }

  /** A copy of the shape. */
  public long[] shape() {
    return shape.clone();
  }

  /** Number of elements (1 for a scalar, 0 for an empty tensor). */
  public long numel() {
    return numel(shape);
  }

  /** Size of the elements in the file. */
  public long byteSize() {
    return numel() * dtype.bytes();
  }

  /** A copy of the elements (F32 only). */
  public float[] floats() {
    return ((float[]) typed(SafeDType.F32)).clone();
  }

  /** A copy of the elements (F64 only). */
  public double[] doubles() {
    return ((double[]) typed(SafeDType.F64)).clone();
  }

  /** A copy of the elements (I32 only). */
  public int[] ints() {
    return ((int[]) typed(SafeDType.I32)).clone();
  }

  /** A copy of the elements (I64 only). */
  public long[] longs() {
    return ((long[]) typed(SafeDType.I64)).clone();
  }

  /** The array itself, for the writer (no copy). */
  Object raw() {
    return data;
  }

  private Object typed(SafeDType want) {
    if (dtype != want) {
      throw new IllegalArgumentException("tensor data is " + dtype + ", not " + want);
    }
    return data;
  }

  static long[] checkShape(long[] shape) {
    if (shape == null) {
      throw new IllegalArgumentException("shape must not be null");
    }
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("shape dimensions must be >= 0: " + Arrays.toString(shape));
      }
    }
    numel(shape); // overflow check
    return shape.clone();
  }

  static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof TensorData)) {
      return false;
    }
    TensorData other = (TensorData) o;
    return dtype == other.dtype && Arrays.equals(shape, other.shape)
        && Objects.deepEquals(new Object[] {data}, new Object[] {other.data});
  }

  @Override
  public int hashCode() {
    return Objects.hash(dtype, Arrays.hashCode(shape), Arrays.deepHashCode(new Object[] {data}));
  }

  @Override
  public String toString() {
    return "TensorData(" + dtype + " " + Arrays.toString(shape) + ")";
  }
}
