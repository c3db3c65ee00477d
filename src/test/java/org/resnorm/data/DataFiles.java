package org.resnorm.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;

/** Writes small dataset files in the exact on-disk formats, for the reader tests. */
final class DataFiles {
  private DataFiles() {}

  /** IDX3 images: magic, n, rows, cols (big-endian), then the pixel bytes. */
  static byte[] idxImages(int magic, int n, int rows, int cols, byte[] pixels) {
    ByteBuffer b = ByteBuffer.allocate(16 + pixels.length); // big-endian by default
    b.putInt(magic).putInt(n).putInt(rows).putInt(cols).put(pixels);
    return b.array();
  }

  /** IDX1 labels: magic, n, then the label bytes. */
  static byte[] idxLabels(int magic, int n, byte[] labels) {
    ByteBuffer b = ByteBuffer.allocate(8 + labels.length);
    b.putInt(magic).putInt(n).put(labels);
    return b.array();
  }

  /** CIFAR records: per example the label byte(s) then 3072 pixel bytes. */
  static byte[] cifarRecords(int[][] labelBytes, byte[][] pixels) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < pixels.length; i++) {
      for (int l : labelBytes[i]) {
        out.write(l);
      }
      out.write(pixels[i], 0, pixels[i].length);
    }
    return out.toByteArray();
  }

  static byte[] gzip(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  static Path write(Path file, byte[] data) {
    try {
      Files.createDirectories(file.getParent());
      return Files.write(file, data);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] cut(byte[] data, int len) {
    return Arrays.copyOf(data, len);
  }

  /** Deterministic pixel bytes covering 0 and 255. */
  static byte[] pixels(int n, int salt) {
    byte[] p = new byte[n];
    for (int i = 0; i < n; i++) {
      p[i] = (byte) ((i * 37 + salt * 11) % 256);
    }
    if (n > 1) {
      p[0] = 0;
      p[n - 1] = (byte) 255;
    }
    return p;
  }
}
