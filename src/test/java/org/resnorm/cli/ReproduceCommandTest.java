package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Table 2 grid runner: cells, medians, the paper's numbers, resuming, not rerunning. */
class ReproduceCommandTest {
  @Test
  void runsTheGridResumesAndWritesTheTable(@TempDir Path dir) throws IOException {
    TrainCommandTest.writeIdx(dir, "train", 48, 1);
    TrainCommandTest.writeIdx(dir, "t10k", 16, 2);
    Path out = dir.resolve("t2");
    // an interrupted cell: 1 of 2 epochs done
    Path cell = out.resolve("cells").resolve("plain-crelu-16-32-64-seed1");
    assertEquals(0, Main.run("train", "--data", dir.toString(), "--depth", "8", "--widths", "16,32,64", "--norm",
        "plain", "--act", "crelu", "--epochs", "2", "--batch", "16", "--seed", "1", "--auto-lr-halving",
        "--log-every", "0", "--out", cell.toString(), "--stop-after", "1", "--threads", "2"));
    String[] args = {"reproduce", "--table", "2", "--data", dir.toString(), "--depth", "8", "--epochs", "2", "--seeds",
        "2", "--batch", "16", "--threads", "2", "--rows", "batchnorm-relu-16-32-64,plain-crelu-16-32-64", "--out",
        out.toString()};
    String first = BenchCommandTest.captureOut(0, args);
    assertTrue(first.contains("plain crelu 16-32-64, seed 1: resuming after epoch 1"), first);
    assertTrue(first.contains("batchnorm relu 16-32-64, seed 2: training"), first);
    String md = Files.readString(out.resolve("table2.md"));
    assertTrue(md.contains("| batchnorm | relu | 16-32-64 |"), md);
    assertTrue(md.contains("| **6.35** | 27.46 |"), "the paper's numbers beside ours: " + md);
    assertTrue(md.contains("| plain | crelu | 16-32-64 |") && md.contains("**6.86**"), md);
    for (String c : new String[] {"batchnorm-relu-16-32-64-seed1", "batchnorm-relu-16-32-64-seed2",
        "plain-crelu-16-32-64-seed2"}) {
      assertEquals(2, Files.readAllLines(out.resolve("cells").resolve(c).resolve("metrics.jsonl")).size(), c);
    }
    // a finished grid is not rerun
    String second = BenchCommandTest.captureOut(0, args);
    assertFalse(second.contains("training") || second.contains("resuming"), second);
    assertEquals(md, Files.readString(out.resolve("table2.md")));
    // bad input: the exit code and a message naming what was wrong
    assertTrue(BenchCommandTest.captureErr(1, "reproduce", "--table", "4", "--out", out.toString())
        .contains("--table must be 1, 2 or 3"));
    assertTrue(BenchCommandTest.captureErr(1, "reproduce", "--table", "0", "--out", out.toString())
        .contains("--table must be 1, 2 or 3"));
    assertTrue(BenchCommandTest.captureErr(1, "reproduce", "--table", "2", "--rows", "layernorm-relu", "--data",
        dir.toString(), "--out", out.toString()).contains("unknown row in --rows [layernorm-relu]"));
    assertTrue(BenchCommandTest.captureErr(1, "reproduce", "--table", "2", "--data", dir.resolve("missing").toString(),
        "--out", out.toString()).contains("missing: directory not found"));
  }

  @Test
  void tableOneReportsTheLastActivationBesideThePapers(@TempDir Path dir) throws IOException {
    TrainCommandTest.writeIdx(dir, "train", 32, 1);
    TrainCommandTest.writeIdx(dir, "t10k", 12, 2);
    Path out = dir.resolve("t1");
    assertEquals(0, Main.run("reproduce", "--table", "1", "--data", dir.toString(), "--depth", "8", "--epochs", "1",
        "--seeds", "1", "--batch", "16", "--threads", "2", "--samples", "10", "--rows",
        "batchnorm-crelu-16-32-64,normprop-relu-16-32-64", "--out", out.toString()));
    String md = Files.readString(out.resolve("table1.md"));
    assertTrue(md.contains("statistics over the first 10 test images"), md);
    assertTrue(md.matches("(?s).*\\| batchnorm \\| crelu \\| [0-9.]+ ± [0-9.]+ \\| 0\\.[0-9]+ \\| [0-9.]+ \\| "
        + "1\\.94 ± 1\\.99 \\| 0\\.50 \\|.*"), md);
    assertTrue(md.contains("| normprop | relu |") && md.contains("28.68 ± 33.58 | 0.21 |"), md);
  }

  @Test
  void medianCountsDivergedRunsAsWorst() {
    assertEquals("2.00", ReproduceCommand.median(new double[] {3, 1, 2}));
    assertEquals("2.50", ReproduceCommand.median(new double[] {3, 1, 2, 4}));
    assertEquals("3.00", ReproduceCommand.median(new double[] {Double.NaN, 1, 3}));
    assertEquals("diverged", ReproduceCommand.median(new double[] {Double.NaN, Double.NaN, 3}));
  }
}
