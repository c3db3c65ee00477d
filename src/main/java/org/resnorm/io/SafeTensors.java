package org.resnorm.io;

import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.resnorm.core.DType;
import org.resnorm.core.Tensor;

/**
 * Reads and writes <a href="https://github.com/huggingface/safetensors">safetensors</a> files:
 * an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces to a
 * multiple of 8), then the tensors' bytes, little-endian, row-major, contiguous, in header order.
 * See docs/CHECKPOINTS.md for the format and the tensor names the trainer uses.
 *
 * <p>Writing is atomic: the file is written to a temporary file in the same directory, forced
 * to disk, then renamed over {@code file}. If anything fails the temporary file is deleted and
 * an existing {@code file} is left as it was.
 *
 * <pre>{@code
 * SafeTensors.writer()
 *     .rejectNonFinite(true)
 *     .addAll(parameters)                      // Map<String, Tensor>, order kept
 *     .add("labels", TensorData.ofLongs(labels, labels.length))
 *     .metadata("epoch", "12")
 *     .write(path);
 * try (SafeTensorsFile f = SafeTensors.read(path)) {
 *   f.copyInto("conv1.weight", conv1Weight);
 * }
 * }</pre>
 */
public final class SafeTensors {
  /** Largest header accepted when reading or written (the reference implementation's limit). */
  public static final long MAX_HEADER_BYTES = 100_000_000L;

  /** The reserved header key of the string-to-string metadata. */
  public static final String METADATA_KEY = "__metadata__";

  static final int CHUNK_BYTES = 1 << 20;

  private SafeTensors() {}

  /** A new writer: add tensors and metadata, then {@link Writer#write}. */
  public static Writer writer() {
    return new Writer();
  }

