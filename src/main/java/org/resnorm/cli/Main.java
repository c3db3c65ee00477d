package org.resnorm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code java -jar resnorm.jar}. */
@Command(
    name = "resnorm",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Residual networks with BatchNorm / NormProp / CReLU on native CPU kernels.",
    subcommands = {TrainCommand.class, EvalCommand.class, AnalyzeCommand.class, BenchCommand.class,
        CheckStepCommand.class, ReproduceCommand.class, InfoCommand.class, SelfCheckCommand.class,
        BenchKernelsCommand.class,
        CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns the exit code (for tests). Bad flags exit with 2, failures with 1. */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      // A clear one-line message instead of a stack trace for the errors users cause.
      if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
          || ex instanceof UnsupportedOperationException || ex instanceof java.io.IOException
          || ex instanceof org.resnorm.data.DatasetException || ex instanceof java.io.UncheckedIOException) {
        cmd.getErr().println("error: " + ex.getMessage());
        return 1;
      }
      throw ex;
    });
    return cl.execute(args);
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"resnorm " + org.resnorm.core.Engine.version()};
    }
  }
}
