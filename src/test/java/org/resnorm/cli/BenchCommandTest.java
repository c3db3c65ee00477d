package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The bench command on a tiny network: it runs, reports what it promises, and rejects bad flags. */
class BenchCommandTest {
  /** Runs the CLI, checks its exit code, returns what it printed on standard error. */
  static String captureErr(int expectedExit, String... args) {
    PrintStream old = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = Main.run(args);
    } finally {
      System.setErr(old);
    }
    String err = buf.toString(StandardCharsets.UTF_8);
    assertEquals(expectedExit, code, String.join(" ", args) + "\n" + err);
    return err;
  }

  static String captureOut(int expectedExit, String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertEquals(expectedExit, Main.run(args), String.join(" ", args));
    } finally {
      System.setOut(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  @Test
  void reportsThroughputMemoryAndProfile() {
    String out = captureOut(0, "bench", "--depth", "8", "--widths", "4,8,8", "--batch", "4", "--size", "9",
        "--steps", "3", "--warmup", "1", "--profile", "--no-ceiling", "--threads", "2", "--rss-every", "1");
    for (String expected : new String[] {"training:", "inference:", "peak resident", "GFLOP/step", "conv forward",
        "conv backward-data", "batchnorm(+act) backward", "sgd update", "step 3: resident"}) {
      assertTrue(out.contains(expected), expected + " in\n" + out);
    }
    // depth 8: stem + 3 blocks x 2 convs = 7 convs per step, the stem has no backward-data
    assertTrue(out.matches("(?s).*conv forward\\s+\\S+\\s+\\S+%\\s+7\\n.*"), out);
    assertTrue(out.matches("(?s).*conv backward-data\\s+\\S+\\s+\\S+%\\s+6\\n.*"), out);
    String np = captureOut(0, "bench", "--depth", "8", "--widths", "4,8,8", "--batch", "4", "--size", "9",
        "--steps", "1", "--warmup", "0", "--norm", "normprop2", "--act", "relu", "--profile", "--no-ceiling");
    assertTrue(np.contains("weight-norm conv(+act) backward"), np);
    String in = captureOut(0, "bench", "--arch", "imagenet", "--depth", "50", "--widths", "4,4,8,8", "--size", "32",
        "--batch", "2", "--classes", "5", "--steps", "1", "--warmup", "0", "--no-ceiling", "--profile");
    assertTrue(in.contains("ResNet-50 imagenet") && in.contains("training:"), in);
  }

  @Test
  void badFlagsExitNonZero() {
    // exit code and a message naming what was wrong (not some other failure on the way)
    assertTrue(captureErr(1, "bench", "--steps", "0").contains("--steps >= 1"));
    assertTrue(captureErr(1, "bench", "--depth", "21").contains("got 21"));
    assertTrue(captureErr(1, "bench", "--arch", "alexnet").contains("'alexnet'"));
    assertTrue(captureErr(1, "bench", "--act", "tanh").contains("'tanh'"));
    assertTrue(captureErr(2, "bench", "--batch", "lots").contains("'lots'"));
  }
}
