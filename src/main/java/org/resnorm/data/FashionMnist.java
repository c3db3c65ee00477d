package org.resnorm.data;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fashion-MNIST (and MNIST: same IDX files) reader.
 *
 * <p>Files: {@code train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte},
 * {@code t10k-images-idx3-ubyte}, {@code t10k-labels-idx1-ubyte}, each either raw or gzip
 * (the {@code .gz} name is tried when the raw one is absent; the content is recognised by its
 * gzip magic bytes). IDX is big-endian: images = magic 2051 (0x00000803), count, rows, cols,
 * then count*rows*cols pixel bytes; labels = magic 2049 (0x00000801), count, then count bytes.
 * Checked: magic numbers, positive dimensions, equal counts in the two files, labels in 0..9,
 * the exact length of each file (raw: up front from its size; gzip: as it is decompressed).
 *
 * <p>Pixels become float32 {@code ((p / 255) - mean) / std}. Constants (in [0, 1] units):
 * Fashion-MNIST train set mean 0.2860, std 0.3530; MNIST mean 0.1307, std 0.3081 (the
 * per-pixel statistics of the 60000 training images). The default training crop pads 2 pixels.
 */
public final class FashionMnist {
  private FashionMnist() {}

  /** Where the Debian package dataset-fashion-mnist installs the files. */
  public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");

  public static final int IMAGES_MAGIC = 2051;
  public static final int LABELS_MAGIC = 2049;
  public static final int CLASSES = 10;
  /** Zero padding of the default training crop. */
  public static final int CROP_PADDING = 2;

  /** Fashion-MNIST: mean 0.2860, std 0.3530 of the training pixels scaled to [0, 1]. */
  public static final Normalization FASHION_MNIST_NORMALIZATION =
      Normalization.of(new float[] {0.2860f}, new float[] {0.3530f});
  /** MNIST: mean 0.1307, std 0.3081. */
  public static final Normalization MNIST_NORMALIZATION =
      Normalization.of(new float[] {0.1307f}, new float[] {0.3081f});

  /** The whole split from {@code dir}, Fashion-MNIST normalization. */
  public static Dataset load(Path dir, Split split) {
    return load(dir, split, -1, FASHION_MNIST_NORMALIZATION);
  }

  /** The first {@code limit} examples (all when {@code limit < 0}) of the split, Fashion-MNIST normalization. */
  public static Dataset load(Path dir, Split split, int limit) {
    return load(dir, split, limit, FASHION_MNIST_NORMALIZATION);
  }

  /** The first {@code limit} examples (all when {@code limit < 0}) of the split in {@code dir}. */
  public static Dataset load(Path dir, Split split, int limit, Normalization normalization) {
    if (dir == null || split == null) {
      throw new IllegalArgumentException("dir and split must not be null");
    }
    if (!Files.isDirectory(dir)) {
      throw new DatasetException(dir, Files.exists(dir) ? "is not a directory" : "directory not found");
    }
    String prefix = split == Split.TRAIN ? "train" : "t10k";
    Path images = find(dir, prefix + "-images-idx3-ubyte");
    Path labels = find(dir, prefix + "-labels-idx1-ubyte");
    return read(images, labels, limit, normalization,
        (normalization == MNIST_NORMALIZATION ? "MNIST " : "Fashion-MNIST ") + split.name().toLowerCase());
  }

  /** {@code dir/name} if it exists, else {@code dir/name.gz} if that does, else an error naming both. */
  static Path find(Path dir, String name) {
    Path raw = dir.resolve(name);
    if (Files.exists(raw)) {
      return raw;
    }
    Path gz = dir.resolve(name + ".gz");
    if (Files.exists(gz)) {
      return gz;
    }
    throw new DatasetException(raw, "file not found (nor " + gz.getFileName() + ")");
  }

