package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.core.CudaSupport;

/**
 * --device and the CUDA probe: on any machine (with or without the CUDA library, a driver or a
 * GPU) the probe answers without throwing and info reports it; without usable CUDA, --device cuda
 * ends with a one-line reason and exit code 1, never a crash; with it (a GPU, or the emulated
 * library: .ci/run) a small bench runs on it; a device name that does not exist is a usage error.
 */
class DeviceOptionTest {

  @Test
  void probeAnswersWithoutThrowing() {
    CudaSupport.Status s = CudaSupport.status();
    assertFalse(s.message().isEmpty());
    if (!s.built()) {
      assertFalse(s.usable());
      assertTrue(s.message().contains("not built"), s.message());
    } else if (!s.usable()) {
      assertEquals(0, s.devices());
      assertTrue(s.message().startsWith("built"), s.message());
    } else {
      assertFalse(s.deviceName().isEmpty(), "a usable device has a name");
    }
    String info = BenchCommandTest.captureOut(0, "info");
    assertTrue(info.contains("cuda           " + s.message()), info);
  }

  @Test
  void deviceCudaFailsWithAReasonWhereThereIsNoCuda() {
    assumeFalse(CudaSupport.status().usable(), "CUDA is usable here: see benchRunsOnCuda");
    // checked before anything else runs (eval's checkpoint is not even opened)
    for (String[] args : new String[][] {{"bench", "--device", "cuda"}, {"train", "--device", "cuda"},
        {"eval", "--checkpoint", "none.safetensors", "--device", "cuda"}}) {
      String err = BenchCommandTest.captureErr(1, args);
      assertTrue(err.startsWith("error: --device cuda: "), args[0] + ": " + err);
      assertEquals(1, err.strip().lines().count(), args[0] + ": one line: " + err);
    }
  }

  /** Where CUDA is usable (a GPU, or the emulated library in this JVM): a tiny bench runs on it. */
  @Test
  void benchRunsOnCuda() {
    assumeTrue(CudaSupport.status().usable(), "no usable CUDA: " + CudaSupport.status().message());
    String out = BenchCommandTest.captureOut(0, "bench", "--device", "cuda", "--depth", "8", "--widths", "2,4,4",
        "--batch", "2", "--size", "8", "--steps", "1", "--warmup", "0");
    assertTrue(out.contains("engine: cuda:0"), out);
    assertTrue(out.contains("training:") && out.contains("inference:"), out);
    String profiled = BenchCommandTest.captureOut(0, "bench", "--device", "cuda", "--depth", "8", "--widths",
        "2,4,4", "--batch", "2", "--size", "8", "--steps", "2", "--warmup", "0", "--profile");
    assertTrue(profiled.contains("the device synchronized around every op"), profiled);
    assertTrue(profiled.contains("conv backward-filter") && profiled.contains("sgd update"), profiled);
    String err = BenchCommandTest.captureErr(1, "bench", "--device", "cuda", "--threads", "2");
    assertTrue(err.contains("--threads sets the CPU pool"), err);
  }

