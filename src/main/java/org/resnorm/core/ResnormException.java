package org.resnorm.core;

/** A native kernel reported a failure that Java-side checks could not have prevented. */
public class ResnormException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public ResnormException(String message) {
    super(message);
  }
}
