package org.resnorm.train;

import java.util.Arrays;
import java.util.Locale;

/**
 * The learning rate of each optimizer step. Schedules (by their command-line names):
 * <ul>
 *   <li>{@code cifar}: the paper's CIFAR recipe, base / 10 at 50 % and 75 % of the epochs: from
 *       0-based epoch E/2 - 1 and 3E/4 - 1 on (integer division), i.e. PyTorch
 *       {@code MultiStepLR(milestones=[81, 122])} for the paper's 164 epochs; runs of under 4
 *       epochs keep the base LR;
 *   <li>{@code imagenet}: base / 10 every 30 epochs;
 *   <li>{@code step:E1,E2,...}: base / 10 at each listed epoch (0-based: from epoch E1 on);
 *   <li>{@code cosine}: per step, base / 2 (1 + cos(pi t / T)) over all T steps of the run;
 *   <li>{@code const}: the base LR throughout.
 * </ul>
 * Immutable.
 */
public final class LrSchedule {
  private enum Kind {
    CIFAR,
    IMAGENET,
    STEP,
    COSINE,
    CONST
  }

  private final Kind kind;
  private final float base;
  private final int epochs;
  private final int[] milestones;

  private LrSchedule(Kind kind, float base, int epochs, int[] milestones) {
    if (!(base > 0) || !Float.isFinite(base)) {
      throw new IllegalArgumentException("the learning rate must be a positive number, got " + base);
    }
    if (epochs < 1) {
      throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
    }
    this.kind = kind;
    this.base = base;
    this.epochs = epochs;
    this.milestones = milestones;
  }

  /** Parses a schedule name (see the class comment) for a run of {@code epochs} epochs from {@code base}. */
  public static LrSchedule parse(String name, float base, int epochs) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    if (n.startsWith("step:")) {
      int[] m;
      try {
        m = Arrays.stream(n.substring(5).split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad schedule '" + name + "': expected step:E1,E2,... with epoch numbers");
      }
      for (int i = 0; i < m.length; i++) {
        if (m[i] < 1 || (i > 0 && m[i] <= m[i - 1])) {
          throw new IllegalArgumentException("bad schedule '" + name + "': the epochs must be increasing and >= 1");
        }
      }
      return new LrSchedule(Kind.STEP, base, epochs, m);
    }
    return switch (n) {
      case "cifar" -> new LrSchedule(Kind.CIFAR, base, epochs, null);
      case "imagenet" -> new LrSchedule(Kind.IMAGENET, base, epochs, null);
      case "cosine" -> new LrSchedule(Kind.COSINE, base, epochs, null);
      case "const" -> new LrSchedule(Kind.CONST, base, epochs, null);
      default -> throw new IllegalArgumentException("unknown schedule '" + name
          + "': expected cifar, imagenet, step:E1,E2,..., cosine or const");
    };
  }

  public float base() {
    return base;
  }

  /** The same schedule from another base LR (the paper's "halve the LR until training is feasible"). */
  public LrSchedule withBase(float newBase) {
    return new LrSchedule(kind, newBase, epochs, milestones);
  }

  /** The LR of step {@code step} (0-based) of epoch {@code epoch} (0-based) of epochs of {@code stepsPerEpoch} steps. */
  public float lr(int epoch, int step, int stepsPerEpoch) {
    return switch (kind) {
      case CONST -> base;
      case COSINE -> {
        double t = (double) epoch * stepsPerEpoch + step;
        yield (float) (base * 0.5 * (1 + Math.cos(Math.PI * t / ((double) epochs * stepsPerEpoch))));
      }
      case CIFAR -> epochs < 4 ? base
          : decayed((epoch >= epochs / 2 - 1 ? 1 : 0) + (epoch >= epochs * 3 / 4 - 1 ? 1 : 0));
      case IMAGENET -> decayed(epoch / 30);
      case STEP -> {
        int drops = 0;
        for (int m : milestones) {
          drops += epoch >= m ? 1 : 0;
        }
        yield decayed(drops);
      }
    };
  }

  private float decayed(int drops) {
    return (float) (base * Math.pow(0.1, drops));
  }

  @Override
  public String toString() {
    return kind == Kind.STEP ? "step:" + Arrays.toString(milestones).replaceAll("[\\[\\] ]", "")
        : kind.name().toLowerCase(Locale.ROOT);
  }
}
