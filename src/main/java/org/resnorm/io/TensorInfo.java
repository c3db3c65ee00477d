package org.resnorm.io;

import java.util.Arrays;

/**
 * One tensor's header entry in a safetensors file: name, dtype, shape and its byte range
 * [{@link #begin}, {@link #end}) relative to the start of the data buffer.
 */
public final class TensorInfo {
  private final String name;
  private final SafeDType dtype;
  private final long[] shape;
  private final long begin;
  private final long end;

  TensorInfo(String name, SafeDType dtype, long[] shape, long begin, long end) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape.clone();
    this.begin = begin;
    this.end = end;
  }

  public String name() {
    return name;
  }

  public SafeDType dtype() {
    return dtype;
  }

  /** A copy of the shape ([] for a scalar). */
  public long[] shape() {
    return shape.clone();
  }

  /** Offset of the first byte, relative to the data buffer. */
  public long begin() {
    return begin;
  }

  /** Offset one past the last byte, relative to the data buffer. */
  public long end() {
    return end;
  }

  public long numel() {
    return TensorData.numel(shape);
  }

  public long byteSize() {
    return end - begin;
  }

  @Override
  public String toString() {
    return name + ": " + dtype + " " + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
  }
}
