package org.resnorm.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.resnorm.data.Cifar;
import org.resnorm.data.Dataset;
import org.resnorm.data.FashionMnist;
import org.resnorm.data.Split;

/** The in-memory datasets the commands accept by name. */
final class Datasets {
  private Datasets() {}

  /** fashion-mnist (default folder when {@code dir} is null), cifar10 or cifar100 (folder required). */
  static Dataset load(String name, Path dir, Split split, int limit) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "fashion-mnist" -> FashionMnist.load(dir == null ? FashionMnist.DEFAULT_DIR : dir, split, limit);
      case "cifar10", "cifar100" -> {
        if (dir == null) {
          throw new IllegalArgumentException("--data is required for " + name
              + " (the folder of the binary version's .bin files)");
        }
        yield Cifar.load(dir, name.equalsIgnoreCase("cifar10") ? Cifar.Variant.CIFAR10 : Cifar.Variant.CIFAR100, split,
            limit);
      }
      default -> throw new IllegalArgumentException("unknown dataset '" + name
          + "': expected fashion-mnist, cifar10 or cifar100");
    };
  }
}
