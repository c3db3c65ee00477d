package org.resnorm.cli;

import org.resnorm.core.Engine;
import picocli.CommandLine.Option;

/** --device and --conv-impl, shared by train, eval and bench (a picocli mixin). */
final class DeviceOptions {
  @Option(names = "--device", defaultValue = "cpu",
      description = "cpu (default) or cuda: cuda needs a build with the CUDA library, a driver and a device.")
  Device device = Device.cpu;

  @Option(names = "--conv-impl", description = "With --device cuda: native (default, resnorm's kernels) or "
      + "cudnn (cuDNN's fastest algorithm for the plain convs; cuDNN 9 loaded at run time).")
  String convImpl;

  boolean cuda() {
    return device == Device.cuda;
  }

  /** Fails early, before any data is read, when the device cannot be used here. */
  void require() {
    device.require();
  }

  /** The engine to run on ({@code threads}: the CPU pool's size, null for all CPUs). */
  Engine engine(Integer threads) {
    return device.engine(threads, convImpl);
  }
}
