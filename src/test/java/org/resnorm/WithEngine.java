package org.resnorm;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.resnorm.core.Engine;

/**
 * Base of the op tests: one two-thread engine per test class (two threads, so the threaded
 * paths run even where the tests see one CPU), closed after the class.
 */
public abstract class WithEngine {
  protected static Engine engine;

  @BeforeAll
  static void openEngine() {
    engine = Engine.create(2);
  }

  @AfterAll
  static void closeEngine() {
    engine.close();
  }
}
