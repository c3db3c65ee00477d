package org.resnorm.data;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * A dataset file read as a stream, raw or gzip-compressed (recognised by the gzip magic bytes
 * 1f 8b, whatever the name). Every failure becomes a {@link DatasetException} naming the file.
 * Raw files are size-checked up front ({@link #expectTotal}); gzip files are checked as they are
 * decompressed (truncation) and at the end ({@link #expectEnd}, trailing data).
 */
final class DataSource implements Closeable {
  private static final int BUFFER = 1 << 16;

  private final Path path;
  private final boolean gzip;
  private final long fileSize;
  private final InputStream in;
  private long position;
  private long expected = -1;
  private String layout = "";

  private DataSource(Path path, boolean gzip, long fileSize, InputStream in) {
    this.path = path;
    this.gzip = gzip;
    this.fileSize = fileSize;
    this.in = in;
  }

  static DataSource open(Path path) {
    if (path == null) {
      throw new IllegalArgumentException("path must not be null");
    }
    if (Files.isDirectory(path)) {
      throw new DatasetException(path, "is a directory, expected a data file");
    }
    if (!Files.exists(path)) {
      throw new DatasetException(path, "file not found");
    }
    InputStream raw = null;
    try {
      long size = Files.size(path);
      raw = new BufferedInputStream(Files.newInputStream(path), BUFFER);
      raw.mark(2);
      int b0 = raw.read();
      int b1 = raw.read();
      raw.reset();
      boolean gz = b0 == 0x1f && b1 == 0x8b;
      InputStream in = gz ? new GZIPInputStream(raw, BUFFER) : raw;
      return new DataSource(path, gz, size, in);
    } catch (NoSuchFileException e) {
      closeQuietly(raw);
      throw new DatasetException(path, "file not found", e);
    } catch (EOFException | ZipException e) {
      closeQuietly(raw);
      throw new DatasetException(path, "not a valid gzip file (" + e.getMessage() + ")", e);
    } catch (IOException e) {
      closeQuietly(raw);
      throw new DatasetException(path, "cannot read: " + e, e);
    }
  }

  private static void closeQuietly(InputStream s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // already failing
      }
    }
  }

  Path path() {
    return path;
  }

  boolean gzip() {
    return gzip;
  }

  /**
   * The whole (decompressed) content must be {@code total} bytes; {@code layout} describes it
   * for messages ("16-byte header + 60000 images of 28x28"). Raw files are checked now.
   */
  void expectTotal(long total, String layout) {
    this.expected = total;
    this.layout = layout;
    if (!gzip && fileSize != total) {
      throw new DatasetException(path, (fileSize < total ? "truncated" : "too long") + ": expected " + total
          + " bytes (" + layout + "), file has " + fileSize + " bytes");
    }
  }

  /** Reads exactly {@code len} bytes; {@code what} names them for messages ("the IDX header"). */
  void readFully(byte[] b, int off, int len, String what) {
    int done = 0;
    try {
      while (done < len) {
        int r = in.read(b, off + done, len - done);
        if (r < 0) {
          throw truncated(position + done, what, null);
        }
        done += r;
      }
    } catch (EOFException e) {
      throw truncated(position + done, what, e);
    } catch (ZipException e) {
      throw new DatasetException(path, "corrupt gzip data after " + (position + done) + " decompressed bytes ("
          + e.getMessage() + ")", e);
    } catch (IOException e) {
      throw new DatasetException(path, "read error after " + (position + done) + " bytes: " + e, e);
    }
    position += len;
  }

  private DatasetException truncated(long got, String what, Throwable cause) {
    String exp = expected >= 0 ? "expected " + expected + " bytes (" + layout + "), " : "";
    String kind = gzip ? "decompressed data ends" : "file ends";
    return new DatasetException(path, "truncated: " + exp + kind + " after " + got + " bytes, inside " + what, cause);
  }

  /** A big-endian int. */
  int readInt(String what) {
    byte[] b = new byte[4];
    readFully(b, 0, 4, what);
    return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
  }

  /** After the last expected byte: nothing may follow (checked for gzip; raw files were size-checked). */
  void expectEnd() {
    if (!gzip) {
      return;
    }
    try {
      if (in.read() >= 0) {
        throw new DatasetException(path, "too long: trailing data after the expected " + position
            + " decompressed bytes (" + layout + ")");
      }
    } catch (IOException e) {
      throw new DatasetException(path, "corrupt gzip data at the end (" + e.getMessage() + ")", e);
    }
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException ignored) {
      // read-only stream: nothing to lose
    }
  }
}
