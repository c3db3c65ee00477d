package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.core.DType;
import org.resnorm.core.Tensor;

class ImageFolderLoaderTest {
  private static final int CROP = 16;
  private static final ImageNetTransform SMALL = ImageNetTransform.of(CROP, 20);
  private static final int PER = 3 * CROP * CROP;

  @TempDir
  Path root;
  private ImageFolder folder;

  /** train: 3 classes of 4, 3 and 4 images of assorted sizes, PNG and JPEG; val: 2 per class. */
  @BeforeEach
  void tree() {
    int[] counts = {4, 3, 4};
    String[] classes = {"n01", "n02", "n03"};
    int salt = 0;
    for (int k = 0; k < 3; k++) {
      for (int i = 0; i < counts[k]; i++, salt++) {
        int h = 18 + (salt * 5) % 13;
        int w = 18 + (salt * 7) % 17;
        Path f = root.resolve("train/" + classes[k] + "/img" + i + (i % 2 == 0 ? ".JPEG" : ".png"));
        if (i % 2 == 0) {
          ImageFiles.jpeg(f, ImageFiles.smooth(h, w, salt));
        } else {
          ImageFiles.png(f, ImageFiles.smooth(h, w, salt));
        }
      }
      for (int i = 0; i < 2; i++, salt++) {
        ImageFiles.png(root.resolve("val/" + classes[k] + "/v" + i + ".png"), ImageFiles.smooth(20 + i, 25, salt));
      }
    }
    folder = ImageFolder.open(root);
    assertEquals(11, folder.size(Split.TRAIN));
    assertEquals(6, folder.size(Split.TEST));
  }

  /** One epoch's batches, copied out. */
  private record Epoch(List<int[]> indices, List<float[]> images, List<int[]> labels) {
    int[] allIndices() {
      return indices.stream().flatMapToInt(Arrays::stream).toArray();
    }
  }

  private static Epoch epoch(BatchSource source, int expectedEpoch) {
    Epoch e = new Epoch(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    int index = 0;
    for (Batch b; (b = source.next()) != null; index++) {
      assertEquals(expectedEpoch, b.epoch());
      assertEquals(index, b.index());
      Tensor im = b.images();
      Tensor lb = b.labels();
      assertArrayEquals(new int[] {b.size(), 3, CROP, CROP}, im.shape());
      assertArrayEquals(new int[] {b.size()}, lb.shape());
      assertEquals(DType.F32, im.dtype());
      assertEquals(DType.I32, lb.dtype());
      e.indices.add(b.exampleIndices());
      e.images.add(im.toFloatArray());
      e.labels.add(lb.toIntArray());
    }
    assertEquals(source.batchesPerEpoch(), index);
    return e;
  }

  @Test
  void evalBatchesComeInOrderWithTheirLabelsAndCentreCrops() {
    try (ImageFolderLoader loader = ImageFolderLoader.builder(folder, Split.TEST).batchSize(4).transform(SMALL)
        .threads(2).build()) {
      assertEquals(2, loader.batchesPerEpoch());
      assertEquals(6, loader.examplesPerEpoch());
      assertEquals(1, loader.cropsPerExample());
      for (int ep = 0; ep < 2; ep++) {
        Epoch e = epoch(loader, ep);
        assertEquals(4, e.indices.get(0).length);
        assertEquals(2, e.indices.get(1).length); // the partial batch, with its real size
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, e.allIndices());
        assertArrayEquals(new int[] {0, 0, 1, 1}, e.labels.get(0));
        assertArrayEquals(new int[] {2, 2}, e.labels.get(1));
        for (int i = 0; i < 6; i++) {
          float[] want = new float[PER];
          SMALL.center(folder.read(Split.TEST, i), want, 0);
          float[] batch = e.images.get(i / 4);
          assertArrayEquals(want, Arrays.copyOfRange(batch, (i % 4) * PER, (i % 4 + 1) * PER), "example " + i);
        }
      }
    }
  }

  @Test
  void tenCropGivesTenRowsPerExample() {
    try (ImageFolderLoader loader = ImageFolderLoader.builder(folder, Split.TEST).batchSize(4)
        .mode(ImageFolderLoader.Mode.TEN_CROP).transform(SMALL).threads(3).epochs(1).build()) {
      assertEquals(10, loader.cropsPerExample());
      Epoch e = epoch(loader, 0);
      assertEquals(40, e.indices.get(0).length);
      assertEquals(20, e.indices.get(1).length);
      int[] rows = e.allIndices();
      int[] labels = e.labels.stream().flatMapToInt(Arrays::stream).toArray();
      for (int r = 0; r < 60; r++) {
        assertEquals(r / 10, rows[r]);
        assertEquals(folder.label(Split.TEST, r / 10), labels[r]);
      }
      for (int i = 0; i < 6; i++) {
        float[] want = new float[10 * PER];
        SMALL.tenCrop(folder.read(Split.TEST, i), want, 0);
        int at = (i % 4) * 10 * PER;
        assertArrayEquals(want, Arrays.copyOfRange(e.images.get(i / 4), at, at + 10 * PER), "example " + i);
      }
      assertNull(loader.next());
    }
  }

