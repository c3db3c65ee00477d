package org.resnorm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.TestSupport;
import org.resnorm.core.DType;
import org.resnorm.core.Tensor;

class SafeTensorsTest {
  @TempDir Path dir;

  // ------------------------------------------------------------------ round trips

  @Test
  void roundTripOfSeveralTypesAndShapes() throws IOException {
    SplittableRandom rng = new SplittableRandom(4);
    float[] w = TestSupport.toFloat(TestSupport.random(rng, 2 * 3 * 5));
    Path file = dir.resolve("ckpt.safetensors");
    try (Tensor weight = Tensor.of(w, 2, 3, 5);
        Tensor labels = Tensor.ofInts(new int[] {3, -1, 7, 0, Integer.MAX_VALUE});
        Tensor scalar = Tensor.of(new float[] {0.25f})) {
      SafeTensors.writer()
          .add("layer1.0.conv1.weight", weight)
          .add("labels32", labels)
          .add("loss", scalar)
          .add("labels64", TensorData.ofLongs(new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}, 3))
          .add("step", TensorData.scalar(123_456_789_012L))
          .add("doubles", TensorData.ofDoubles(new double[] {Math.PI, -0.0, 1e300, 4}, 2, 2))
          .add("empty", TensorData.ofFloats(new float[0], 0, 3))
          .add("empty_ints", TensorData.ofInts(new int[0], 0))
          .metadata("config", "{\"depth\": 20, \"name\": \"résnorm ✓\"}")
          .metadata("epoch", "12")
          .write(file);
    }
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      assertEquals(List.of("layer1.0.conv1.weight", "labels32", "loss", "labels64", "step", "doubles", "empty",
          "empty_ints"), f.names());
      assertEquals(Map.of("config", "{\"depth\": 20, \"name\": \"résnorm ✓\"}", "epoch", "12"), f.metadata());
      assertEquals(List.of("config", "epoch"), List.copyOf(f.metadata().keySet()));

