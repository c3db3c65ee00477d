package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.data.DataFiles.cifarRecords;
import static org.resnorm.data.DataFiles.cut;
import static org.resnorm.data.DataFiles.gzip;
import static org.resnorm.data.DataFiles.pixels;
import static org.resnorm.data.DataFiles.write;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CifarTest {
  /** Records per CIFAR-10 training file in these tests (the real ones have 10000). */
  private static final int[] PER_FILE = {2, 3, 1, 2, 2};

  @TempDir
  Path dir;

  private static byte[] image(int example) {
    return pixels(Cifar.PIXELS, example);
  }

  /** CIFAR-10 records for examples first..first+n-1, label = example % 10. */
  private static byte[] c10(int first, int n) {
    int[][] labels = new int[n][];
    byte[][] px = new byte[n][];
    for (int i = 0; i < n; i++) {
      labels[i] = new int[] {(first + i) % 10};
      px[i] = image(first + i);
    }
    return cifarRecords(labels, px);
  }

  private void writeCifar10(Path base) {
    int at = 0;
    for (int f = 0; f < 5; f++) {
      write(base.resolve("data_batch_" + (f + 1) + ".bin"), c10(at, PER_FILE[f]));
      at += PER_FILE[f];
    }
    write(base.resolve("test_batch.bin"), c10(100, 3));
  }

  private static void assertExample(Dataset d, int i, int example, Normalization norm) {
    byte[] px = image(example);
    float[] v = d.image(i);
    for (int c = 0; c < 3; c++) {
      for (int k = 0; k < 1024; k++) {
        int p = px[c * 1024 + k] & 0xff;
        float expected = ((p / 255f) - norm.mean()[c]) / norm.std()[c];
        assertEquals(expected, v[c * 1024 + k], 0f, "example " + i + " channel " + c + " pixel " + k);
      }
    }
  }

  @Test
  void decodesCifar10TrainFilesInOrder() {
    writeCifar10(dir);
    Dataset d = Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN, -1, Normalization.identity(3));
    assertEquals(10, d.size());
    assertEquals(3, d.channels());
    assertEquals(32, d.height());
    assertEquals(32, d.width());
    assertEquals(10, d.numClasses());
    assertEquals(4, d.cropPadding());
    for (int i = 0; i < 10; i++) {
      assertEquals(i % 10, d.label(i));
      assertExample(d, i, i, Normalization.identity(3));
    }
    // channel-major: pixel (c=1, y=2, x=3) of example 4 is byte 1 + 1024 + 2*32 + 3 of its record
    assertEquals((image(4)[1024 + 2 * 32 + 3] & 0xff) / 255f, d.images()[4 * 3072 + 1024 + 2 * 32 + 3], 0f);
  }

  @Test
  void normalizesWithFbResnetTorchConstants() {
    writeCifar10(dir);
    float[] mean = Cifar.CIFAR10_NORMALIZATION.mean();
    assertEquals(125.3f / 255f, mean[0]);
    assertEquals(123.0f / 255f, mean[1]);
    assertEquals(113.9f / 255f, mean[2]);
    assertEquals(66.7f / 255f, Cifar.CIFAR10_NORMALIZATION.std()[2]);
    assertEquals(129.3f / 255f, Cifar.CIFAR100_NORMALIZATION.mean()[0]);
    assertEquals(70.4f / 255f, Cifar.CIFAR100_NORMALIZATION.std()[2]);
    Dataset test = Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TEST);
    assertEquals(3, test.size());
    assertArrayEquals(new int[] {0, 1, 2}, test.labels());
    for (int i = 0; i < 3; i++) {
      assertExample(test, i, 100 + i, Cifar.CIFAR10_NORMALIZATION);
    }
  }

  @Test
  void limitSpansFilesAndReadsOnlyWhatItNeeds() {
    writeCifar10(dir);
    Dataset d = Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN, 4);
    assertEquals(4, d.size());
    assertArrayEquals(new int[] {0, 1, 2, 3}, d.labels());
    assertExample(d, 3, 3, Cifar.CIFAR10_NORMALIZATION);
    assertEquals(10, Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN, 1000).size());
    assertThrows(IllegalArgumentException.class, () -> Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN, 0));
  }

  @Test
  void findsTheArchiveFolder() {
    writeCifar10(dir.resolve("cifar-10-batches-bin"));
    assertEquals(3, Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TEST).size());
  }

  @Test
  void decodesCifar100WithTheFineLabel() {
    int[][] labels = {{3, 77}, {19, 99}, {0, 0}};
    byte[][] px = {image(0), image(1), image(2)};
    write(dir.resolve("cifar-100-binary/train.bin"), cifarRecords(labels, px));
    write(dir.resolve("cifar-100-binary/test.bin"), cifarRecords(new int[][] {{5, 42}}, new byte[][] {image(9)}));
    Dataset d = Cifar.load(dir, Cifar.Variant.CIFAR100, Split.TRAIN);
    assertEquals(100, d.numClasses());
    assertArrayEquals(new int[] {77, 99, 0}, d.labels());
    for (int i = 0; i < 3; i++) {
      assertExample(d, i, i, Cifar.CIFAR100_NORMALIZATION);
    }
    Dataset t = Cifar.load(dir, Cifar.Variant.CIFAR100, Split.TEST, -1, Normalization.identity(3));
    assertArrayEquals(new int[] {42}, t.labels());
    assertExample(t, 0, 9, Normalization.identity(3));
  }

  @Test
  void rejectsASizeThatIsNotAMultipleOfTheRecord() {
    writeCifar10(dir);
    byte[] two = c10(0, 2);
    Path f = write(dir.resolve("data_batch_1.bin"), cut(two, two.length - 5));
    DatasetException e = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN));
    String m = e.getMessage();
    assertTrue(m.startsWith(f.toString()) && m.contains("size " + (two.length - 5))
        && m.contains("record size 3073") && m.contains("1 records + 3068 stray bytes"), m);
    write(dir.resolve("data_batch_1.bin"), new byte[0]);
    DatasetException empty = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN));
    assertTrue(empty.getMessage().contains("size 0 bytes is not a non-zero multiple"), empty.getMessage());
    write(dir.resolve("test.bin"), new byte[3073]);
    DatasetException c100 = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR100, Split.TEST));
    assertTrue(c100.getMessage().contains("record size 3074"), c100.getMessage());
  }

  @Test
  void rejectsLabelsOutOfRange() {
    writeCifar10(dir);
    write(dir.resolve("test_batch.bin"), cifarRecords(new int[][] {{9}, {10}}, new byte[][] {image(0), image(1)}));
    DatasetException e = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TEST));
    assertTrue(e.getMessage().contains("test_batch.bin: label 10 of record 1 is out of range 0..9"), e.getMessage());
    write(dir.resolve("train.bin"), cifarRecords(new int[][] {{1, 100}}, new byte[][] {image(0)}));
    DatasetException fine = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR100, Split.TRAIN));
    assertTrue(fine.getMessage().contains("train.bin: fine label 100 of record 0 is out of range 0..99"),
        fine.getMessage());
    write(dir.resolve("train.bin"), cifarRecords(new int[][] {{20, 1}}, new byte[][] {image(0)}));
    DatasetException coarse = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR100, Split.TRAIN));
    assertTrue(coarse.getMessage().contains("coarse label 20 of record 0 is out of range 0..19"),
        coarse.getMessage());
  }

  @Test
  void namesMissingFilesAndDirectories() throws IOException {
    writeCifar10(dir);
    Files.delete(dir.resolve("data_batch_3.bin"));
    Files.delete(dir.resolve("data_batch_5.bin"));
    DatasetException e = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TRAIN));
    assertTrue(e.getMessage().contains("not found: data_batch_3.bin, data_batch_5.bin"), e.getMessage());
    assertEquals(dir, e.file());
    DatasetException c100 = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR100, Split.TEST));
    assertTrue(c100.getMessage().contains("CIFAR-100 test file(s) not found: test.bin"), c100.getMessage());
    Path missing = dir.resolve("missing");
    DatasetException d = assertThrows(DatasetException.class,
        () -> Cifar.load(missing, Cifar.Variant.CIFAR10, Split.TEST));
    assertEquals(missing + ": directory not found", d.getMessage());
    DatasetException read = assertThrows(DatasetException.class, () -> Cifar.read(
        List.of(dir.resolve("test_batch.bin"), dir.resolve("gone.bin")), Cifar.Variant.CIFAR10, -1,
        Cifar.CIFAR10_NORMALIZATION, "t"));
    assertTrue(read.getMessage().endsWith("gone.bin: file not found"), read.getMessage());
  }

  @Test
  void rejectsGzipAndBadArguments() {
    // 3073 records of gzip output would be a coincidence; make the size a multiple by construction
    byte[] gz = gzip(c10(0, 1));
    byte[] padded = java.util.Arrays.copyOf(gz, 3073);
    write(dir.resolve("test_batch.bin"), padded);
    DatasetException e = assertThrows(DatasetException.class,
        () -> Cifar.load(dir, Cifar.Variant.CIFAR10, Split.TEST));
    assertTrue(e.getMessage().contains("gzip"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Cifar.read(List.of(dir.resolve("test_batch.bin")),
        Cifar.Variant.CIFAR10, -1, Normalization.identity(1), "t"));
    assertThrows(IllegalArgumentException.class,
        () -> Cifar.read(List.of(), Cifar.Variant.CIFAR10, -1, Cifar.CIFAR10_NORMALIZATION, "t"));
    assertEquals(List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
        "data_batch_5.bin"), Cifar.Variant.CIFAR10.fileNames(Split.TRAIN));
  }
}