  @Test
  void averageCropsAveragesEachExamplesRows() {
    // 2 examples x 3 crops, 2 classes
    float[] scores = {1, 10, 2, 20, 3, 30, -1, 0, -2, 0, -6, 3};
    assertArrayEquals(new float[] {2, 20, -3, 1}, ImageFolderLoader.averageCrops(scores, 3, 2));
    assertThrows(IllegalArgumentException.class, () -> ImageFolderLoader.averageCrops(scores, 5, 2));
  }

  private List<Epoch> train(long seed, int threads, int prefetch, int epochs) {
    List<Epoch> out = new ArrayList<>();
    try (ImageFolderLoader loader = ImageFolderLoader.builder(folder, Split.TRAIN).batchSize(3)
        .mode(ImageFolderLoader.Mode.TRAIN).transform(SMALL).shuffle(true).seed(seed).dropLast(true)
        .threads(threads).prefetch(prefetch).build()) {
      assertEquals(3, loader.batchesPerEpoch());
      for (int ep = 0; ep < epochs; ep++) {
        out.add(epoch(loader, ep));
      }
    }
    return out;
  }

  @Test
  void trainingIsDeterministicWhateverTheNumberOfThreads() {
    List<Epoch> one = train(42, 1, 1, 2);
    List<Epoch> four = train(42, 4, 3, 2);
    for (int ep = 0; ep < 2; ep++) {
      assertArrayEquals(one.get(ep).allIndices(), four.get(ep).allIndices(), "epoch " + ep);
      for (int bi = 0; bi < 3; bi++) {
        assertArrayEquals(one.get(ep).images.get(bi), four.get(ep).images.get(bi), "epoch " + ep + " batch " + bi);
        assertArrayEquals(one.get(ep).labels.get(bi), four.get(ep).labels.get(bi));
      }
      // 9 of the 11 examples, each once
      int[] idx = one.get(ep).allIndices();
      assertEquals(9, Arrays.stream(idx).distinct().count());
      // each example is the training transform with its own generator, from (seed, epoch, position)
      for (int p = 0; p < 9; p++) {
        float[] want = new float[PER];
        SMALL.train(folder.read(Split.TRAIN, idx[p]),
            new SplittableRandom(ImageFolderLoader.exampleSeed(42, ep, p)), want, 0);
        float[] batch = one.get(ep).images.get(p / 3);
        assertArrayEquals(want, Arrays.copyOfRange(batch, (p % 3) * PER, (p % 3 + 1) * PER), "position " + p);
        assertEquals(folder.label(Split.TRAIN, idx[p]), one.get(ep).labels.get(p / 3)[p % 3]);
      }
    }
    assertFalse(Arrays.equals(one.get(0).allIndices(), one.get(1).allIndices()), "a new order every epoch");
    List<Epoch> other = train(43, 2, 2, 1);
    assertFalse(Arrays.equals(one.get(0).allIndices(), other.get(0).allIndices()), "another seed, another order");
    assertFalse(Arrays.equals(one.get(0).images.get(0), other.get(0).images.get(0)));
  }

  @Test
  void exampleSeedsDifferAcrossPositionsEpochsAndSeeds() {
    long a = ImageFolderLoader.exampleSeed(1, 0, 0);
    assertFalse(a == ImageFolderLoader.exampleSeed(1, 0, 1));
    assertFalse(a == ImageFolderLoader.exampleSeed(1, 1, 0));
    assertFalse(a == ImageFolderLoader.exampleSeed(2, 0, 0));
    assertEquals(a, ImageFolderLoader.exampleSeed(1, 0, 0));
  }

