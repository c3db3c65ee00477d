package org.resnorm.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file is not a valid safetensors file: too short, bad header length, invalid JSON, a missing
 * or ill-typed field, an unknown dtype, offsets outside the buffer or not contiguous, a shape
 * that does not match its byte span, a duplicate name... The message names the file and the
 * problem.
 */
public class CheckpointFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public CheckpointFormatException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public CheckpointFormatException(Path file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }
}
