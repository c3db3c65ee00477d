package org.resnorm.cli;

import java.util.concurrent.Callable;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.CudaSupport;
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
    CudaSupport.Status cuda = CudaSupport.status();
    System.out.println("backends       cpu" + (cuda.usable() ? ", cuda (kernels and C API; the Java executor runs on cpu)"
        : cuda.built() ? "; cuda library built, no usable device" : "; cuda not built"));
    System.out.println("cuda           " + cuda.message());
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