  /**
   * Reads an IDX image file and its label file (raw or gzip), keeping the first {@code limit}
   * examples (all when {@code limit < 0}). With a limit, a gzip file is not decompressed past the
   * examples taken, so damage after them goes unnoticed (raw files are always size-checked).
   */
  public static Dataset read(Path imagesFile, Path labelsFile, int limit, Normalization normalization, String name) {
    if (normalization == null) {
      throw new IllegalArgumentException("normalization must not be null (use Normalization.identity(1))");
    }
    if (normalization.channels() != 1) {
      throw new IllegalArgumentException("IDX images have 1 channel, normalization has " + normalization.channels());
    }
    if (limit == 0) {
      throw new IllegalArgumentException("limit must be positive (or negative for all), got 0");
    }
    try (DataSource img = DataSource.open(imagesFile); DataSource lab = DataSource.open(labelsFile)) {
      int magic = img.readInt("the IDX header");
      if (magic != IMAGES_MAGIC) {
        throw new DatasetException(imagesFile, "bad magic number " + magic + " (0x" + Integer.toHexString(magic)
            + "), expected " + IMAGES_MAGIC + " (0x00000803) for an IDX image file"
            + (magic == LABELS_MAGIC ? ": this is a label file" : ""));
      }
      int n = img.readInt("the IDX header");
      int rows = img.readInt("the IDX header");
      int cols = img.readInt("the IDX header");
      if (n < 0 || rows <= 0 || cols <= 0 || (long) rows * cols > (1 << 24)) {
        throw new DatasetException(imagesFile, "bad dimensions in the IDX header: count " + n + ", rows " + rows
            + ", cols " + cols);
      }
      int pixels = rows * cols;
      img.expectTotal(16 + (long) n * pixels, "16-byte header + " + n + " images of " + rows + "x" + cols);

      int lmagic = lab.readInt("the IDX header");
      if (lmagic != LABELS_MAGIC) {
        throw new DatasetException(labelsFile, "bad magic number " + lmagic + " (0x" + Integer.toHexString(lmagic)
            + "), expected " + LABELS_MAGIC + " (0x00000801) for an IDX label file"
            + (lmagic == IMAGES_MAGIC ? ": this is an image file" : ""));
      }
      int m = lab.readInt("the IDX header");
      if (m != n) {
        throw new DatasetException(labelsFile, "count mismatch: " + m + " labels, but " + imagesFile + " has " + n
            + " images");
      }
      lab.expectTotal(8 + (long) n, "8-byte header + " + n + " labels");

      int take = limit < 0 ? n : Math.min(n, limit);
      if ((long) take * pixels > Integer.MAX_VALUE - 16) {
        throw new DatasetException(imagesFile, take + " images of " + rows + "x" + cols
            + " do not fit one float[]: use a limit");
      }
      int[] labels = new int[take];
      byte[] lb = new byte[take];
      lab.readFully(lb, 0, take, "the labels");
      for (int i = 0; i < take; i++) {
        labels[i] = lb[i] & 0xff;
        if (labels[i] >= CLASSES) {
          throw new DatasetException(labelsFile, "label " + labels[i] + " of example " + i + " is out of range 0.."
              + (CLASSES - 1));
        }
      }

      float[] images = new float[take * pixels];
      float[] table = normalization.table()[0];
      int chunkImages = Math.max(1, (1 << 16) / pixels);
      byte[] buf = new byte[chunkImages * pixels];
      for (int i = 0; i < take; i += chunkImages) {
        int k = Math.min(chunkImages, take - i);
        img.readFully(buf, 0, k * pixels, "image " + i + (k > 1 ? ".." + (i + k - 1) : ""));
        int base = i * pixels;
        for (int j = 0, len = k * pixels; j < len; j++) {
          images[base + j] = table[buf[j] & 0xff];
        }
      }
      if (take == n) {
        img.expectEnd();
        lab.expectEnd();
      }
      return new Dataset(name, images, labels, 1, rows, cols, CLASSES, normalization, CROP_PADDING);
    }
  }
}
