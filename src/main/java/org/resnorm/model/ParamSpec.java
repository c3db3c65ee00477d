package org.resnorm.model;

import java.util.Arrays;

/**
 * One named tensor of a model: a learned parameter or a buffer (BatchNorm running statistics).
 * Names follow torchvision (docs/CHECKPOINTS.md): {@code layer1.0.conv1.weight},
 * {@code layer1.0.bn1.running_mean}, {@code fc.bias}; weight-normalized convs hold
 * {@code weight_v}, {@code weight_g} (gamma) and {@code bias} (beta).
 *
 * @param learned false for buffers (running statistics) and for NORMPROP3's fixed gamma
 */
public record ParamSpec(String name, int[] shape, Init init, boolean learned) {
  public ParamSpec {
    shape = shape.clone();
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  public long numel() {
    long n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParamSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape) && p.init == init
        && p.learned == learned;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape) + (learned ? "" : " (not learned)");
  }
}
