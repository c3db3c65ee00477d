package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.resnorm.data.DataFiles.cut;
import static org.resnorm.data.DataFiles.gzip;
import static org.resnorm.data.DataFiles.idxImages;
import static org.resnorm.data.DataFiles.idxLabels;
import static org.resnorm.data.DataFiles.pixels;
import static org.resnorm.data.DataFiles.write;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FashionMnistTest {
  private static final int N = 3;
  private static final int ROWS = 4;
  private static final int COLS = 5;
  private static final byte[] PIXELS = pixels(N * ROWS * COLS, 1);
  private static final byte[] LABELS = {7, 0, 9};

  @TempDir
  Path dir;

  private static byte[] images() {
    return idxImages(2051, N, ROWS, COLS, PIXELS);
  }

  private static byte[] labels() {
    return idxLabels(2049, N, LABELS);
  }

  private Path file(String name, byte[] data) {
    return write(dir.resolve(name), data);
  }

  private DatasetException fails(byte[] imageBytes, byte[] labelBytes) {
    Path im = file("images", imageBytes);
    Path lb = file("labels", labelBytes);
    return assertThrows(DatasetException.class,
        () -> FashionMnist.read(im, lb, -1, Normalization.identity(1), "test"));
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void decodesPixelsAndLabelsExactly(boolean gz) {
    Path im = file("images", gz ? gzip(images()) : images());
    Path lb = file("labels", gz ? gzip(labels()) : labels());
    Dataset d = FashionMnist.read(im, lb, -1, Normalization.identity(1), "t");
    assertEquals(N, d.size());
    assertEquals(1, d.channels());
    assertEquals(ROWS, d.height());
    assertEquals(COLS, d.width());
    assertEquals(10, d.numClasses());
    assertEquals(2, d.cropPadding());
    assertArrayEquals(new int[] {7, 0, 9}, d.labels());
    float[] v = d.images();
    assertEquals(PIXELS.length, v.length);
    for (int i = 0; i < v.length; i++) {
      assertEquals((PIXELS[i] & 0xff) / 255f, v[i], 0f, "pixel " + i);
    }
    assertEquals(0f, v[0]);
    assertEquals(1f, v[v.length - 1]);
  }

  @Test
  void normalizesWithTheFashionMnistConstants() {
    assertArrayEquals(new float[] {0.2860f}, FashionMnist.FASHION_MNIST_NORMALIZATION.mean());
    assertArrayEquals(new float[] {0.3530f}, FashionMnist.FASHION_MNIST_NORMALIZATION.std());
    Path im = file("images", images());
    Path lb = file("labels", labels());
    Dataset d = FashionMnist.read(im, lb, -1, FashionMnist.FASHION_MNIST_NORMALIZATION, "t");
    float[] v = d.images();
    for (int i = 0; i < v.length; i++) {
      float expected = (((PIXELS[i] & 0xff) / 255f) - 0.2860f) / 0.3530f;
      assertEquals(expected, v[i], 0f, "pixel " + i);
    }
    assertEquals(-0.2860 / 0.3530, v[0], 1e-6);
    assertEquals((1 - 0.2860) / 0.3530, v[v.length - 1], 1e-6);
    Dataset m = FashionMnist.read(im, lb, -1, FashionMnist.MNIST_NORMALIZATION, "t");
    assertEquals(-0.1307 / 0.3081, m.images()[0], 1e-6);
  }

  @Test
  void loadsBothSplitsRawOrGzipFromADirectory() {
    file("train-images-idx3-ubyte", images());
    file("train-labels-idx1-ubyte.gz", gzip(labels()));
    byte[] testPixels = pixels(2 * ROWS * COLS, 5);
    file("t10k-images-idx3-ubyte.gz", gzip(idxImages(2051, 2, ROWS, COLS, testPixels)));
    file("t10k-labels-idx1-ubyte.gz", gzip(idxLabels(2049, 2, new byte[] {3, 4})));
    Dataset train = FashionMnist.load(dir, Split.TRAIN);
    Dataset test = FashionMnist.load(dir, Split.TEST);
    assertEquals(N, train.size());
    assertSame(FashionMnist.FASHION_MNIST_NORMALIZATION, train.normalization());
    assertArrayEquals(new int[] {3, 4}, test.labels());
    assertEquals(FashionMnist.FASHION_MNIST_NORMALIZATION.apply(0, testPixels[7] & 0xff), test.images()[7], 0f);
    assertTrue(test.name().contains("test"));
  }

  @ParameterizedTest(name = "gzip={0}")
  @ValueSource(booleans = {false, true})
  void limitTakesTheFirstExamples(boolean gz) {
    file("train-images-idx3-ubyte", gz ? gzip(images()) : images());
    file("train-labels-idx1-ubyte", gz ? gzip(labels()) : labels());
    Dataset d = FashionMnist.load(dir, Split.TRAIN, 2, Normalization.identity(1));
    assertEquals(2, d.size());
    assertArrayEquals(new int[] {7, 0}, d.labels());
    assertEquals((PIXELS[2 * ROWS * COLS - 1] & 0xff) / 255f, d.images()[2 * ROWS * COLS - 1], 0f);
    assertEquals(N, FashionMnist.load(dir, Split.TRAIN, 100).size());
    assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir, Split.TRAIN, 0));
  }

  @Test
  void rejectsAWrongImagesMagic() {
    DatasetException e = fails(idxImages(2050, N, ROWS, COLS, PIXELS), labels());
    assertTrue(e.getMessage().contains("images") && e.getMessage().contains("2051")
        && e.getMessage().contains("bad magic number 2050"), e.getMessage());
    assertEquals("images", e.file().getFileName().toString());
    DatasetException swapped = fails(labels(), images());
    assertTrue(swapped.getMessage().contains("this is a label file"), swapped.getMessage());
  }

  @Test
  void rejectsAWrongLabelsMagic() {
    DatasetException e = fails(images(), idxLabels(2051, N, LABELS));
    assertTrue(e.getMessage().contains("labels: bad magic number 2051") && e.getMessage().contains("2049"),
        e.getMessage());
  }

  @Test
  void rejectsATruncatedRawImagesFile() {
    byte[] full = images();
    DatasetException e = fails(cut(full, full.length - 7), labels());
    String m = e.getMessage();
    assertTrue(m.contains("images: truncated") && m.contains("expected " + full.length + " bytes")
        && m.contains("file has " + (full.length - 7) + " bytes") && m.contains("3 images of 4x5"), m);
    DatasetException header = fails(cut(full, 6), labels());
    assertTrue(header.getMessage().contains("truncated") && header.getMessage().contains("IDX header"),
        header.getMessage());
  }

  @Test
  void rejectsATooLongRawFile() {
    byte[] full = images();
    byte[] longer = java.util.Arrays.copyOf(full, full.length + 3);
    DatasetException e = fails(longer, labels());
    assertTrue(e.getMessage().contains("too long") && e.getMessage().contains("file has " + longer.length),
        e.getMessage());
  }

  @Test
  void rejectsATruncatedGzipImagesFile() {
    byte[] full = images();
    DatasetException e = fails(gzip(cut(full, full.length - 7)), labels());
    String m = e.getMessage();
    assertTrue(m.contains("images: truncated") && m.contains("expected " + full.length + " bytes")
        && m.contains("decompressed data ends after " + (full.length - 7) + " bytes"), m);
    // a cut in the compressed stream itself
    byte[] gz = gzip(full);
    DatasetException cutStream = fails(cut(gz, gz.length / 2), labels());
    assertTrue(cutStream.getMessage().startsWith(dir.resolve("images").toString()), cutStream.getMessage());
  }

  @Test
  void rejectsTrailingDataInAGzipFile() {
    byte[] full = images();
    DatasetException e = fails(gzip(java.util.Arrays.copyOf(full, full.length + 1)), labels());
    assertTrue(e.getMessage().contains("images: too long: trailing data"), e.getMessage());
  }

  @Test
  void rejectsACountMismatch() {
    DatasetException e = fails(images(), idxLabels(2049, N - 1, new byte[] {1, 2}));
    String m = e.getMessage();
    assertTrue(m.contains("count mismatch: 2 labels") && m.contains("has 3 images"), m);
  }

  @Test
  void rejectsALabelOutOfRange() {
    DatasetException e = fails(images(), idxLabels(2049, N, new byte[] {1, 10, 2}));
    assertTrue(e.getMessage().contains("labels: label 10 of example 1 is out of range 0..9"), e.getMessage());
    DatasetException big = fails(images(), idxLabels(2049, N, new byte[] {1, 2, (byte) 200}));
    assertTrue(big.getMessage().contains("label 200"), big.getMessage());
  }

  @Test
  void rejectsBadDimensions() {
    DatasetException e = fails(idxImages(2051, N, 0, COLS, new byte[0]), labels());
    assertTrue(e.getMessage().contains("bad dimensions"), e.getMessage());
    DatasetException neg = fails(idxImages(2051, -1, ROWS, COLS, new byte[0]), labels());
    assertTrue(neg.getMessage().contains("count -1"), neg.getMessage());
  }

  @Test
  void rejectsMissingFilesAndDirectories() {
    file("train-images-idx3-ubyte", images());
    DatasetException e = assertThrows(DatasetException.class, () -> FashionMnist.load(dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("train-labels-idx1-ubyte: file not found"), e.getMessage());
    Path missing = dir.resolve("nope");
    DatasetException d = assertThrows(DatasetException.class, () -> FashionMnist.load(missing, Split.TEST));
    assertEquals(missing + ": directory not found", d.getMessage());
    DatasetException notDir = assertThrows(DatasetException.class,
        () -> FashionMnist.load(dir.resolve("train-images-idx3-ubyte"), Split.TEST));
    assertTrue(notDir.getMessage().contains("is not a directory"), notDir.getMessage());
    DatasetException read = assertThrows(DatasetException.class,
        () -> FashionMnist.read(dir.resolve("x"), dir.resolve("y"), -1, Normalization.identity(1), "t"));
    assertTrue(read.getMessage().endsWith("x: file not found"), read.getMessage());
    DatasetException isDir = assertThrows(DatasetException.class,
        () -> FashionMnist.read(dir, dir, -1, Normalization.identity(1), "t"));
    assertTrue(isDir.getMessage().contains("is a directory"), isDir.getMessage());
  }

  @Test
  void rejectsAWrongNormalization() {
    Path im = file("images", images());
    Path lb = file("labels", labels());
    assertThrows(IllegalArgumentException.class, () -> FashionMnist.read(im, lb, -1, null, "t"));
    assertThrows(IllegalArgumentException.class,
        () -> FashionMnist.read(im, lb, -1, Normalization.identity(3), "t"));
  }

  /** Runs only where the Debian package dataset-fashion-mnist is installed. */
  @Test
  void readsTheInstalledDataset() {
    assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR), "no " + FashionMnist.DEFAULT_DIR);
    Dataset test = FashionMnist.load(FashionMnist.DEFAULT_DIR, Split.TEST);
    assertEquals(10000, test.size());
    assertEquals(28, test.height());
    assertEquals(28, test.width());
    int[] perClass = new int[10];
    for (int l : test.labels()) {
      perClass[l]++;
    }
    assertArrayEquals(new int[] {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, perClass);
    double sum = 0;
    double sq = 0;
    for (float v : test.images()) {
      sum += v;
      sq += (double) v * v;
    }
    double mean = sum / test.images().length;
    double std = Math.sqrt(sq / test.images().length - mean * mean);
    assertEquals(0, mean, 0.02, "normalized mean");
    assertEquals(1, std, 0.02, "normalized std");
    Dataset train = FashionMnist.load(FashionMnist.DEFAULT_DIR, Split.TRAIN, 1000);
    assertEquals(1000, train.size());
  }
}
