package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
    String out = BenchCommandTest.captureOut(0, "bench-kernels", "--batch", "2", "--case", "0,6", "--min-time", "0.01",
        "--no-ceilings");
    // two cases x three directions; each row: case (two words), dir, algo, ms, GFLOP/s, %, best, %
    List<String> rows = out.lines().filter(l -> l.startsWith("3x3")).toList();
    assertEquals(6, rows.size(), out);
    for (String row : rows) {
      String[] f = row.substring(row.indexOf('@')).trim().split("\\s+");
      assertEquals(8, f.length, row);
      double median = Double.parseDouble(f[4]), best = Double.parseDouble(f[6]);
      assertTrue(median > 0 && best >= median, row);
      assertEquals("-", f[5], row);  // no ceiling measured
      assertEquals("-", f[7], row);
    }
  }

  @Test
  void benchKernelsSummarizesCallTimes() {
    // median = the upper middle of the sorted times, best = the shortest, in any input order
    assertArrayEquals(new double[] {3, 1}, BenchKernelsCommand.medianAndBest(List.of(5.0, 1.0, 3.0)));
    assertArrayEquals(new double[] {4, 2}, BenchKernelsCommand.medianAndBest(List.of(4.0, 8.0, 2.0, 3.0)));
    assertArrayEquals(new double[] {7, 7}, BenchKernelsCommand.medianAndBest(List.of(7.0)));
    assertThrows(IllegalArgumentException.class, () -> BenchKernelsCommand.medianAndBest(List.of()));
    assertEquals("25%", BenchKernelsCommand.percentOf(50, 200));
    assertEquals("-", BenchKernelsCommand.percentOf(50, 0));
  }
}
