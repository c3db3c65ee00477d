package org.resnorm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.resnorm.core.CudaSupport;

/**
 * --device and the CUDA probe: on any machine (with or without the CUDA library, a driver or a
 * GPU) the probe answers without throwing, info reports it, and --device cuda ends with a
 * one-line reason and exit code 1 (the Java executor runs on the CPU), never a crash; a device
 * name that does not exist is a usage error (2).
 */
class DeviceOptionTest {
  private static String captureErr(int expectedExit, String... args) {
    PrintStream old = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      assertEquals(expectedExit, Main.run(args), String.join(" ", args));
    } finally {
      System.setErr(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

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
  void deviceCudaFailsWithAReason() {
    // checked before anything else runs (eval's checkpoint is not even opened)
    for (String[] args : new String[][] {{"bench", "--device", "cuda"}, {"train", "--device", "cuda"},
        {"eval", "--checkpoint", "none.safetensors", "--device", "cuda"}}) {
      String err = captureErr(1, args);
      assertTrue(err.startsWith("error: --device cuda: "), args[0] + ": " + err);
      assertEquals(1, err.strip().lines().count(), args[0] + ": one line: " + err);
    }
  }

  @Test
  void unknownDeviceIsAUsageError() {
    String err = captureErr(2, "bench", "--device", "gpu");
    assertTrue(err.contains("expected one of [cpu, cuda]"), err);
  }
}
