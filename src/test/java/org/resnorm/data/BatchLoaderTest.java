package org.resnorm.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.resnorm.core.DType;
import org.resnorm.core.Tensor;

class BatchLoaderTest {
  private static final int C = 2;
  private static final int H = 3;
  private static final int W = 4;
  private static final int PER = C * H * W;

  /** n examples; value k of example i is 1000 i + k + 1 (never 0), label i % 7. */
  private static Dataset dataset(int n) {
    float[] images = new float[n * PER];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % 7;
      for (int k = 0; k < PER; k++) {
        images[i * PER + k] = 1000 * i + k + 1;
      }
    }
    return new Dataset("synthetic", images, labels, C, H, W, 7, null, 1);
  }

  /** One epoch: the batches' example indices, images and labels, copied out. */
  private record Epoch(List<int[]> indices, List<float[]> images, List<int[]> labels, List<Integer> sizes) {
    int[] allIndices() {
      return indices.stream().flatMapToInt(Arrays::stream).toArray();
    }
  }

  private static Epoch epoch(BatchLoader loader, int expectedEpoch) {
    Epoch e = new Epoch(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    int index = 0;
    for (Batch b; (b = loader.next()) != null; index++) {
      assertEquals(expectedEpoch, b.epoch());
      assertEquals(index, b.index());
      Tensor im = b.images();
      Tensor lb = b.labels();
      assertArrayEquals(new int[] {b.size(), C, H, W}, im.shape());
      assertArrayEquals(new int[] {b.size()}, lb.shape());
      assertEquals(DType.F32, im.dtype());
      assertEquals(DType.I32, lb.dtype());
      e.indices.add(b.exampleIndices());
      e.images.add(im.toFloatArray());
      e.labels.add(lb.toIntArray());
      e.sizes.add(b.size());
    }
    assertEquals(loader.batchesPerEpoch(), index);
    return e;
  }

  @Test
  void evalGoesInOrderAndKeepsThePartialBatch() {
    Dataset d = dataset(10);
    try (BatchLoader loader = BatchLoader.forEval(d, 4)) {
      assertEquals(3, loader.batchesPerEpoch());
      for (int ep = 0; ep < 2; ep++) {
        Epoch e = epoch(loader, ep);
        assertEquals(List.of(4, 4, 2), e.sizes);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, e.allIndices());
        for (int bi = 0; bi < 3; bi++) {
          int first = bi * 4;
          int size = e.sizes.get(bi);
          assertArrayEquals(Arrays.copyOfRange(d.images(), first * PER, (first + size) * PER), e.images.get(bi));
          for (int j = 0; j < size; j++) {
            assertEquals(d.label(first + j), e.labels.get(bi)[j]);
          }
        }
      }
    }
  }

  @ParameterizedTest(name = "n={0} batch={1} dropLast={2}")
  @CsvSource({"10, 3, false", "10, 3, true", "12, 4, true", "7, 7, false", "5, 8, false", "33, 5, true"})
  void everyExampleExactlyOncePerEpoch(int n, int batch, boolean dropLast) {
    Dataset d = dataset(n);
    try (BatchLoader loader = BatchLoader.builder(d).batchSize(batch).shuffle(true).seed(11).dropLast(dropLast)
        .augmentation(Augmentation.NONE).prefetch(1).build()) {
      int expectedBatches = dropLast ? n / batch : (n + batch - 1) / batch;
      assertEquals(expectedBatches, loader.batchesPerEpoch());
      for (int ep = 0; ep < 3; ep++) {
        Epoch e = epoch(loader, ep);
        int[] all = e.allIndices();
        int expectedCount = dropLast ? (n / batch) * batch : n;
        assertEquals(expectedCount, all.length);
        int[] sorted = all.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
          assertTrue(sorted[i] != sorted[i - 1], "example " + sorted[i] + " twice in epoch " + ep);
        }
        if (!dropLast) {
          assertEquals(n - 1, sorted[sorted.length - 1]);
        }
        for (int s : e.sizes.subList(0, e.sizes.size() - 1)) {
          assertEquals(batch, s);
        }
        // images and labels belong to the indices
        for (int bi = 0; bi < e.indices.size(); bi++) {
          int[] idx = e.indices.get(bi);
          for (int j = 0; j < idx.length; j++) {
            assertEquals(1000f * idx[j] + 1, e.images.get(bi)[j * PER]);
            assertEquals(d.label(idx[j]), e.labels.get(bi)[j]);
          }
        }
      }
    }
  }

  private static List<Epoch> run(Dataset d, long seed, int epochs, int prefetch) {
    List<Epoch> out = new ArrayList<>();
    try (BatchLoader loader = BatchLoader.builder(d).batchSize(4).shuffle(true).seed(seed)
        .augmentation(new CropFlip(1)).dropLast(true).prefetch(prefetch).build()) {
      for (int ep = 0; ep < epochs; ep++) {
        out.add(epoch(loader, ep));
      }
    }
    return out;
  }

  @Test
  void sameSeedGivesIdenticalBatches() {
    Dataset d = dataset(18);
    List<Epoch> a = run(d, 42, 3, 1);
    List<Epoch> b = run(d, 42, 3, 4);
    for (int ep = 0; ep < 3; ep++) {
      assertArrayEquals(a.get(ep).allIndices(), b.get(ep).allIndices(), "epoch " + ep);
      for (int bi = 0; bi < a.get(ep).images.size(); bi++) {
        assertArrayEquals(a.get(ep).images.get(bi), b.get(ep).images.get(bi), "epoch " + ep + " batch " + bi);
        assertArrayEquals(a.get(ep).labels.get(bi), b.get(ep).labels.get(bi));
      }
    }
    assertFalse(Arrays.equals(a.get(0).allIndices(), a.get(1).allIndices()), "a new order every epoch");
    List<Epoch> c = run(d, 43, 1, 2);
    assertFalse(Arrays.equals(a.get(0).allIndices(), c.get(0).allIndices()), "another seed, another order");
  }

  @Test
  void trainingAppliesCropAndFlipWithTheDatasetPadding() {
    Dataset d = dataset(16);
    int flipped = 0;
    int shifted = 0;
    try (BatchLoader loader = BatchLoader.forTraining(d, 4, 5)) {
      for (int ep = 0; ep < 4; ep++) {
        Epoch e = epoch(loader, ep);
        for (int bi = 0; bi < e.indices.size(); bi++) {
          int[] idx = e.indices.get(bi);
          for (int j = 0; j < idx.length; j++) {
            float[] got = Arrays.copyOfRange(e.images.get(bi), j * PER, (j + 1) * PER);
            float[] src = d.image(idx[j]);
            boolean matched = false;
            for (int oy = 0; oy <= 2 && !matched; oy++) {
              for (int ox = 0; ox <= 2 && !matched; ox++) {
                for (boolean flip : new boolean[] {false, true}) {
                  float[] want = new float[PER];
                  CropFlip.apply(src, 0, want, 0, C, H, W, 1, oy, ox, flip);
                  if (Arrays.equals(want, got)) {
                    matched = true;
                    flipped += flip ? 1 : 0;
                    shifted += oy != 1 || ox != 1 ? 1 : 0;
                    break;
                  }
                }
              }
            }
            assertTrue(matched, "example " + idx[j] + " is a crop/flip of its image");
          }
        }
      }
    }
    assertTrue(flipped > 0 && flipped < 64, "flips: " + flipped);
    assertTrue(shifted > 0, "shifts: " + shifted);
  }

  @Test
  void limitAndEpochs() {
    Dataset d = dataset(10);
    try (BatchLoader loader = BatchLoader.builder(d).batchSize(2).limit(5).epochs(2).shuffle(true).build()) {
      assertEquals(5, loader.examplesPerEpoch());
      assertEquals(3, loader.batchesPerEpoch());
      for (int ep = 0; ep < 2; ep++) {
        int[] all = epoch(loader, ep).allIndices();
        Arrays.sort(all);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, all);
      }
      assertNull(loader.next());
      assertNull(loader.next());
    }
    assertEquals(3, d.limit(3).size());
    assertSame(d, d.limit(10));
    assertEquals(1000f * 2 + 1, d.limit(3).images()[2 * PER]);
  }

  @Test
  void prefetchesAtMostTheGivenNumberOfBatchesAhead() throws Exception {
    Dataset d = dataset(40);
    AtomicInteger done = new AtomicInteger();
    Augmentation counting = (src, so, dst, dO, c, h, w, rng) -> {
      Augmentation.NONE.apply(src, so, dst, dO, c, h, w, rng);
      done.incrementAndGet();
    };
    try (BatchLoader loader = BatchLoader.builder(d).batchSize(2).prefetch(3).augmentation(counting).build()) {
      // 3 + 1 buffers: batches 0..3 filled, then the thread waits
      awaitCount(done, 8);
      assertNotNull(loader.next());
      // the caller holds batch 0 and batches 1..3 are ready: 3 ahead, nothing more
      awaitCount(done, 8);
      assertEquals(1, loader.next().index());
      // batch 0's buffer came back: batch 4 is filled, and again the thread waits
      awaitCount(done, 10);
      assertEquals(2, loader.next().index());
      awaitCount(done, 12);
    }
  }

  /** Waits until the count reaches {@code n}, then checks it stays there (the thread blocks). */
  private static void awaitCount(AtomicInteger count, int n) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (count.get() < n && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    Thread.sleep(100);
    assertEquals(n, count.get());
  }

  @Test
  void closeStopsTheThreadAndFreesTheBatches() throws Exception {
    Dataset d = dataset(40);
    BatchLoader loader = BatchLoader.builder(d).batchSize(2).prefetch(2).build();
    Batch b = loader.next();
    assertNotNull(b);
    Thread.sleep(50); // let the thread fill the queue and block
    assertTrue(loader.threadAlive());
    loader.close();
    assertFalse(loader.threadAlive());
    assertTrue(b.images().isClosed());
    assertThrows(IllegalStateException.class, loader::next);
    loader.close(); // idempotent
    // closing right away, before any batch was taken
    BatchLoader quick = BatchLoader.forTraining(d, 4, 1);
    quick.close();
    assertFalse(quick.threadAlive());
  }

  @Test
  void anExceptionOnTheLoaderThreadSurfaces() {
    Dataset d = dataset(10);
    RuntimeException boom = new IllegalStateException("boom");
    int[] calls = {0};
    Augmentation failing = (src, so, dst, dO, c, h, w, rng) -> {
      if (++calls[0] == 6) {
        throw boom;
      }
      Augmentation.NONE.apply(src, so, dst, dO, c, h, w, rng);
    };
    try (BatchLoader loader = BatchLoader.builder(d).batchSize(4).augmentation(failing).build()) {
      assertNotNull(loader.next());
      DatasetException e = assertThrows(DatasetException.class, loader::next);
      assertSame(boom, e.getCause());
      assertTrue(e.getMessage().contains("boom") && e.getMessage().contains("synthetic"), e.getMessage());
      DatasetException again = assertThrows(DatasetException.class, loader::next);
      assertSame(boom, again.getCause());
    }
  }

  @Test
  void rejectsBadOptions() {
    Dataset d = dataset(5);
    assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(d).build());
    assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(null).batchSize(2).build());
    assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(d).batchSize(2).prefetch(0).build());
    assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(d).batchSize(2).limit(0).build());
    assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder(d).batchSize(2).epochs(0).build());
    assertThrows(IllegalArgumentException.class,
        () -> BatchLoader.builder(d).batchSize(2).augmentation(null).build());
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> BatchLoader.forTraining(d, 6, 0));
    assertTrue(none.getMessage().contains("no batch per epoch"), none.getMessage());
  }

  @Test
  void datasetChecksItsArguments() {
    float[] im = new float[2 * PER];
    assertThrows(IllegalArgumentException.class, () -> new Dataset("x", im, new int[] {0, 7}, C, H, W, 7, null, 0));
    assertThrows(IllegalArgumentException.class, () -> new Dataset("x", im, new int[] {0}, C, H, W, 7, null, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new Dataset("x", im, new int[] {0, 1}, C, H, W, 7, Normalization.identity(3), 0));
    assertThrows(IllegalArgumentException.class, () -> new Dataset("x", im, new int[] {0, 1}, C, H, W, 7, null, -1));
    assertThrows(IllegalArgumentException.class, () -> Normalization.of(new float[] {0}, new float[] {0}));
  }
}
