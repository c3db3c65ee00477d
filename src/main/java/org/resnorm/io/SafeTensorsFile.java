package org.resnorm.io;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.resnorm.core.DType;
import org.resnorm.core.Tensor;

/**
 * An open safetensors file whose header has been parsed and fully validated (see
 * {@link SafeTensors#read}). Tensor bytes are read on demand with positional reads, straight
 * into native memory where possible, so multi-hundred-MB checkpoints are never held twice.
 *
 * <p>Reads may run concurrently from several threads; {@link #close()} must not race them.
 */
public final class SafeTensorsFile implements AutoCloseable {
  private final Path file;
  private final FileChannel channel;
  private final long dataStart; // 8 + header length
  private final Map<String, String> metadata;
  private final Map<String, TensorInfo> infos; // header order
  private volatile boolean closed;

  private SafeTensorsFile(Path file, FileChannel channel, long dataStart, Map<String, String> metadata,
      Map<String, TensorInfo> infos) {
    this.file = file;
    this.channel = channel;
    this.dataStart = dataStart;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.infos = Collections.unmodifiableMap(infos);
  }

  static SafeTensorsFile open(Path file) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    try {
      return parse(file, ch);
    } catch (Throwable t) {
      try {
        ch.close();
      } catch (IOException suppressed) {
        t.addSuppressed(suppressed);
      }
      throw t;
    }
  }

  private static SafeTensorsFile parse(Path file, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size < 8) {
      throw new CheckpointFormatException(file, "file has " + size + " bytes, shorter than the 8-byte header length");
    }
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(file, ch, 0, lenBuf);
    long n = lenBuf.getLong(0); // u64: a negative long is > 2^63
    if (n < 0 || n > SafeTensors.MAX_HEADER_BYTES) {
      throw new CheckpointFormatException(file, "header length " + Long.toUnsignedString(n)
          + " is absurd (limit " + SafeTensors.MAX_HEADER_BYTES + " bytes)");
    }
    if (n > size - 8) {
      throw new CheckpointFormatException(file, "header length " + n + " exceeds the " + (size - 8)
          + " bytes that follow it");
    }
    if (n < 2) {
      throw new CheckpointFormatException(file, "header length " + n + " is too small for a JSON object");
    }
    ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
    readFully(file, ch, 8, headerBytes);
    headerBytes.flip();
    if (headerBytes.get(0) != '{') {
      throw new CheckpointFormatException(file, "header does not start with '{'");
    }
    String json;
    try {
      CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(headerBytes);
      json = chars.toString();
    } catch (CharacterCodingException e) {
      throw new CheckpointFormatException(file, "header is not valid UTF-8", e);
    }

    Map<String, String> metadata = new LinkedHashMap<>();
    Map<String, TensorInfo> infos = new LinkedHashMap<>();
    try {
      JsonReader r = new JsonReader(new StringReader(json));
      r.setStrictness(Strictness.STRICT);
      expect(file, r, JsonToken.BEGIN_OBJECT, "the header");
      r.beginObject();
      boolean sawMetadata = false;
      while (r.hasNext()) {
        String name = r.nextName();
        if (name.equals(SafeTensors.METADATA_KEY)) {
          if (sawMetadata) {
            throw new CheckpointFormatException(file, "duplicate " + SafeTensors.METADATA_KEY);
          }
          sawMetadata = true;
          readMetadata(file, r, metadata);
        } else {
          if (infos.containsKey(name)) {
            throw new CheckpointFormatException(file, "duplicate tensor name '" + name + "'");
          }
          infos.put(name, readInfo(file, r, name));
        }
      }
      r.endObject();
      if (r.peek() != JsonToken.END_DOCUMENT) {
        throw new CheckpointFormatException(file, "unexpected content after the header's JSON object");
      }
    } catch (CheckpointFormatException e) {
      throw e;
    } catch (IOException | IllegalStateException | NumberFormatException e) {
      throw new CheckpointFormatException(file, "invalid JSON header: " + e.getMessage(), e);
    }

    long dataStart = 8 + n;
    checkLayout(file, infos, size - dataStart);
    return new SafeTensorsFile(file, ch, dataStart, metadata, infos);
  }

  private static void readMetadata(Path file, JsonReader r, Map<String, String> metadata) throws IOException {
    if (r.peek() == JsonToken.NULL) {
      r.nextNull();
      return;
    }
    expect(file, r, JsonToken.BEGIN_OBJECT, SafeTensors.METADATA_KEY);
    r.beginObject();
    while (r.hasNext()) {
      String key = r.nextName();
      if (metadata.containsKey(key)) {
        throw new CheckpointFormatException(file, "duplicate metadata key '" + key + "'");
      }
      expect(file, r, JsonToken.STRING, "metadata value '" + key + "'");
      metadata.put(key, r.nextString());
    }
    r.endObject();
  }

  private static TensorInfo readInfo(Path file, JsonReader r, String name) throws IOException {
    String what = "tensor '" + name + "'";
    expect(file, r, JsonToken.BEGIN_OBJECT, what);
    r.beginObject();
    String dtype = null;
    long[] shape = null;
    long[] offsets = null;
    while (r.hasNext()) {
      String field = r.nextName();
      switch (field) {
        case "dtype":
          if (dtype != null) {
            throw new CheckpointFormatException(file, what + ": duplicate field dtype");
          }
          expect(file, r, JsonToken.STRING, what + " dtype");
          dtype = r.nextString();
          break;
        case "shape":
          if (shape != null) {
            throw new CheckpointFormatException(file, what + ": duplicate field shape");
          }
          shape = readLongs(file, r, what + " shape");
          break;
        case "data_offsets":
          if (offsets != null) {
            throw new CheckpointFormatException(file, what + ": duplicate field data_offsets");
          }
          offsets = readLongs(file, r, what + " data_offsets");
          break;
        default:
          throw new CheckpointFormatException(file, what + ": unknown field '" + field + "'");
      }
    }
    r.endObject();
    if (dtype == null || shape == null || offsets == null) {
      throw new CheckpointFormatException(file, what + ": missing field "
          + (dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets"));
    }
    SafeDType type = SafeDType.fromHeader(dtype);
    if (type == null) {
      throw new CheckpointFormatException(file, what + ": unknown dtype \"" + dtype + "\"");
    }
    if (offsets.length != 2) {
      throw new CheckpointFormatException(file, what + ": data_offsets must be [begin, end], got "
          + Arrays.toString(offsets));
    }
    if (offsets[0] > offsets[1]) {
      throw new CheckpointFormatException(file, what + ": data_offsets " + Arrays.toString(offsets) + " end before they begin");
    }
    long bytes;
    try {
      bytes = Math.multiplyExact(TensorData.numel(shape), (long) type.bytes());
    } catch (ArithmeticException e) {
      throw new CheckpointFormatException(file, what + ": shape " + Arrays.toString(shape) + " overflows");
    }
    if (bytes != offsets[1] - offsets[0]) {
      throw new CheckpointFormatException(file, what + ": shape " + Arrays.toString(shape) + " of " + type + " needs "
          + bytes + " bytes but data_offsets " + Arrays.toString(offsets) + " span " + (offsets[1] - offsets[0]));
    }
    return new TensorInfo(name, type, shape, offsets[0], offsets[1]);
  }

  /** An array of non-negative integers. */
  private static long[] readLongs(Path file, JsonReader r, String what) throws IOException {
    expect(file, r, JsonToken.BEGIN_ARRAY, what);
    r.beginArray();
    List<Long> out = new ArrayList<>();
    while (r.hasNext()) {
      expect(file, r, JsonToken.NUMBER, what + " element");
      String s = r.nextString();
      long v;
      try {
        v = Long.parseLong(s);
      } catch (NumberFormatException e) {
        throw new CheckpointFormatException(file, what + ": " + s + " is not an integer in range");
      }
      if (v < 0) {
        throw new CheckpointFormatException(file, what + ": " + s + " is negative");
      }
      out.add(v);
    }
    r.endArray();
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static void expect(Path file, JsonReader r, JsonToken token, String what) throws IOException {
    JsonToken got = r.peek();
    if (got != token) {
      throw new CheckpointFormatException(file, what + " must be " + describe(token) + ", got " + describe(got));
    }
  }

  private static String describe(JsonToken t) {
    switch (t) {
      case BEGIN_OBJECT:
        return "an object";
      case BEGIN_ARRAY:
        return "an array";
      case STRING:
        return "a string";
      case NUMBER:
        return "a number";
      case BOOLEAN:
        return "a boolean";
      case NULL:
        return "null";
      default:
        return t.toString();
    }
  }

  /** Tensors tile [0, bufferBytes) exactly: no gap, no overlap, nothing outside, nothing left over. */
  private static void checkLayout(Path file, Map<String, TensorInfo> infos, long bufferBytes)
      throws CheckpointFormatException {
    List<TensorInfo> sorted = new ArrayList<>(infos.values());
    for (TensorInfo t : sorted) {
      if (t.end() > bufferBytes) {
        throw new CheckpointFormatException(file, "tensor '" + t.name() + "': data_offsets [" + t.begin() + ", "
            + t.end() + "] lie outside the data buffer of " + bufferBytes + " bytes");
      }
    }
    sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
    long expected = 0;
    TensorInfo previous = null;
    for (TensorInfo t : sorted) {
      if (t.begin() < expected) {
        throw new CheckpointFormatException(file, "tensor '" + t.name() + "' [" + t.begin() + ", " + t.end()
            + ") overlaps tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end() + ")");
      }
      if (t.begin() > expected) {
        throw new CheckpointFormatException(file, "gap in the data buffer: bytes [" + expected + ", " + t.begin()
            + ") before tensor '" + t.name() + "' belong to no tensor");
      }
      expected = t.end();
      previous = t;
    }
    if (expected != bufferBytes) {
      throw new CheckpointFormatException(file, (bufferBytes - expected) + " trailing bytes after the last tensor (data buffer "
          + bufferBytes + " bytes, tensors end at " + expected + ")");
    }
  }

  // ------------------------------------------------------------------ description

  public Path file() {
    return file;
  }

  /** The header's string-to-string metadata, in file order (empty if none). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Tensor names in header order. */
  public List<String> names() {
    return List.copyOf(infos.keySet());
  }

  public boolean contains(String name) {
    return infos.containsKey(name);
  }

  /** The header entry of {@code name}. */
  public TensorInfo info(String name) {
    TensorInfo t = infos.get(name);
    if (t == null) {
      throw new IllegalArgumentException(file + ": no tensor named '" + name + "'");
    }
    return t;
  }

  public SafeDType dtype(String name) {
    return info(name).dtype();
  }

  /** A copy of the shape of {@code name} ([] for a scalar). */
  public long[] shape(String name) {
    return info(name).shape();
  }

  // ------------------------------------------------------------------ element access

  /** The elements of {@code name} in a Java array (F32, F64, I32 or I64). */
  public TensorData data(String name) throws IOException {
    TensorInfo t = info(name);
    long n = t.numel();
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(file + ": tensor '" + name + "' has " + n + " elements, too many for a Java array");
    }
    int count = (int) n;
    long[] shape = t.shape();
    switch (t.dtype()) {
      case F32: {
        float[] v = new float[count];
        stream(t, (b, at, m) -> b.asFloatBuffer().get(v, at, m));
        return TensorData.ofFloatsOwned(v, shape);
      }
      case F64: {
        double[] v = new double[count];
        stream(t, (b, at, m) -> b.asDoubleBuffer().get(v, at, m));
        return TensorData.ofDoublesOwned(v, shape);
      }
      case I32: {
        int[] v = new int[count];
        stream(t, (b, at, m) -> b.asIntBuffer().get(v, at, m));
        return TensorData.ofIntsOwned(v, shape);
      }
      case I64: {
        long[] v = new long[count];
        stream(t, (b, at, m) -> b.asLongBuffer().get(v, at, m));
        return TensorData.ofLongsOwned(v, shape);
      }
      default:
        throw unsupported(t);
    }
  }

  /** A new tensor holding {@code name}: F32 gives a float tensor, I32 an int tensor. */
  public Tensor tensor(String name) throws IOException {
    TensorInfo t = info(name);
    DType type = coreType(t);
    int[] shape = intShape(t);
    Tensor out = type == DType.F32 ? Tensor.empty(shape) : Tensor.emptyInt(shape);
    try {
      copyInto(name, out);
      return out;
    } catch (Throwable e) {
      out.close();
      throw e;
    }
  }

  /** A new float tensor holding {@code name}, which may be F32 or F64 (rounded to float). */
  public Tensor floatTensor(String name) throws IOException {
    TensorInfo t = info(name);
    if (t.dtype() == SafeDType.F32) {
      return tensor(name);
    }
    if (t.dtype() != SafeDType.F64) {
      throw new IllegalArgumentException(file + ": tensor '" + name + "' is " + t.dtype() + ", not F32 or F64");
    }
    int[] shape = intShape(t);
    double[] d = data(name).doubles();
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return Tensor.of(f, shape);
  }

  /**
   * Copies {@code name} into {@code dst}, which must be open and of the same type (F32/I32) and
   * shape; the message of a mismatch names the tensor and both shapes.
   */
  public void copyInto(String name, Tensor dst) throws IOException {
    TensorInfo t = info(name);
    if (dst == null) {
      throw new IllegalArgumentException("destination of tensor '" + name + "' must not be null");
    }
    dst.ensureOpen();
    DType type = coreType(t);
    if (dst.dtype() != type) {
      throw new IllegalArgumentException(file + ": tensor '" + name + "' is " + t.dtype() + " but the destination is " + dst);
    }
    long[] dstShape = Arrays.stream(dst.shape()).asLongStream().toArray();
    if (!Arrays.equals(dstShape, t.shape())) {
      throw new IllegalArgumentException(file + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
          + " but the destination has shape " + Arrays.toString(dstShape));
    }
    if (dst.isContiguous() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
      ByteBuffer raw = type == DType.F32 ? dst.floatPointer().asByteBuffer() : dst.intPointer().asByteBuffer();
      raw.limit(Math.toIntExact(t.byteSize()));
      readFully(file, channelOpen(), dataStart + t.begin(), raw);
    } else if (type == DType.F32) {
      dst.copyFrom(data(name).floats());
    } else {
      try (Tensor tmp = Tensor.ofInts(data(name).ints(), dst.shape())) {
        dst.copyFrom(tmp);
      }
    }
  }

  private DType coreType(TensorInfo t) {
    switch (t.dtype()) {
      case F32:
        return DType.F32;
      case I32:
        return DType.I32;
      default:
        throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' is " + t.dtype()
            + "; a Tensor holds F32 or I32 only (use data(name)" + (t.dtype() == SafeDType.F64 ? " or floatTensor(name)" : "") + ")");
    }
  }

  private int[] intShape(TensorInfo t) {
    long[] s = t.shape();
    int[] out = new int[s.length];
    for (int i = 0; i < s.length; i++) {
      if (s[i] <= 0 || s[i] > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' of shape " + Arrays.toString(s)
            + " cannot be a Tensor (dimensions must be in 1.." + Integer.MAX_VALUE + "); use data(name)");
      }
      out[i] = (int) s[i];
    }
    return out;
  }

  private IllegalArgumentException unsupported(TensorInfo t) {
    return new IllegalArgumentException(file + ": tensor '" + t.name() + "' has dtype " + t.dtype()
        + ", which resnorm does not read (F32, F64, I32, I64 only)");
  }

  /** Receives little-endian chunks: {@code m} elements for array positions [at, at + m). */
  private interface ChunkSink {
    void accept(ByteBuffer chunk, int at, int m);
  }

  private void stream(TensorInfo t, ChunkSink sink) throws IOException {
    int width = t.dtype().bytes();
    long total = t.byteSize();
    int chunkBytes = (int) Math.min(SafeTensors.CHUNK_BYTES, total);
    ByteBuffer chunk = ByteBuffer.allocate(chunkBytes).order(ByteOrder.LITTLE_ENDIAN);
    long pos = dataStart + t.begin();
    int at = 0;
    for (long done = 0; done < total; ) {
      int m = (int) Math.min(chunkBytes, total - done);
      chunk.clear().limit(m);
      readFully(file, channelOpen(), pos + done, chunk);
      chunk.flip();
      sink.accept(chunk, at, m / width);
      at += m / width;
      done += m;
    }
  }

  private FileChannel channelOpen() {
    if (closed) {
      throw new IllegalStateException(file + " is closed");
    }
    return channel;
  }

  private static void readFully(Path file, FileChannel ch, long pos, ByteBuffer dst) throws IOException {
    long p = pos;
    while (dst.hasRemaining()) {
      int r = ch.read(dst, p);
      if (r < 0) {
        throw new CheckpointFormatException(file, "file ended at byte " + p + " (truncated while open?)");
      }
      p += r;
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    channel.close();
  }

  @Override
  public String toString() {
    return "SafeTensorsFile(" + file + ", " + infos.size() + " tensors)";
  }
}