      assertEquals(SafeDType.F32, f.dtype("layer1.0.conv1.weight"));
      assertArrayEquals(new long[] {2, 3, 5}, f.shape("layer1.0.conv1.weight"));
      assertArrayEquals(w, f.data("layer1.0.conv1.weight").floats());
      try (Tensor t = f.tensor("layer1.0.conv1.weight")) {
        assertEquals(DType.F32, t.dtype());
        assertArrayEquals(new int[] {2, 3, 5}, t.shape());
        assertArrayEquals(w, t.toFloatArray());
      }
      try (Tensor t = f.tensor("labels32")) {
        assertEquals(DType.I32, t.dtype());
        assertArrayEquals(new int[] {3, -1, 7, 0, Integer.MAX_VALUE}, t.toIntArray());
      }
      assertArrayEquals(new long[0], f.shape("loss"));
      try (Tensor t = f.tensor("loss")) {
        assertEquals(0, t.rank());
        assertEquals(0.25f, t.get());
      }
      assertEquals(SafeDType.I64, f.dtype("labels64"));
      assertArrayEquals(new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}, f.data("labels64").longs());
      assertEquals(TensorData.scalar(123_456_789_012L), f.data("step"));
      assertArrayEquals(new double[] {Math.PI, -0.0, 1e300, 4}, f.data("doubles").doubles());
      try (Tensor t = f.floatTensor("doubles")) {
        assertArrayEquals(new float[] {(float) Math.PI, -0.0f, Float.POSITIVE_INFINITY, 4}, t.toFloatArray());
      }
      assertArrayEquals(new long[] {0, 3}, f.shape("empty"));
      assertEquals(0, f.data("empty").floats().length);
      assertEquals(0, f.info("empty").byteSize());
      assertEquals(0, f.data("empty_ints").ints().length);
    }
  }

  @Test
  void copyIntoExistingTensorsContiguousAndStrided() throws IOException {
    Path file = dir.resolve("a.safetensors");
    float[] v = {1, 2, 3, 4, 5, 6};
    try (Tensor t = Tensor.of(v, 2, 3)) {
      SafeTensors.write(file, Map.of("m", t), null);
    }
    try (SafeTensorsFile f = SafeTensors.read(file);
        Tensor dst = Tensor.zeros(2, 3);
        Tensor base = Tensor.zeros(3, 2)) {
      f.copyInto("m", dst);
      assertArrayEquals(v, dst.toFloatArray());
      try (Tensor strided = base.transpose(0, 1)) { // a [2, 3] view with strides [1, 2]
        f.copyInto("m", strided);
        assertArrayEquals(v, strided.toFloatArray());
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, base.toFloatArray());
      }
      assertTrue(f.metadata().isEmpty());
    }
  }

  @Test
  void stridedAndSlicedTensorsAreWrittenRowMajor() throws IOException {
    Path file = dir.resolve("s.safetensors");
    try (Tensor base = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor tr = base.transpose(0, 1);
        Tensor rows = base.slice(1, 3)) {
      SafeTensors.writer().add("t", tr).add("rows", rows).write(file);
    }
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      assertArrayEquals(new float[] {1, 3, 5, 2, 4, 6}, f.data("t").floats());
      assertArrayEquals(new long[] {2, 3}, f.shape("t"));
      assertArrayEquals(new float[] {3, 4, 5, 6}, f.data("rows").floats());
    }
  }

  @Test
  void largeTensorCrossesChunkBoundaries() throws IOException {
    int n = SafeTensors.CHUNK_BYTES / 4 * 2 + 17;
    float[] v = new float[n];
    long[] l = new long[SafeTensors.CHUNK_BYTES / 8 + 3];
    for (int i = 0; i < n; i++) {
      v[i] = i * 0.5f - 3;
    }
    for (int i = 0; i < l.length; i++) {
      l[i] = (long) i * 1_000_003L;
    }
    Path file = dir.resolve("big.safetensors");
    try (Tensor t = Tensor.of(v, n)) {
      SafeTensors.writer().add("v", t).add("a", TensorData.ofFloats(v, n)).add("l", TensorData.ofLongs(l, l.length))
          .write(file);
    }
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      assertArrayEquals(v, f.data("v").floats());
      assertArrayEquals(v, f.data("a").floats());
      assertArrayEquals(l, f.data("l").longs());
      try (Tensor t = f.tensor("a")) {
        assertArrayEquals(v, t.toFloatArray());
      }
    }
  }

  // ------------------------------------------------------------------ the exact bytes

  @Test
  void writesTheExactExpectedBytes() throws IOException {
    Path file = dir.resolve("exact.safetensors");
    try (Tensor w = Tensor.of(new float[] {1.0f, -2.0f}, 2)) {
      SafeTensors.writer().add("w", w).add("n", TensorData.scalar(7L)).metadata("epoch", "12").write(file);
    }
    String json = "{\"__metadata__\":{\"epoch\":\"12\"},"
        + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}";
    assertEquals(137, json.length()); // padded with 7 spaces to 144 = 0x90
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    expected.writeBytes(new byte[] {(byte) 0x90, 0, 0, 0, 0, 0, 0, 0});
    expected.writeBytes(json.getBytes(StandardCharsets.US_ASCII));
    expected.writeBytes("       ".getBytes(StandardCharsets.US_ASCII));
    expected.writeBytes(new byte[] {0, 0, (byte) 0x80, 0x3f}); // 1.0f = 0x3f800000, little-endian
    expected.writeBytes(new byte[] {0, 0, 0, (byte) 0xc0}); // -2.0f = 0xc0000000
    expected.writeBytes(new byte[] {7, 0, 0, 0, 0, 0, 0, 0}); // 7L
    assertArrayEquals(expected.toByteArray(), Files.readAllBytes(file));
    assertEquals(8 + 144 + 16, Files.size(file));
  }

  @Test
  void headerIsPaddedWithSpacesToAMultipleOfEight() throws IOException {
    for (int len = 1; len <= 9; len++) {
      Path file = dir.resolve("p" + len + ".safetensors");
      String name = "x".repeat(len);
      SafeTensors.writer().add(name, TensorData.ofInts(new int[] {len}, 1)).write(file);
      byte[] b = Files.readAllBytes(file);
      long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
      assertEquals(0, n % 8, "header length " + n);
      String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
      String trimmed = header.stripTrailing();
      assertTrue(trimmed.endsWith("}"));
      assertTrue(n - trimmed.length() < 8);
      assertEquals(b.length, 8 + n + 4);
      try (SafeTensorsFile f = SafeTensors.read(file)) {
        assertArrayEquals(new int[] {len}, f.data(name).ints());
      }
    }
  }

  @Test
  void readsAnUnpaddedHandWrittenFile() throws IOException {
    // 13-byte header, no padding (other writers may not pad); keys in any order; no metadata.
    Path file = raw("unpadded", "{\"b\":{\"shape\":[1],\"data_offsets\":[4,12],\"dtype\":\"F64\"},"
        + "\"a\":{\"data_offsets\":[0,4],\"dtype\":\"I32\",\"shape\":[]}}",
        le(bytes(4), 42), le(bytes(8), Double.doubleToLongBits(2.5)));
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      assertEquals(List.of("b", "a"), f.names());
      assertArrayEquals(new double[] {2.5}, f.data("b").doubles());
      assertArrayEquals(new int[] {42}, f.data("a").ints());
      assertEquals(0, f.info("a").begin());
      assertEquals(4, f.info("b").begin());
    }
  }

  // ------------------------------------------------------------------ corrupt files

  @Test
  void rejectsFilesShorterThanTheLengthField() throws IOException {
    for (int size : new int[] {0, 1, 7}) {
      Path file = dir.resolve("short" + size);
      Files.write(file, new byte[size]);
      assertFormatError(file, "shorter than the 8-byte header length");
    }
  }

  @Test
  void rejectsBadHeaderLengths() throws IOException {
    Path tooLong = dir.resolve("toolong");
    Files.write(tooLong, concat(le(bytes(8), 100), "{}".getBytes(StandardCharsets.US_ASCII)));
    assertFormatError(tooLong, "exceeds the 2 bytes");

    Path absurd = dir.resolve("absurd");
    Files.write(absurd, concat(le(bytes(8), 200_000_000L), "{}".getBytes(StandardCharsets.US_ASCII)));
    assertFormatError(absurd, "absurd");

    Path huge = dir.resolve("huge");
    Files.write(huge, concat(le(bytes(8), -1L), "{}".getBytes(StandardCharsets.US_ASCII)));
    assertFormatError(huge, "18446744073709551615");

    Path zero = dir.resolve("zero");
    Files.write(zero, le(bytes(8), 0));
    assertFormatError(zero, "too small");
  }

  @Test
  void rejectsInvalidJson() throws IOException {
    assertFormatError(raw("j1", "{\"a\": "), "invalid JSON");
    assertFormatError(raw("j2", "{not json}"), "invalid JSON");
    assertFormatError(raw("j3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],}}", bytes(4)),
        "invalid JSON");
    assertFormatError(raw("j4", "[1, 2]"), "does not start with '{'");
    assertFormatError(raw("j5", " {}"), "does not start with '{'");
    assertFormatError(raw("j6", "{} {}"), "invalid JSON");
    assertFormatError(raw("j7", "{}x"), "invalid JSON");
    assertFormatError(raw("j8", "{'a':1}"), "invalid JSON");
    Path badUtf8 = dir.resolve("j9");
    byte[] h = {'{', '"', (byte) 0xff, '"', ':', '1', '}', ' '};
    Files.write(badUtf8, concat(le(bytes(8), h.length), h));
    assertFormatError(badUtf8, "not valid UTF-8");
    // Whitespace-only padding is fine, empty header object is a valid empty file.
    try (SafeTensorsFile f = SafeTensors.read(raw("ok", "{}      "))) {
      assertTrue(f.names().isEmpty());
    }
  }

  @Test
  void rejectsMissingAndIllTypedFields() throws IOException {
    String d4 = "\"data_offsets\":[0,4]";
    assertFormatError(raw("m1", "{\"a\":{\"shape\":[1]," + d4 + "}}", bytes(4)), "tensor 'a': missing field dtype");
    assertFormatError(raw("m2", "{\"a\":{\"dtype\":\"F32\"," + d4 + "}}", bytes(4)), "missing field shape");
    assertFormatError(raw("m3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", bytes(4)), "missing field data_offsets");
    assertFormatError(raw("t1", "{\"a\":{\"dtype\":5,\"shape\":[1]," + d4 + "}}", bytes(4)),
        "tensor 'a' dtype must be a string, got a number");
    assertFormatError(raw("t2", "{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\"," + d4 + "}}", bytes(4)),
        "tensor 'a' shape must be an array, got a string");
    assertFormatError(raw("t3", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0]," + d4 + "}}", bytes(4)),
        "is not an integer");
    assertFormatError(raw("t4", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1]," + d4 + "}}", bytes(4)), "negative");
    assertFormatError(raw("t5", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"]," + d4 + "}}", bytes(4)),
        "shape element must be a number");
    assertFormatError(raw("t6", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999]," + d4 + "}}", bytes(4)),
        "is not an integer in range");
    assertFormatError(raw("t7", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", bytes(4)),
        "data_offsets must be [begin, end]");
    assertFormatError(raw("t8", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", bytes(4)),
        "data_offsets must be [begin, end]");
    assertFormatError(raw("t9", "{\"a\":[1]}"), "tensor 'a' must be an object, got an array");
    assertFormatError(raw("t10", "{\"a\":null}"), "tensor 'a' must be an object, got null");
    assertFormatError(raw("t11", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]," + d4 + ",\"extra\":1}}", bytes(4)),
        "unknown field 'extra'");
    assertFormatError(raw("t12", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1]," + d4 + "}}", bytes(4)),
        "duplicate field dtype");
    assertFormatError(raw("md1", "{\"__metadata__\":{\"epoch\":3}}"), "metadata value 'epoch' must be a string");
    assertFormatError(raw("md2", "{\"__metadata__\":[]}"), "__metadata__ must be an object");
    assertFormatError(raw("md3", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"), "duplicate metadata key 'k'");
    assertFormatError(raw("md4", "{\"__metadata__\":{},\"__metadata__\":{}}"), "duplicate __metadata__");
  }

  @Test
  void rejectsUnknownDtypesAndRefusesUnsupportedOnes() throws IOException {
    assertFormatError(raw("u1", "{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", bytes(4)),
        "unknown dtype \"F17\"");
    assertFormatError(raw("u2", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", bytes(4)),
        "unknown dtype");
    // BF16 is a valid safetensors type: the file opens, its offsets are checked, reading it is refused.
    Path bf16 = raw("u3", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", bytes(4), le(bytes(4), Float.floatToIntBits(9f)));
    try (SafeTensorsFile f = SafeTensors.read(bf16)) {
      assertEquals(SafeDType.BF16, f.dtype("a"));
      assertArrayEquals(new float[] {9f}, f.data("b").floats());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.data("a"));
      assertTrue(e.getMessage().contains("'a'") && e.getMessage().contains("BF16"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> f.tensor("a"));
    }
  }

  @Test
  void rejectsBadOffsets() throws IOException {
    String f4 = "\"dtype\":\"F32\",\"shape\":[1]";
    assertFormatError(raw("o1", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]}}"),
        "tensor 'a': data_offsets [0, 4] lie outside the data buffer of 0 bytes");
    assertFormatError(raw("o2", "{\"a\":{" + f4 + ",\"data_offsets\":[4,8]}}", bytes(4)), "lie outside");
    assertFormatError(raw("o3", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]},\"b\":{" + f4 + ",\"data_offsets\":[2,6]}}",
        bytes(8)), "overlaps tensor 'a'");
    assertFormatError(raw("o4", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]},\"b\":{" + f4 + ",\"data_offsets\":[0,4]}}",
        bytes(8)), "overlaps");
    assertFormatError(raw("o5", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]},\"b\":{" + f4 + ",\"data_offsets\":[8,12]}}",
        bytes(12)), "gap in the data buffer: bytes [4, 8)");
    assertFormatError(raw("o6", "{\"a\":{" + f4 + ",\"data_offsets\":[4,8]}}", bytes(8)), "gap");
    assertFormatError(raw("o7", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]}}", bytes(6)), "2 trailing bytes");
    assertFormatError(raw("o8", "{\"a\":{" + f4 + ",\"data_offsets\":[4,0]}}", bytes(4)), "end before they begin");
    assertFormatError(raw("o9", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", bytes(20)),
        "tensor 'a': shape [2, 3] of F32 needs 24 bytes but data_offsets [0, 20] span 20");
    assertFormatError(raw("o10", "{\"a\":{\"dtype\":\"I64\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}",
        bytes(8)), "overflows");
    // An empty tensor sits between others without taking room.
    Path ok = raw("o11", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]},\"e\":{\"dtype\":\"I64\",\"shape\":[0,5],"
        + "\"data_offsets\":[4,4]},\"b\":{" + f4 + ",\"data_offsets\":[4,8]}}", bytes(8));
    try (SafeTensorsFile f = SafeTensors.read(ok)) {
      assertEquals(3, f.names().size());
      assertEquals(0, f.data("e").longs().length);
      assertThrows(IllegalArgumentException.class, () -> f.tensor("e")); // a Tensor has no empty shape
    }
  }

  @Test
  void rejectsDuplicateNames() throws IOException {
    String f4 = "\"dtype\":\"F32\",\"shape\":[1]";
    assertFormatError(raw("d1", "{\"a\":{" + f4 + ",\"data_offsets\":[0,4]},\"a\":{" + f4 + ",\"data_offsets\":[4,8]}}",
        bytes(8)), "duplicate tensor name 'a'");
  }

  /** Random damage to a valid file gives a CheckpointFormatException or a readable file, nothing else. */
  @Test
  void randomCorruptionNeverEscapesAsAnotherException() throws IOException {
    Path good = dir.resolve("good.safetensors");
    try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
      SafeTensors.writer().add("conv1.weight", t).add("step", TensorData.scalar(5L))
          .add("labels", TensorData.ofInts(new int[] {1, 2, 3}, 3)).metadata("epoch", "1").write(good);
    }
    byte[] original = Files.readAllBytes(good);
    SplittableRandom rng = new SplittableRandom(11);
    Path bad = dir.resolve("bad.safetensors");
    int rejected = 0;
    for (int trial = 0; trial < 1500; trial++) {
      byte[] b;
      int kind = rng.nextInt(3);
      if (kind == 0) {
        b = java.util.Arrays.copyOf(original, rng.nextInt(original.length));
      } else {
        b = original.clone();
        for (int k = 1 + rng.nextInt(3); k > 0; k--) {
          int at = kind == 1 ? rng.nextInt(b.length) : rng.nextInt(Math.min(b.length, 8 + 140));
          b[at] = (byte) rng.nextInt(256);
        }
      }
      Files.write(bad, b);
      try (SafeTensorsFile f = SafeTensors.read(bad)) {
        for (String name : f.names()) {
          try {
            f.data(name);
          } catch (IllegalArgumentException unsupported) {
            // only this: a dtype byte changed into another valid dtype that has no Java array
            // here; anything else the header validation should have caught
            assertTrue(unsupported.getMessage().contains("has dtype"), "trial " + trial + ": " + unsupported);
          }
        }
      } catch (CheckpointFormatException e) {
        rejected++;
        assertTrue(e.getMessage().startsWith(bad.toString()), e.getMessage());
      } catch (Exception | Error e) {
        fail("trial " + trial + ": unexpected " + e, e);
      }
    }
    assertTrue(rejected > 500, "only " + rejected + " rejected");
  }

  // ------------------------------------------------------------------ atomic writes

  @Test
  void failedWritesLeaveTheOldFileByteIdenticalAndNoTempFiles() throws IOException {
    Path file = dir.resolve("model.safetensors");
    try (Tensor good = Tensor.full(1.5f, 4, 4)) {
      SafeTensors.writer().add("a", good).metadata("epoch", "1").write(file);
    }
    byte[] before = Files.readAllBytes(file);

    // 1. a closed tensor: refused before anything is written
    Tensor closed = Tensor.zeros(3);
    closed.close();
    try (Tensor ok = Tensor.full(2f, 4, 4)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SafeTensors.writer().add("a", ok).add("b", closed).write(file));
      assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("closed"), e.getMessage());
    }
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of(file), listDir());

    // 2. a failure in the middle of the data (after 1 MB went to the temporary file)
    try (Tensor big = Tensor.full(3f, 512, 1024); Tensor nan = Tensor.of(new float[] {1, Float.NaN}, 2)) {
      assertThrows(IllegalArgumentException.class,
          () -> SafeTensors.writer().rejectNonFinite(true).add("big", big).add("nan", nan).write(file));
    }
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of(file), listDir());

    // 3. the tensor's owner closed under a view: the view fails when its data is read
    Tensor owner = Tensor.zeros(4, 4);
    Tensor view = owner.view(16);
    owner.close();
    assertThrows(RuntimeException.class, () -> SafeTensors.writer().add("v", view).write(file));
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of(file), listDir());

    // 4. a successful write replaces the file, leaving nothing else behind
    try (Tensor next = Tensor.full(7f, 2)) {
      SafeTensors.writer().add("a", next).metadata("epoch", "2").write(file);
    }
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      assertEquals("2", f.metadata().get("epoch"));
      assertArrayEquals(new float[] {7f, 7f}, f.data("a").floats());
    }
    assertEquals(List.of(file), listDir());
  }

  @Test
  void unwritableTargetFailsWithoutLeavingFiles() throws IOException {
    Path missingDir = dir.resolve("no/such/dir/x.safetensors");
    assertThrows(IOException.class, () -> SafeTensors.writer().add("a", TensorData.scalar(1L)).write(missingDir));
    Path isDir = Files.createDirectory(dir.resolve("taken"));
    assertThrows(IOException.class, () -> SafeTensors.writer().add("a", TensorData.scalar(1L)).write(isDir));
    assertEquals(List.of(isDir), listDir());
  }

  // ------------------------------------------------------------------ non-finite values

  @Test
  void rejectNonFiniteNamesTheTensor() throws IOException {
    Path file = dir.resolve("nf.safetensors");
    float[][] bad = {{0, Float.NaN}, {Float.POSITIVE_INFINITY}, {1, 2, Float.NEGATIVE_INFINITY}};
    for (float[] v : bad) {
      try (Tensor t = Tensor.of(v, v.length)) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> SafeTensors.writer().rejectNonFinite(true).add("fc.weight", t).write(file));
        assertTrue(e.getMessage().contains("'fc.weight'") && e.getMessage().contains("non-finite"), e.getMessage());
      }
    }
    try (Tensor base = Tensor.of(new float[] {1, 2, 3, Float.NaN, 5, 6}, 3, 2); Tensor strided = base.transpose(0, 1)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SafeTensors.writer().rejectNonFinite(true).add("strided", strided).write(file));
      assertTrue(e.getMessage().contains("'strided'"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer()
        .rejectNonFinite(true).add("d", TensorData.ofDoubles(new double[] {Double.NaN}, 1)).write(file));
    assertTrue(e.getMessage().contains("'d'"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer()
        .rejectNonFinite(true).add("f", TensorData.ofFloats(new float[] {Float.NaN}, 1)).write(file));
    assertFalse(Files.exists(file));
    assertTrue(listDir().isEmpty());

    // Ints are never "non-finite"; without the option NaN is written and read back.
    try (Tensor t = Tensor.of(new float[] {Float.NaN, Float.POSITIVE_INFINITY}, 2)) {
      SafeTensors.writer().rejectNonFinite(true).add("i", TensorData.ofInts(new int[] {1}, 1)).write(file);
      SafeTensors.writer().add("t", t).write(file);
    }
    try (SafeTensorsFile f = SafeTensors.read(file)) {
      float[] v = f.data("t").floats();
      assertTrue(Float.isNaN(v[0]));
      assertEquals(Float.POSITIVE_INFINITY, v[1]);
    }
  }

  // ------------------------------------------------------------------ API misuse

  @Test
  void clearErrorsOnMisuse() throws IOException {
    Path file = dir.resolve("m.safetensors");
    try (Tensor t = Tensor.zeros(2, 3)) {
      Map<String, Tensor> m = new LinkedHashMap<>();
      m.put("layer1.0.bn1.weight", t);
      SafeTensors.write(file, m, Map.of("epoch", "0"));
      assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("a", t).add("a", t));
      assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("", t));
      assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("__metadata__", t));
      assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().add("x", (Tensor) null));
      assertThrows(IllegalArgumentException.class, () -> SafeTensors.writer().metadata("k", null));
    }
    assertThrows(IllegalArgumentException.class, () -> TensorData.ofFloats(new float[3], 2, 2));
    assertThrows(IllegalArgumentException.class, () -> TensorData.ofLongs(new long[0], -1));
    assertThrows(IllegalArgumentException.class, () -> TensorData.scalar(1L).floats());

    SafeTensorsFile f = SafeTensors.read(file);
    try (Tensor wrongShape = Tensor.zeros(3, 2); Tensor wrongType = Tensor.emptyInt(2, 3)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> f.copyInto("layer1.0.bn1.weight", wrongShape));
      assertTrue(e.getMessage().contains("'layer1.0.bn1.weight'") && e.getMessage().contains("[2, 3]")
          && e.getMessage().contains("[3, 2]"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> f.copyInto("layer1.0.bn1.weight", wrongType));
      assertTrue(e.getMessage().contains("F32"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> f.info("missing"));
      assertTrue(e.getMessage().contains("no tensor named 'missing'"), e.getMessage());
    }
    f.close();
    assertThrows(IllegalStateException.class, () -> f.data("layer1.0.bn1.weight"));
  }

  // ------------------------------------------------------------------ helpers

  private List<Path> listDir() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().collect(Collectors.toList());
    }
  }

  private static void assertFormatError(Path file, String expected) {
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> SafeTensors.read(file).close());
    assertTrue(e.getMessage().startsWith(file.toString() + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    assertEquals(file, e.file());
  }

  /** A file with this header (unpadded) and these data bytes. */
  private Path raw(String name, String header, byte[]... data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    byte[] out = concat(le(bytes(8), h.length), h);
    for (byte[] d : data) {
      out = concat(out, d);
    }
    Path file = dir.resolve(name);
    Files.write(file, out);
    return file;
  }

  private static byte[] bytes(int n) {
    return new byte[n];
  }

  /** {@code b} holding {@code value} little-endian (4 or 8 bytes). */
  private static byte[] le(byte[] b, long value) {
    ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    if (b.length == 4) {
      bb.putInt((int) value);
    } else {
      bb.putLong(value);
    }
    return b;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
