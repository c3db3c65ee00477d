package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MainTest {
  @Test
  void infoSelfCheckAndBadFlags() {
    assertEquals(0, Main.run("info"));
    assertEquals(0, Main.run("self-check"));
    assertEquals(2, Main.run("--no-such-flag"));
    assertEquals(2, Main.run("bench-kernels", "--batch", "many"));
    assertEquals(1, Main.run("bench-kernels", "--batch", "0"));
    assertEquals(1, Main.run("bench-kernels", "--isa", "sse9", "--no-ceilings", "--case", "0"));
  }

  @Test
  void benchKernelsRunsOnASmallBatch() {
    assertEquals(0, Main.run("bench-kernels", "--batch", "2", "--case", "0,6", "--min-time", "0.01", "--no-ceilings"));
  }
}