  /**
   * Writes {@code tensors} (in the map's iteration order: use a {@link LinkedHashMap}) and
   * {@code metadata} (may be null or empty) to {@code file}, atomically.
   */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    writer().addAll(tensors).metadata(metadata).write(file);
  }

  /**
   * Opens and validates {@code file} (header and offsets; tensor bytes are read on demand).
   * Close the returned file when done.
   *
   * @throws CheckpointFormatException if the file is not a valid safetensors file
   */
  public static SafeTensorsFile read(Path file) throws IOException {
    return SafeTensorsFile.open(file);
  }

  /**
   * Collects tensors and metadata for one file. Tensors are referenced, not copied: their
   * contents are read when {@link #write} runs, so they must stay open until then.
   */
  public static final class Writer {
    private final LinkedHashMap<String, Object> entries = new LinkedHashMap<>(); // Tensor | TensorData
    private final LinkedHashMap<String, String> metadata = new LinkedHashMap<>();
    private boolean rejectNonFinite;

    private Writer() {}

    /** Adds an F32 or I32 tensor (any layout) under {@code name}. */
    public Writer add(String name, Tensor tensor) {
      checkName(name);
      if (tensor == null) {
        throw new IllegalArgumentException("tensor '" + name + "' must not be null");
      }
      entries.put(name, tensor);
      return this;
    }

    /** Adds Java-array data (any supported dtype, scalars, empty tensors) under {@code name}. */
    public Writer add(String name, TensorData data) {
      checkName(name);
      if (data == null) {
        throw new IllegalArgumentException("tensor '" + name + "' must not be null");
      }
      entries.put(name, data);
      return this;
    }

    /** Adds every tensor of {@code tensors}, in its iteration order. */
    public Writer addAll(Map<String, Tensor> tensors) {
      Objects.requireNonNull(tensors, "tensors");
      tensors.forEach(this::add);
      return this;
    }

    /** Sets a metadata entry (the header's {@value SafeTensors#METADATA_KEY} object). */
    public Writer metadata(String key, String value) {
      if (key == null || value == null) {
        throw new IllegalArgumentException("metadata keys and values must not be null: " + key + "=" + value);
      }
      metadata.put(key, value);
      return this;
    }

    /** Sets every entry of {@code entries} (null: none). */
    public Writer metadata(Map<String, String> entries) {
      if (entries != null) {
        entries.forEach(this::metadata);
      }
      return this;
    }

    /**
     * When true, {@link #write} refuses a float tensor holding NaN or an infinity (throwing
     * {@link IllegalArgumentException} naming the tensor and leaving the file untouched), so a
     * diverged run never replaces a good checkpoint. Default false.
     */
    public Writer rejectNonFinite(boolean reject) {
      this.rejectNonFinite = reject;
      return this;
    }

    /** Names added so far, in order. */
    public List<String> names() {
      return List.copyOf(entries.keySet());
    }

    private void checkName(String name) {
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException("tensor names must be non-empty, got " + (name == null ? "null" : "\"\""));
      }
      if (name.equals(METADATA_KEY)) {
        throw new IllegalArgumentException(METADATA_KEY + " is reserved and cannot name a tensor");
      }
      if (entries.containsKey(name)) {
        throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
      }
    }

    /**
     * Writes the file atomically (temporary file in the same directory, fsync, rename). On any
     * failure the temporary file is removed and an existing {@code file} is untouched.
     *
     * @throws IllegalArgumentException for a closed tensor or (with {@link #rejectNonFinite}) a
     *     non-finite value, naming the tensor
     * @throws IOException if the file cannot be written
     */
    public void write(Path file) throws IOException {
      Objects.requireNonNull(file, "file");
      List<Entry> list = new ArrayList<>(entries.size());
      for (Map.Entry<String, Object> e : entries.entrySet()) {
        list.add(Entry.of(e.getKey(), e.getValue()));
      }
      byte[] header = header(list, metadata);

      Path target = file.toAbsolutePath();
      Path dir = target.getParent();
      Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
      FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      try {
        try (ch) {
          ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
          len.putLong(0, header.length);
          writeFully(ch, len);
          writeFully(ch, ByteBuffer.wrap(header));
          ByteBuffer chunk = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
          for (Entry e : list) {
            e.writeData(ch, chunk, rejectNonFinite, target);
          }
          ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (Throwable t) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException | RuntimeException suppressed) {
          t.addSuppressed(suppressed);
        }
        throw t;
      }
      syncDirectory(dir);
    }
  }

  /** The padded header bytes for these entries (offsets assigned in order). */
  static byte[] header(List<Entry> list, Map<String, String> metadata) {
    StringWriter sw = new StringWriter();
    try (JsonWriter w = new JsonWriter(sw)) {
      w.setHtmlSafe(false);
      w.beginObject();
      if (!metadata.isEmpty()) {
        w.name(METADATA_KEY).beginObject();
        for (Map.Entry<String, String> m : metadata.entrySet()) {
          w.name(m.getKey()).value(m.getValue());
        }
        w.endObject();
      }
      long offset = 0;
      for (Entry e : list) {
        w.name(e.name).beginObject();
        w.name("dtype").value(e.dtype.name());
        w.name("shape").beginArray();
        for (long d : e.shape) {
          w.value(d);
        }
        w.endArray();
        long end = Math.addExact(offset, e.byteSize());
        w.name("data_offsets").beginArray().value(offset).value(end).endArray();
        w.endObject();
        offset = end;
      }
      w.endObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringWriter does not throw
    }
    byte[] json = sw.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) & ~7;
    if (padded > MAX_HEADER_BYTES) {
      throw new IllegalArgumentException("header of " + padded + " bytes exceeds " + MAX_HEADER_BYTES);
    }
    byte[] out = Arrays.copyOf(json, padded);
    Arrays.fill(out, json.length, padded, (byte) ' ');
    return out;
  }

  /** fsync the directory so the rename itself is durable (best effort: not every OS allows it). */
  private static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | RuntimeException ignored) {
      // not supported on this platform/file system; the data itself was already forced
    }
  }

  static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /** One tensor to write: its header fields and how to stream its bytes. */
  static final class Entry {
    final String name;
    final SafeDType dtype;
    final long[] shape;
    final Object source; // Tensor | TensorData

    private Entry(String name, SafeDType dtype, long[] shape, Object source) {
      this.name = name;
      this.dtype = dtype;
      this.shape = shape;
      this.source = source;
    }

    static Entry of(String name, Object source) {
      if (source instanceof Tensor) {
        Tensor t = (Tensor) source;
        if (t.isClosed()) {
          throw new IllegalArgumentException("tensor '" + name + "' is closed: " + t);
        }
        long[] shape = Arrays.stream(t.shape()).asLongStream().toArray();
        return new Entry(name, SafeDType.of(t.dtype()), shape, t);
      }
      TensorData d = (TensorData) source;
      return new Entry(name, d.dtype(), d.shape(), d);
    }

    long byteSize() {
      return Math.multiplyExact(TensorData.numel(shape), (long) dtype.bytes());
    }

    void writeData(FileChannel ch, ByteBuffer chunk, boolean rejectNonFinite, Path file) throws IOException {
      Object array;
      if (source instanceof Tensor) {
        Tensor t = (Tensor) source;
        t.ensureOpen();
        if (t.isContiguous() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
          // Straight from native memory, no copy.
          ByteBuffer raw = (t.dtype() == DType.F32 ? t.floatPointer().asByteBuffer() : t.intPointer().asByteBuffer());
          raw.limit(Math.toIntExact(byteSize()));
          if (rejectNonFinite && t.dtype() == DType.F32) {
            checkFinite(raw.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer(), file);
          }
          writeFully(ch, raw);
          return;
        }
        array = t.dtype() == DType.F32 ? t.toFloatArray() : t.toIntArray();
      } else {
        array = ((TensorData) source).raw();
      }
      if (rejectNonFinite && array instanceof float[]) {
        checkFinite(java.nio.FloatBuffer.wrap((float[]) array), file);
      } else if (rejectNonFinite && array instanceof double[]) {
        double[] v = (double[]) array;
        for (int i = 0; i < v.length; i++) {
          if (!Double.isFinite(v[i])) {
            throw nonFinite(file, i, Double.toString(v[i]));
          }
        }
      }
      encode(ch, chunk, array);
    }

    private void checkFinite(java.nio.FloatBuffer v, Path file) {
      for (int i = 0, n = v.limit(); i < n; i++) {
        float x = v.get(i);
        if (!Float.isFinite(x)) {
          throw nonFinite(file, i, Float.toString(x));
        }
      }
    }

    private IllegalArgumentException nonFinite(Path file, int index, String value) {
      return new IllegalArgumentException("tensor '" + name + "' " + Arrays.toString(shape) + " holds a non-finite value ("
          + value + " at flat index " + index + "); refusing to write " + file);
    }

    /** Little-endian bytes of a Java array, through {@code chunk}. */
    private static void encode(FileChannel ch, ByteBuffer chunk, Object array) throws IOException {
      int n = java.lang.reflect.Array.getLength(array);
      int width = array instanceof float[] || array instanceof int[] ? 4 : 8;
      int per = chunk.capacity() / width;
      for (int at = 0; at < n; at += per) {
        int m = Math.min(per, n - at);
        chunk.clear();
        if (array instanceof float[]) {
          chunk.asFloatBuffer().put((float[]) array, at, m);
        } else if (array instanceof int[]) {
          chunk.asIntBuffer().put((int[]) array, at, m);
        } else if (array instanceof double[]) {
          chunk.asDoubleBuffer().put((double[]) array, at, m);
        } else {
          chunk.asLongBuffer().put((long[]) array, at, m);
        }
        chunk.limit(m * width);
        writeFully(ch, chunk);
      }
    }
  }
}