  /**
   * Where CUDA is usable: a run trained with --device cuda writes its metrics and checkpoint, and
   * the checkpoint evaluates to the same accuracy on the CPU and on CUDA.
   */
  @Test
  void trainAndEvalRunOnCuda(@TempDir Path dir) throws IOException {
    assumeTrue(CudaSupport.status().usable(), "no usable CUDA: " + CudaSupport.status().message());
    TrainCommandTest.writeIdx(dir, "train", 32, 1);
    TrainCommandTest.writeIdx(dir, "t10k", 16, 2);
    Path run = dir.resolve("run");
    String out = BenchCommandTest.captureOut(0, "train", "--device", "cuda", "--data", dir.toString(), "--depth", "8",
        "--widths", "2,4,4", "--batch", "8", "--epochs", "1", "--log-every", "0", "--out", run.toString());
    assertTrue(out.contains("engine: cuda:0"), out);
    assertEquals(1, Files.readAllLines(run.resolve("metrics.jsonl")).size());
    String checkpoint = run.resolve("checkpoint.safetensors").toString();
    String onCpu = BenchCommandTest.captureOut(0, "eval", "--checkpoint", checkpoint, "--data", dir.toString(),
        "--batch", "8", "--threads", "2");
    String onCuda = BenchCommandTest.captureOut(0, "eval", "--device", "cuda", "--checkpoint", checkpoint, "--data",
        dir.toString(), "--batch", "8");
    java.util.regex.Matcher a = java.util.regex.Pattern.compile("top-1 accuracy (\\S+)").matcher(onCpu);
    java.util.regex.Matcher b = java.util.regex.Pattern.compile("top-1 accuracy (\\S+)").matcher(onCuda);
    assertTrue(a.find() && b.find(), onCpu + "\n" + onCuda);
    assertEquals(a.group(1), b.group(1), "the same checkpoint, evaluated on CPU and CUDA");
  }

  /**
   * train --graph: where the runtime records graphs (a GPU) the steps replay one; on the host
   * emulation it says so and stays eager. Either way the run's losses are those of the eager run.
   */
  @Test
  void trainWithGraphsTrainsLikeEagerSteps(@TempDir Path dir) throws IOException {
    assertTrue(BenchCommandTest.captureErr(1, "train", "--graph", "--data", dir.toString()).contains("--graph needs --device cuda"));
    assumeTrue(CudaSupport.status().usable(), "no usable CUDA: " + CudaSupport.status().message());
    TrainCommandTest.writeIdx(dir, "train", 32, 1);
    TrainCommandTest.writeIdx(dir, "t10k", 8, 2);
    String[] common = {"train", "--device", "cuda", "--data", dir.toString(), "--depth", "8", "--widths", "2,4,4",
        "--batch", "8", "--epochs", "1", "--schedule", "const", "--log-every", "0"};
    Path eager = dir.resolve("eager");
    Path graphs = dir.resolve("graphs");
    String[] a = java.util.Arrays.copyOf(common, common.length + 2);
    a[common.length] = "--out";
    a[common.length + 1] = eager.toString();
    BenchCommandTest.captureOut(0, a);
    String[] b = java.util.Arrays.copyOf(common, common.length + 3);
    b[common.length] = "--graph";
    b[common.length + 1] = "--out";
    b[common.length + 2] = graphs.toString();
    BenchCommandTest.captureOut(0, b);
    String loss = ".*\"train_loss\":([^,]*).*";
    assertEquals(Files.readAllLines(eager.resolve("metrics.jsonl")).get(0).replaceAll(loss, "$1"),
        Files.readAllLines(graphs.resolve("metrics.jsonl")).get(0).replaceAll(loss, "$1"),
        "train loss with and without --graph");
  }

  @Test
  void convImplCudnnNeedsCudaAndCudnn() {
    String err = BenchCommandTest.captureErr(1, "bench", "--conv-impl", "cudnn", "--depth", "8");
    assertTrue(err.contains("--conv-impl cudnn needs --device cuda"), err);
    if (CudaSupport.status().usable()) {
      // with cuDNN present the bench runs; without it (the emulation) the reason is given
      boolean cudnn = !CudaSupport.status().message().contains("cuDNN not loaded");
      String e = BenchCommandTest.captureErr(cudnn ? 0 : 1, "bench", "--device", "cuda", "--conv-impl", "cudnn",
          "--depth", "8", "--widths", "2,2,2", "--batch", "2", "--size", "8", "--steps", "1", "--warmup", "0");
      assertTrue(cudnn || e.contains("--conv-impl cudnn: cuDNN cannot be loaded"), e);
    }
  }

  @Test
  void unknownDeviceIsAUsageError() {
    String err = BenchCommandTest.captureErr(2, "bench", "--device", "gpu");
    assertTrue(err.contains("expected one of [cpu, cuda]"), err);
  }
}