  @Test
  void aBadFileSurfacesFromNextNamingIt() throws IOException {
    // val example 3 (class n02, second file) becomes a truncated JPEG, example 5 a text file named .JPEG
    byte[] jpeg = ImageFiles.bytes(ImageFiles.jpeg(root.resolve("whole.jpg"), ImageFiles.smooth(96, 128, 1)));
    Files.delete(root.resolve("val/n02/v1.png"));
    Files.delete(root.resolve("val/n03/v1.png"));
    Path truncated = DataFiles.write(root.resolve("val/n02/v1.JPEG"), DataFiles.cut(jpeg, jpeg.length * 2 / 3));
    Path text = DataFiles.write(root.resolve("val/n03/v1.JPEG"), "not an image".getBytes(StandardCharsets.US_ASCII));
    ImageFolder f = ImageFolder.open(root);
    assertEquals(truncated, f.file(Split.TEST, 3));
    assertEquals(text, f.file(Split.TEST, 5));
    try (ImageFolderLoader loader = ImageFolderLoader.builder(f, Split.TEST).batchSize(2).transform(SMALL).threads(3)
        .build()) {
      assertNotNull(loader.next()); // examples 0, 1
      DatasetException e = assertThrows(DatasetException.class, loader::next);
      assertTrue(e.getMessage().contains(truncated + ": corrupt or truncated JPEG data"), e.getMessage());
      DatasetException cause = assertInstanceOf(DatasetException.class, e.getCause());
      assertEquals(truncated, cause.file());
      assertThrows(DatasetException.class, loader::next); // and again
    }
    // both bad files in one batch: the first in batch order is reported, whatever the timing
    for (int threads : new int[] {1, 4}) {
      try (ImageFolderLoader loader = ImageFolderLoader.builder(f, Split.TEST).batchSize(6).transform(SMALL)
          .threads(threads).build()) {
        DatasetException e = assertThrows(DatasetException.class, loader::next);
        assertTrue(e.getMessage().contains(truncated.toString()), e.getMessage());
      }
    }
    Files.delete(truncated);
    ImageFiles.png(root.resolve("val/n02/v1.png"), ImageFiles.smooth(20, 20, 0));
    try (ImageFolderLoader loader = ImageFolderLoader.builder(ImageFolder.open(root), Split.TEST).batchSize(1)
        .transform(SMALL).build()) {
      for (int i = 0; i < 5; i++) {
        assertNotNull(loader.next());
      }
      DatasetException e = assertThrows(DatasetException.class, loader::next);
      assertTrue(e.getMessage().contains(text + ": not a JPEG or PNG image: wrong magic number"), e.getMessage());
      assertEquals(text, ((DatasetException) e.getCause()).file());
    }
  }

  @Test
  void closeStopsTheThreadsAndFreesTheBatches() throws Exception {
    ImageFolderLoader loader = ImageFolderLoader.builder(folder, Split.TRAIN).batchSize(2).transform(SMALL)
        .mode(ImageFolderLoader.Mode.TRAIN).threads(3).prefetch(2).build();
    Batch b = loader.next();
    assertNotNull(b);
    Thread.sleep(50);
    assertTrue(loader.threadsAlive());
    loader.close();
    assertFalse(loader.threadsAlive());
    assertTrue(b.images().isClosed());
    assertThrows(IllegalStateException.class, loader::next);
    loader.close(); // idempotent
    ImageFolderLoader quick = ImageFolderLoader.builder(folder, Split.TRAIN).batchSize(4).transform(SMALL).threads(4)
        .build();
    quick.close();
    assertFalse(quick.threadsAlive());
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      assertFalse(t.getName().startsWith("resnorm-image-") && t.isAlive() && !t.isDaemon(), t.getName());
    }
  }

  @Test
  void epochsEndWithNull() {
    try (ImageFolderLoader loader = ImageFolderLoader.builder(folder, Split.TEST).batchSize(3).transform(SMALL)
        .epochs(2).build()) {
      for (int ep = 0; ep < 2; ep++) {
        assertEquals(2, epoch(loader, ep).indices.size());
      }
      assertNull(loader.next());
      assertNull(loader.next());
    }
  }

  @Test
  void rejectsBadOptions() {
    assertThrows(IllegalArgumentException.class, () -> ImageFolderLoader.builder(folder, Split.TEST).build());
    assertThrows(IllegalArgumentException.class,
        () -> ImageFolderLoader.builder(folder, Split.TEST).batchSize(2).threads(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> ImageFolderLoader.builder(folder, Split.TEST).batchSize(2).prefetch(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> ImageFolderLoader.builder(folder, Split.TEST).batchSize(2).epochs(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> ImageFolderLoader.builder(folder, Split.TEST).batchSize(2).mode(null).build());
    assertThrows(IllegalArgumentException.class, () -> ImageFolderLoader.builder(null, Split.TEST).batchSize(2).build());
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> ImageFolderLoader.builder(folder, Split.TEST).batchSize(7).dropLast(true).build());
    assertTrue(none.getMessage().contains("no batch per epoch"), none.getMessage());
    assertTrue(ImageFolderLoader.defaultThreads() >= 1);
  }
}
