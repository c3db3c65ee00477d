package org.resnorm.core;

import java.lang.ref.Cleaner;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.resnorm.bind.ResnormNative;

/**
 * An n-dimensional array of float32 (or int32 labels) in native memory, row-major (NCHW for
 * images), described by a shape and element strides.
 *
 * <p>Ownership: a tensor made by a factory ({@link #empty}, {@link #zeros}, {@link #of}...)
 * owns its 64-byte aligned native buffer and frees it in {@link #close()}, deterministically.
 * Views ({@link #view}, {@link #slice}, {@link #transpose}) share the buffer without copying and
 * own nothing: closing a view only retires the view; closing the owner makes every view unusable
 * (they throw {@link IllegalStateException} instead of touching freed memory). A {@link Cleaner}
 * frees buffers whose owner was never closed, as a last resort only.
 *
 * <p>Not thread-safe: share a tensor across threads only with external synchronisation.
 */
public final class Tensor implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  /** The native buffer, shared by an owner and its views: host memory, or a CUDA device's. */
  private static final class Storage {
    final long address;
    final long bytes;
    final CudaDevice device;  // null: host memory
    final Cleaner.Cleanable cleanable;
    volatile boolean freed;

    Storage(long bytes, CudaDevice device) {
      ResnormNative.load();
      this.device = device;
      if (device == null) {
        Pointer p = ResnormNative.rn_alloc(bytes);
        if (p == null || p.isNull()) {
          throw new OutOfMemoryError("native allocation of " + bytes + " bytes failed");
        }
        this.address = p.address();
      } else {
        this.address = device.malloc(bytes);
      }
      this.bytes = bytes;
      this.cleanable = CLEANER.register(this, device == null ? new Free(address) : new DeviceFree(device, address));
    }

    void free() {
      freed = true;
      cleanable.clean();
    }
  }

  /** Frees a buffer; must not reference the Storage (or the Cleaner would never run). */
  private static final class Free implements Runnable {
    private final long address;

    Free(long address) {
      this.address = address;
    }

    @Override
    public void run() {
      ResnormNative.rn_free(new AddressPointer(address));
    }
  }

  /** Frees device memory; must not reference the Storage either. */
  private static final class DeviceFree implements Runnable {
    private final CudaDevice device;
    private final long address;

    DeviceFree(CudaDevice device, long address) {
      this.device = device;
      this.address = address;
    }

    @Override
    public void run() {
      device.free(address);
    }
  }

  /** A Pointer at a given address (JavaCPP's address fields are protected). */
  private static final class AddressPointer extends Pointer {
    AddressPointer(long address) {
      super((Pointer) null);
      this.address = address;
    }
  }

  private static final class AddressFloatPointer extends FloatPointer {
    AddressFloatPointer(long address, long count) {
      super((Pointer) null);
      this.address = address;
      this.capacity = count;
      this.limit = count;
    }
  }

  private static final class AddressIntPointer extends IntPointer {
    AddressIntPointer(long address, long count) {
      super((Pointer) null);
      this.address = address;
      this.capacity = count;
      this.limit = count;
    }
  }

  private final Storage storage;
  private final boolean owner;
  private final DType dtype;
  private final int[] shape;
  private final long[] strides;
  private final long offset; // elements from the start of the storage
  private final long numel;
  private boolean closed;
  private FloatPointer floatPointer;
  private IntPointer intPointer;
  private FloatBuffer floatBuffer;
  private IntBuffer intBuffer;

  private Tensor(Storage storage, boolean owner, DType dtype, int[] shape, long[] strides, long offset) {
    this.storage = storage;
    this.owner = owner;
    this.dtype = dtype;
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.numel = count(shape);
  }

  // ------------------------------------------------------------------ factories

  /** An uninitialised float32 tensor (contents are whatever the allocator returned). */
  public static Tensor empty(int... shape) {
    return allocate(DType.F32, shape);
  }

  /** A float32 tensor of zeros. */
  public static Tensor zeros(int... shape) {
    Tensor t = empty(shape);
    t.fill(0.0f);
    return t;
  }

  /** A float32 tensor with every element set to {@code value}. */
  public static Tensor full(float value, int... shape) {
    Tensor t = empty(shape);
    t.fill(value);
    return t;
  }

  /** A float32 tensor holding a copy of {@code data} (row-major), shaped {@code shape}. */
  public static Tensor of(float[] data, int... shape) {
    if (data == null) {
      throw new IllegalArgumentException("data must not be null");
    }
    Tensor t = empty(shape);
    if (data.length != t.numel) {
      t.close();
      throw new IllegalArgumentException(
          "data has " + data.length + " elements but shape " + Arrays.toString(shape) + " needs " + t.numel);
    }
    t.copyFrom(data);
    return t;
  }

  /** An uninitialised int32 tensor. */
  public static Tensor emptyInt(int... shape) {
    return allocate(DType.I32, shape);
  }

  /**
   * An uninitialised float32 tensor where {@code engine}'s kernels read: host memory for a CPU
   * engine, the device's memory for a CUDA engine ({@link Engine#cuda}).
   */
  public static Tensor empty(Engine engine, int... shape) {
    return allocate(DType.F32, shape, Checks.engine(engine).cudaDevice());
  }

  /** A float32 tensor of zeros where {@code engine}'s kernels read. */
  public static Tensor zeros(Engine engine, int... shape) {
    Tensor t = empty(engine, shape);
    t.fill(0.0f);
    return t;
  }

  /** An uninitialised int32 tensor where {@code engine}'s kernels read. */
  public static Tensor emptyInt(Engine engine, int... shape) {
    return allocate(DType.I32, shape, Checks.engine(engine).cudaDevice());
  }

  /** A new tensor where {@code engine}'s kernels read, holding a copy of this one (contiguous). */
  public Tensor to(Engine engine) {
    ensureOpen();
    Tensor t = allocate(dtype, shape, Checks.engine(engine).cudaDevice());
    t.copyFrom(this);
    return t;
  }

  /** A 1-D int32 tensor holding a copy of {@code labels}. */
  public static Tensor ofInts(int[] values, int... shape) {
    if (values == null) {
      throw new IllegalArgumentException("values must not be null");
    }
    int[] s = shape.length == 0 ? new int[] {values.length} : shape;
    Tensor t = emptyInt(s);
    if (values.length != t.numel) {
      t.close();
      throw new IllegalArgumentException(
          "values has " + values.length + " elements but shape " + Arrays.toString(s) + " needs " + t.numel);
    }
    t.intBuffer().put(values);
    return t;
  }

  private static Tensor allocate(DType dtype, int[] shape) {
    return allocate(dtype, shape, null);
  }

  private static Tensor allocate(DType dtype, int[] shape, CudaDevice device) {
    int[] s = checkShape(shape);
    long n = count(s);
    Storage storage = new Storage(Math.max(1, n) * dtype.bytes(), device);
    return new Tensor(storage, true, dtype, s, contiguousStrides(s), 0);
  }

  /** The device this tensor's memory belongs to (null: host memory). */
  CudaDevice device() {
    return storage.device;
  }

  /** Whether the elements live in a CUDA device's memory. */
  public boolean isOnDevice() {
    return storage.device != null;
  }

  /** "host" or "cuda:N". */
  public String placeName() {
    return storage.device == null ? "host" : "cuda:" + storage.device.index();
  }

  private static int[] checkShape(int[] shape) {
    if (shape == null) {
      throw new IllegalArgumentException("shape must not be null");
    }
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException("shape dimensions must be positive: " + Arrays.toString(shape));
      }
    }
    long n = count(shape);
    if (n > Long.MAX_VALUE / 8) {
      throw new IllegalArgumentException("shape too large: " + Arrays.toString(shape));
    }
    return shape.clone();
  }

  private static long count(int[] shape) {
    long n = 1;
    for (int d : shape) {
      n = Math.multiplyExact(n, (long) d);
    }
    return n;
  }

  private static long[] contiguousStrides(int[] shape) {
    long[] st = new long[shape.length];
    long s = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      st[i] = s;
      s *= shape[i];
    }
    return st;
  }

  // ------------------------------------------------------------------ description

  public DType dtype() {
    return dtype;
  }

  /** A copy of the shape. */
  public int[] shape() {
    return shape.clone();
  }

  /** Size of dimension {@code i}. */
  public int dim(int i) {
    return shape[i];
  }

  public int rank() {
    return shape.length;
  }

  /** A copy of the strides, in elements. */
  public long[] strides() {
    return strides.clone();
  }

  public long numel() {
    return numel;
  }

  /** Whether the elements are laid out densely in row-major order. */
  public boolean isContiguous() {
    return Arrays.equals(strides, contiguousStrides(shape)) || numel == 1;
  }

  /** Whether this tensor owns (and frees) its buffer. */
  public boolean isOwner() {
    return owner;
  }

  /** True once this tensor, or the owner of its buffer, was closed. */
  public boolean isClosed() {
    return closed || storage.freed;
  }

  /** Shape as "[3, 5, 7]". */
  public String shapeString() {
    return Arrays.toString(shape);
  }

  @Override
  public String toString() {
    return "Tensor(" + dtype + " " + shapeString() + (isContiguous() ? "" : " strided")
        + (isOnDevice() ? " on " + placeName() : "") + (isClosed() ? " closed" : "") + ")";
  }

  // ------------------------------------------------------------------ views

  /** A view with another shape over the same elements (contiguous tensors only; one -1 allowed). */
  public Tensor view(int... newShape) {
    ensureOpen();
    if (!isContiguous()) {
      throw new IllegalArgumentException("view needs a contiguous tensor; " + this + " is strided: copy it first");
    }
    if (newShape == null) {
      throw new IllegalArgumentException("shape must not be null");
    }
    int[] s = newShape.clone();
    int infer = -1;
    long known = 1;
    for (int i = 0; i < s.length; i++) {
      if (s[i] == -1 && infer < 0) {
        infer = i;
      } else if (s[i] <= 0) {
        throw new IllegalArgumentException("bad view shape " + Arrays.toString(newShape));
      } else {
        known *= s[i];
      }
    }
    if (infer >= 0) {
      if (known == 0 || numel % known != 0) {
        throw new IllegalArgumentException("cannot view " + shapeString() + " as " + Arrays.toString(newShape));
      }
      s[infer] = Math.toIntExact(numel / known);
    }
    if (count(s) != numel) {
      throw new IllegalArgumentException("cannot view " + shapeString() + " (" + numel + " elements) as "
          + Arrays.toString(newShape));
    }
    return new Tensor(storage, false, dtype, s, contiguousStrides(s), offset);
  }

  /** Rows [start, end) of dimension 0, without copying. */
  public Tensor slice(int start, int end) {
    ensureOpen();
    if (rank() == 0 || start < 0 || end > shape[0] || start >= end) {
      throw new IllegalArgumentException("slice [" + start + ", " + end + ") out of range for " + shapeString());
    }
    int[] s = shape.clone();
    s[0] = end - start;
    return new Tensor(storage, false, dtype, s, strides.clone(), offset + start * strides[0]);
  }

  /** Swaps two dimensions, without copying (the result is strided). */
  public Tensor transpose(int d0, int d1) {
    ensureOpen();
    if (d0 < 0 || d1 < 0 || d0 >= rank() || d1 >= rank()) {
      throw new IllegalArgumentException("transpose(" + d0 + ", " + d1 + ") out of range for rank " + rank());
    }
    int[] s = shape.clone();
    long[] st = strides.clone();
    s[d0] = shape[d1];
    s[d1] = shape[d0];
    st[d0] = strides[d1];
    st[d1] = strides[d0];
    return new Tensor(storage, false, dtype, s, st, offset);
  }

  /** A new owning, contiguous copy. */
  public Tensor copy() {
    ensureOpen();
    Tensor t = allocate(dtype, shape, storage.device);
    t.copyFrom(this);
    return t;
  }

  /** Whether the two tensors' element ranges share any byte of memory. */
  public boolean overlaps(Tensor other) {
    if (other == null || other.storage != storage) {
      return false;
    }
    long[] a = span();
    long[] b = other.span();
    return a[0] < b[1] && b[0] < a[1];
  }

  /** [first, last+1) element offsets this tensor touches. */
  private long[] span() {
    long lo = offset;
    long hi = offset;
    for (int i = 0; i < shape.length; i++) {
      hi += (shape[i] - 1) * strides[i];
    }
    return new long[] {lo, hi + 1};
  }

  // ------------------------------------------------------------------ element access

  private long index(int[] idx) {
    if (idx.length != shape.length) {
      throw new IllegalArgumentException("expected " + shape.length + " indices, got " + idx.length);
    }
    long at = offset;
    for (int i = 0; i < idx.length; i++) {
      if (idx[i] < 0 || idx[i] >= shape[i]) {
        throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " out of bounds for " + shapeString());
      }
      at += idx[i] * strides[i];
    }
    return at - offset;
  }

  public float get(int... idx) {
    requireType(DType.F32);
    if (isOnDevice()) {
      FloatPointer one = new FloatPointer(1);
      storage.device.download(one, elementAddress(index(idx)), 4);
      return one.get(0);
    }
    return floatBuffer().get(Math.toIntExact(index(idx)));
  }

  public void set(float value, int... idx) {
    requireType(DType.F32);
    if (isOnDevice()) {
      storage.device.upload(elementAddress(index(idx)), new FloatPointer(value), 4);
      return;
    }
    floatBuffer().put(Math.toIntExact(index(idx)), value);
  }

  public int getInt(int... idx) {
    requireType(DType.I32);
    if (isOnDevice()) {
      IntPointer one = new IntPointer(1);
      storage.device.download(one, elementAddress(index(idx)), 4);
      return one.get(0);
    }
    return intBuffer().get(Math.toIntExact(index(idx)));
  }

  public void setInt(int value, int... idx) {
    requireType(DType.I32);
    if (isOnDevice()) {
      storage.device.upload(elementAddress(index(idx)), new IntPointer(new int[] {value}), 4);
      return;
    }
    intBuffer().put(Math.toIntExact(index(idx)), value);
  }

  /** Address of the element {@code rel} elements after this tensor's first. */
  private long elementAddress(long rel) {
    return storage.address + (offset + rel) * 4L;
  }

  // Device tensors: the elements travel through a host copy of [first, last] element, so
  // strided views read and write exactly their own elements.

  // Both element types are 4-byte words; floats travel as their raw bits (NaN payloads kept).

  /** The elements, row-major, as raw 32-bit words read back from the device. */
  private int[] deviceWords() {
    IntPointer host = new IntPointer(extent());
    storage.device.download(host, elementAddress(0), 4L * extent());
    int[] span = new int[Math.toIntExact(extent())];
    host.get(span);
    if (isContiguous()) {
      return span;
    }
    int[] out = new int[Math.toIntExact(numel)];
    int[] idx = new int[shape.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = span[Math.toIntExact(index(idx))];
      increment(idx);
    }
    return out;
  }

  /** Writes the elements (row-major raw words); a strided view rewrites only its own words. */
  private void deviceWriteWords(int[] data) {
    int[] span = data;
    if (!isContiguous()) {
      IntPointer host = new IntPointer(extent());
      storage.device.download(host, elementAddress(0), 4L * extent());
      span = new int[Math.toIntExact(extent())];
      host.get(span);
      int[] idx = new int[shape.length];
      for (int v : data) {
        span[Math.toIntExact(index(idx))] = v;
        increment(idx);
      }
    }
    storage.device.upload(elementAddress(0), new IntPointer(span), 4L * span.length);
  }

  private float[] deviceFloats() {
    int[] words = deviceWords();
    float[] out = new float[words.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = Float.intBitsToFloat(words[i]);
    }
    return out;
  }

  private void deviceWrite(float[] data) {
    int[] words = new int[data.length];
    for (int i = 0; i < words.length; i++) {
      words[i] = Float.floatToRawIntBits(data[i]);
    }
    deviceWriteWords(words);
  }


  /** Sets every element to {@code value} (float tensors). */
  public void fill(float value) {
    requireType(DType.F32);
    if (isOnDevice() && isContiguous() && Float.floatToRawIntBits(value) == 0) {
      storage.device.zero(elementAddress(0), 4L * numel);
    } else if (isOnDevice()) {
      float[] all = new float[Math.toIntExact(numel)];
      Arrays.fill(all, value);
      deviceWrite(all);
    } else if (isContiguous()) {
      FloatBuffer b = floatBuffer();
      for (int i = 0, n = b.capacity(); i < n; i++) {
        b.put(i, value);
      }
    } else {
      float[] all = new float[Math.toIntExact(numel)];
      Arrays.fill(all, value);
      copyFrom(all);
    }
  }

  /** Copies {@code data} (row-major over this tensor's shape) into the tensor. */
  public void copyFrom(float[] data) {
    requireType(DType.F32);
    if (data == null || data.length != numel) {
      throw new IllegalArgumentException("expected " + numel + " values for " + shapeString() + ", got "
          + (data == null ? "null" : data.length));
    }
    if (isOnDevice()) {
      deviceWrite(data);
      return;
    }
    if (isContiguous()) {
      floatBuffer().put(0, data);
      return;
    }
    FloatBuffer b = floatBuffer();
    int[] idx = new int[shape.length];
    for (int i = 0; i < data.length; i++) {
      b.put(Math.toIntExact(index(idx)), data[i]);
      increment(idx);
    }
  }

  /** Copies another tensor of the same shape and type into this one. */
  public void copyFrom(Tensor src) {
    if (src == null) {
      throw new IllegalArgumentException("source must not be null");
    }
    if (!Arrays.equals(src.shape, shape) || src.dtype != dtype) {
      throw new IllegalArgumentException("copy from " + src + " into " + this + ": shapes/types differ");
    }
    if (dtype == DType.F32) {
      copyFrom(src.toFloatArray());
    } else if (isOnDevice()) {
      deviceWriteWords(src.toIntArray());
    } else {
      int[] v = src.toIntArray();
      IntBuffer b = intBuffer();
      int[] idx = new int[shape.length];
      for (int x : v) {
        b.put(Math.toIntExact(index(idx)), x);
        increment(idx);
      }
    }
  }

  /** The elements, row-major, as a new Java array. */
  public float[] toFloatArray() {
    requireType(DType.F32);
    if (isOnDevice()) {
      return deviceFloats();
    }
    float[] out = new float[Math.toIntExact(numel)];
    FloatBuffer b = floatBuffer();
    if (isContiguous()) {
      b.get(0, out);
      return out;
    }
    int[] idx = new int[shape.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.get(Math.toIntExact(index(idx)));
      increment(idx);
    }
    return out;
  }

  public int[] toIntArray() {
    requireType(DType.I32);
    if (isOnDevice()) {
      return deviceWords();
    }
    int[] out = new int[Math.toIntExact(numel)];
    IntBuffer b = intBuffer();
    int[] idx = new int[shape.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = b.get(Math.toIntExact(index(idx)));
      increment(idx);
    }
    return out;
  }

  private void increment(int[] idx) {
    for (int d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        return;
      }
      idx[d] = 0;
    }
  }

  // ------------------------------------------------------------------ native access

  /**
   * A pointer to the first element, for native calls (float tensors). Valid while the tensor is
   * open; callers must check contiguity themselves (the op classes do).
   */
  public FloatPointer floatPointer() {
    requireType(DType.F32);
    if (floatPointer == null) {
      floatPointer = new AddressFloatPointer(storage.address + offset * 4L, extent());
    }
    return floatPointer;
  }

  /** A pointer to the first element (int tensors). */
  public IntPointer intPointer() {
    requireType(DType.I32);
    if (intPointer == null) {
      intPointer = new AddressIntPointer(storage.address + offset * 4L, extent());
    }
    return intPointer;
  }

  /** Elements between the first and the last one this tensor touches (inclusive). */
  private long extent() {
    long[] s = span();
    return s[1] - s[0];
  }

  /** A direct buffer over [first, last] element of this tensor (absolute gets/puts by offset). */
  private FloatBuffer floatBuffer() {
    if (isOnDevice()) {
      throw new IllegalStateException("internal: host view of device tensor " + this);
    }
    if (floatBuffer == null) {
      floatBuffer = floatPointer().asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }
    return floatBuffer;
  }

  private IntBuffer intBuffer() {
    if (isOnDevice()) {
      throw new IllegalStateException("internal: host view of device tensor " + this);
    }
    if (intBuffer == null) {
      intBuffer = intPointer().asByteBuffer().order(ByteOrder.nativeOrder()).asIntBuffer();
    }
    return intBuffer;
  }

  private void requireType(DType expected) {
    ensureOpen();
    if (dtype != expected) {
      throw new IllegalArgumentException("expected a " + expected + " tensor, got " + this);
    }
  }

  /** Throws IllegalStateException if this tensor (or its buffer's owner) was closed. */
  public void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("tensor " + shapeString() + " is closed");
    }
    if (storage.freed) {
      throw new IllegalStateException("tensor " + shapeString() + " is a view of a closed tensor");
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (owner) {
      storage.free();
    }
  }
}
