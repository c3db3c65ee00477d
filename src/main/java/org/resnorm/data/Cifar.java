package org.resnorm.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * CIFAR-10 / CIFAR-100 binary-version reader.
 *
 * <p>CIFAR-10: {@code data_batch_1.bin} .. {@code data_batch_5.bin} (train, read in that order)
 * and {@code test_batch.bin}; records of 1 label byte (0..9) + 3072 pixel bytes. CIFAR-100:
 * {@code train.bin}, {@code test.bin}; records of 1 coarse label byte (0..19) + 1 fine label
 * byte (0..99) + 3072 pixel bytes; the fine label is used (100 classes). Pixels are 3x32x32,
 * channel-major (1024 red, 1024 green, 1024 blue bytes, each row-major), as the NCHW layout
 * wants. Each file's size must be a non-zero multiple of the record size. {@link #load} takes
 * the files from {@code dir} itself or from the archive's folder inside it
 * ({@code cifar-10-batches-bin}, {@code cifar-100-binary}).
 *
 * <p>Normalization (fb.resnet.torch's CIFAR recipe, 0..255 units, divided by 255): CIFAR-10
 * mean {125.3, 123.0, 113.9}, std {63.0, 62.1, 66.7}; CIFAR-100 mean {129.3, 124.1, 112.4},
 * std {68.2, 65.4, 70.4}. The default training crop pads 4 pixels.
 */
public final class Cifar {
  private Cifar() {}

  public static final int CHANNELS = 3;
  public static final int SIZE = 32;
  public static final int PIXELS = CHANNELS * SIZE * SIZE;
  /** Zero padding of the default training crop. */
  public static final int CROP_PADDING = 4;

  public static final Normalization CIFAR10_NORMALIZATION =
      Normalization.of255(new float[] {125.3f, 123.0f, 113.9f}, new float[] {63.0f, 62.1f, 66.7f});
  public static final Normalization CIFAR100_NORMALIZATION =
      Normalization.of255(new float[] {129.3f, 124.1f, 112.4f}, new float[] {68.2f, 65.4f, 70.4f});

  /** Which CIFAR. */
  public enum Variant {
    CIFAR10("CIFAR-10", 10, 1, "cifar-10-batches-bin"),
    CIFAR100("CIFAR-100", 100, 2, "cifar-100-binary");

    private final String title;
    private final int classes;
    private final int labelBytes;
    private final String archiveFolder;

    Variant(String title, int classes, int labelBytes, String archiveFolder) {
      this.title = title;
      this.classes = classes;
      this.labelBytes = labelBytes;
      this.archiveFolder = archiveFolder;
    }

    public int classes() {
      return classes;
    }

    /** Bytes per record: label byte(s) + 3072. */
    public int recordSize() {
      return labelBytes + PIXELS;
    }

    /** The folder the official binary archive extracts to. */
    public String archiveFolder() {
      return archiveFolder;
    }

    public Normalization normalization() {
      return this == CIFAR10 ? CIFAR10_NORMALIZATION : CIFAR100_NORMALIZATION;
    }

    /** The files of a split, in reading order. */
    public List<String> fileNames(Split split) {
      if (this == CIFAR100) {
        return List.of(split == Split.TRAIN ? "train.bin" : "test.bin");
      }
      if (split == Split.TEST) {
        return List.of("test_batch.bin");
      }
      List<String> names = new ArrayList<>();
      for (int i = 1; i <= 5; i++) {
        names.add("data_batch_" + i + ".bin");
      }
      return List.copyOf(names);
    }

    @Override
    public String toString() {
      return title;
    }
  }

  /** The whole split, with the variant's normalization. */
  public static Dataset load(Path dir, Variant variant, Split split) {
    return load(dir, variant, split, -1);
  }

  /** The first {@code limit} examples (all when {@code limit < 0}), with the variant's normalization. */
  public static Dataset load(Path dir, Variant variant, Split split, int limit) {
    return load(dir, variant, split, limit, variant == null ? null : variant.normalization());
  }

  /** The first {@code limit} examples (all when {@code limit < 0}) of the split found in {@code dir}. */
  public static Dataset load(Path dir, Variant variant, Split split, int limit, Normalization normalization) {
    if (dir == null || variant == null || split == null) {
      throw new IllegalArgumentException("dir, variant and split must not be null");
    }
    if (!Files.isDirectory(dir)) {
      throw new DatasetException(dir, Files.exists(dir) ? "is not a directory" : "directory not found");
    }
    List<String> names = variant.fileNames(split);
    Path base = dir;
    Path nested = dir.resolve(variant.archiveFolder());
    if (!Files.exists(dir.resolve(names.get(0))) && Files.isDirectory(nested)) {
      base = nested;
    }
    List<Path> files = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (String n : names) {
      Path p = base.resolve(n);
      files.add(p);
      if (!Files.isRegularFile(p)) {
        missing.add(n);
      }
    }
    if (!missing.isEmpty()) {
      throw new DatasetException(base, variant + " " + split.name().toLowerCase() + " file(s) not found: "
          + String.join(", ", missing));
    }
    return read(files, variant, limit, normalization, variant + " " + split.name().toLowerCase());
  }

  /**
   * Reads CIFAR binary files in order, keeping the first {@code limit} records in all (all
   * when {@code limit < 0}); every file must exist and have a valid size even when not all are read.
   */
  public static Dataset read(List<Path> files, Variant variant, int limit, Normalization normalization, String name) {
    if (files == null || files.isEmpty() || variant == null) {
      throw new IllegalArgumentException("files must be non-empty and variant non-null");
    }
    if (normalization == null || normalization.channels() != CHANNELS) {
      throw new IllegalArgumentException("a 3-channel normalization is needed, got " + normalization);
    }
    if (limit == 0) {
      throw new IllegalArgumentException("limit must be positive (or negative for all), got 0");
    }
    int record = variant.recordSize();
    long total = 0;
    long[] counts = new long[files.size()];
    for (int f = 0; f < files.size(); f++) {
      Path p = files.get(f);
      if (p == null || !Files.isRegularFile(p)) {
        throw new DatasetException(p, Files.isDirectory(p) ? "is a directory, expected a data file" : "file not found");
      }
      long size;
      try {
        size = Files.size(p);
      } catch (java.io.IOException e) {
        throw new DatasetException(p, "cannot read: " + e, e);
      }
      if (size == 0 || size % record != 0) {
        throw new DatasetException(p, "size " + size + " bytes is not " + (size == 0 ? "a non-zero" : "a")
            + " multiple of the " + variant + " record size " + record + " (" + (record - PIXELS)
            + " label byte(s) + " + PIXELS + " pixel bytes)"
            + (size > record ? ": " + size / record + " records + " + size % record + " stray bytes" : ""));
      }
      counts[f] = size / record;
      total += counts[f];
    }
    long want = limit < 0 ? total : Math.min(total, limit);
    if (want * PIXELS > Integer.MAX_VALUE - 16) {
      throw new DatasetException(files.get(0), want + " CIFAR images do not fit one float[]: use a limit");
    }
    int take = (int) want;
    float[] images = new float[take * PIXELS];
    int[] labels = new int[take];
    float[][] table = normalization.table();
    int plane = SIZE * SIZE;
    int chunk = 64;
    byte[] buf = new byte[chunk * record];
    int at = 0;
    for (int f = 0; f < files.size() && at < take; f++) {
      Path p = files.get(f);
      int inFile = (int) Math.min(counts[f], take - at);
      try (DataSource src = DataSource.open(p)) {
        if (src.gzip()) {
          throw new DatasetException(p, "is gzip-compressed: extract the CIFAR binary files first");
        }
        src.expectTotal(counts[f] * record, counts[f] + " records of " + record + " bytes");
        for (int r = 0; r < inFile; r += chunk) {
          int k = Math.min(chunk, inFile - r);
          src.readFully(buf, 0, k * record, "record " + r + (k > 1 ? ".." + (r + k - 1) : ""));
          for (int j = 0; j < k; j++) {
            int o = j * record;
            if (variant == Variant.CIFAR100) {
              int coarse = buf[o] & 0xff;
              if (coarse >= 20) {
                throw new DatasetException(p, "coarse label " + coarse + " of record " + (r + j)
                    + " is out of range 0..19");
              }
            }
            int label = buf[o + record - PIXELS - 1] & 0xff;
            if (label >= variant.classes()) {
              throw new DatasetException(p, (variant == Variant.CIFAR100 ? "fine label " : "label ") + label
                  + " of record " + (r + j) + " is out of range 0.." + (variant.classes() - 1));
            }
            labels[at] = label;
            int px = o + record - PIXELS;
            int dst = at * PIXELS;
            for (int c = 0; c < CHANNELS; c++) {
              float[] t = table[c];
              int s = px + c * plane;
              int d = dst + c * plane;
              for (int i = 0; i < plane; i++) {
                images[d + i] = t[buf[s + i] & 0xff];
              }
            }
            at++;
          }
        }
      }
    }
    return new Dataset(name, images, labels, CHANNELS, SIZE, SIZE, variant.classes(), normalization, CROP_PADDING);
  }
}
