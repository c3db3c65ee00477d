package org.resnorm.data;

import java.nio.file.Path;

/**
 * A dataset file or directory is missing, unreadable or not in the expected format, or the
 * background batch loader failed. The message names the file (when there is one) and what is
 * wrong with it, e.g. {@code ".../train-images-idx3-ubyte: truncated: expected 47040016 bytes
 * (16-byte header + 60000 images of 28x28), file has 47040000 bytes"}.
 */
public class DatasetException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public DatasetException(String message) {
    this(null, message, null);
  }

  public DatasetException(String message, Throwable cause) {
    this(null, message, cause);
  }

  public DatasetException(Path file, String problem) {
    this(file, problem, null);
  }

  public DatasetException(Path file, String problem, Throwable cause) {
    super(file == null ? problem : file + ": " + problem, cause);
    this.file = file;
  }

  /** The offending file or directory, or null when the problem is not about one file. */
  public Path file() {
    return file;
  }
}
