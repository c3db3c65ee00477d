package org.resnorm.model;

import java.util.Arrays;
import org.resnorm.ops.Act;

/**
 * The paper's networks (paper-summary.md, "Networks"):
 * <ul>
 *   <li>CIFAR: depth 6n+2, a 3x3 stem of widths[0] channels, three stages of n basic blocks
 *       (widths 16-32-64 by default; stride 2 at the start of stages 2 and 3), global average
 *       pool, linear; shortcut A by default.
 *   <li>ImageNet: ResNet-18/34 (basic blocks {2,2,2,2} / {3,4,6,3}) and 50/101/152 (bottleneck,
 *       {3,4,6,3} / {3,4,23,3} / {3,8,36,3}, stride in the 3x3 conv), 7x7/2 stem of 64 + max
 *       pool 3x3/2, widths 64-128-256-512 (bottleneck outputs 4x), shortcut B.
 * </ul>
 * {@code act} is the activation inside the blocks (ReLU, or CReLU at the paper's places: after
 * the first conv of a basic block, after the first two of a bottleneck); the stem and the
 * activation after the residual addition are always ReLU.
 */
public record ResNetConfig(Arch arch, int depth, int[] widths, Norm norm, Act act, Shortcut shortcut, int inChannels,
    int classes) {

  public enum Arch {
    CIFAR,
    IMAGENET;

    /** The architecture named on a command line: {@code cifar} or {@code imagenet} (any case). */
    public static Arch parse(String name) {
      return switch (name == null ? "" : name.toLowerCase(java.util.Locale.ROOT)) {
        case "cifar" -> CIFAR;
        case "imagenet" -> IMAGENET;
        default -> throw new IllegalArgumentException("unknown --arch '" + name + "': expected cifar or imagenet");
      };
    }
  }

  public ResNetConfig {
    if (arch == null || norm == null || act == null || shortcut == null || widths == null) {
      throw new IllegalArgumentException("arch, widths, norm, act and shortcut must not be null");
    }
    if (act == Act.NONE) {
      throw new IllegalArgumentException("act must be RELU or CRELU");
    }
    widths = widths.clone();
    for (int w : widths) {
      if (w <= 0) {
        throw new IllegalArgumentException("widths must be positive, got " + Arrays.toString(widths));
      }
    }
    if (inChannels <= 0 || classes <= 1) {
      throw new IllegalArgumentException("inChannels must be >= 1 and classes >= 2, got " + inChannels + ", "
          + classes);
    }
    if (arch == Arch.CIFAR) {
      if (depth < 8 || (depth - 2) % 6 != 0) {
        throw new IllegalArgumentException("CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 20, 32, 44, 56, 110, "
            + "1202, ...), got " + depth);
      }
      if (widths.length != 3) {
        throw new IllegalArgumentException("CIFAR ResNets have 3 stage widths, got " + Arrays.toString(widths));
      }
    } else {
      if (imagenetStages(depth) == null) {
        throw new IllegalArgumentException("ImageNet ResNet depth must be 18, 34, 50, 101 or 152, got " + depth);
      }
      if (widths.length != 4) {
        throw new IllegalArgumentException("ImageNet ResNets have 4 stage widths, got " + Arrays.toString(widths));
      }
    }
  }

  /** CIFAR ResNet, widths 16-32-64, 3 input channels, shortcut A. */
  public static ResNetConfig cifar(int depth, Norm norm, Act act, int classes) {
    return new ResNetConfig(Arch.CIFAR, depth, new int[] {16, 32, 64}, norm, act, Shortcut.A, 3, classes);
  }

  /** ImageNet ResNet, widths 64-128-256-512, 3 input channels, shortcut B. */
  public static ResNetConfig imagenet(int depth, Norm norm, Act act, int classes) {
    return new ResNetConfig(Arch.IMAGENET, depth, new int[] {64, 128, 256, 512}, norm, act, Shortcut.B, 3, classes);
  }

  public ResNetConfig withWidths(int... w) {
    return new ResNetConfig(arch, depth, w, norm, act, shortcut, inChannels, classes);
  }

  public ResNetConfig withShortcut(Shortcut s) {
    return new ResNetConfig(arch, depth, widths, norm, act, s, inChannels, classes);
  }

  public ResNetConfig withInChannels(int c) {
    return new ResNetConfig(arch, depth, widths, norm, act, shortcut, c, classes);
  }

  @Override
  public int[] widths() {
    return widths.clone();
  }

  /** Blocks per stage. */
  public int[] blocksPerStage() {
    return arch == Arch.CIFAR ? new int[] {(depth - 2) / 6, (depth - 2) / 6, (depth - 2) / 6} : imagenetStages(depth);
  }

  /** Bottleneck blocks (ImageNet ResNet-50 and deeper) rather than basic blocks. */
  public boolean bottleneck() {
    return arch == Arch.IMAGENET && depth >= 50;
  }

  static int[] imagenetStages(int depth) {
    return switch (depth) {
      case 18 -> new int[] {2, 2, 2, 2};
      case 34, 50 -> new int[] {3, 4, 6, 3};
      case 101 -> new int[] {3, 4, 23, 3};
      case 152 -> new int[] {3, 8, 36, 3};
      default -> null;
    };
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ResNetConfig c && c.arch == arch && c.depth == depth && Arrays.equals(c.widths, widths)
        && c.norm == norm && c.act == act && c.shortcut == shortcut && c.inChannels == inChannels
        && c.classes == classes;
  }

  @Override
  public int hashCode() {
    return (arch.hashCode() * 31 + depth) * 31 + Arrays.hashCode(widths);
  }

  @Override
  public String toString() {
    return "ResNet-" + depth + " " + arch.name().toLowerCase(java.util.Locale.ROOT) + " widths "
        + Arrays.toString(widths) + " " + norm.cliName() + " " + act.name().toLowerCase(java.util.Locale.ROOT)
        + " shortcut " + shortcut + " (" + inChannels + " -> " + classes + ")";
  }
}
