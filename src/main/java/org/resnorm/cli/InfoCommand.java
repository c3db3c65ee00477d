package org.resnorm.cli;

import java.util.concurrent.Callable;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Engine;
import org.resnorm.core.Isa;
import picocli.CommandLine.Command;

/** Prints versions, backends, CPU features and threads. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Versions, backends, CPU features, threads.")
final class InfoCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    ResnormNative.load();
    System.out.println("resnorm        " + ResnormNative.rn_version());
    System.out.println("java           " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    System.out.println("compiler       " + ResnormNative.rn_compiler());
    System.out.println("openblas       " + ResnormNative.rn_openblas_version() + " (core: "
        + ResnormNative.rn_openblas_corename() + "; pinned to 1 thread, parallelism is resnorm's pool)");
    boolean cudaPackaged = ResnormNative.class.getResource("linux-x86_64/libresnorm_cuda.so") != null;
    System.out.println("backends       cpu; cuda library " + (cudaPackaged
        ? "packaged (its kernels arrive with the CUDA backend)"
        : "not built (mvn -Dresnorm.cuda=ON with nvcc on PATH)"));
    StringBuilder isas = new StringBuilder();
    for (Isa isa : Isa.values()) {
      isas.append(isa.name().toLowerCase()).append(isa.supported() ? "+ " : "- ");
    }
    System.out.println("cpu isa        " + isas.toString().trim() + " (best: " + Isa.best().name().toLowerCase() + ")");
    System.out.println("cpus           " + ResnormNative.rn_cpu_count());
    try (Engine e = Engine.create()) {
      System.out.println("engine         " + e.threads() + " threads, isa " + e.isa().name().toLowerCase()
          + " (set resnorm.threads / RESNORM_THREADS, resnorm.isa / RESNORM_ISA)");
    }
    return 0;
  }
}
