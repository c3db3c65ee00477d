package org.resnorm.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.resnorm.ops.Act;

/**
 * The layout of a {@link ResNetConfig}: its blocks and every named tensor (parameters and
 * BatchNorm buffers) with shape and initialization, in torchvision's naming
 * (docs/CHECKPOINTS.md). The executor builds its layers from this; checkpoints name their
 * tensors by it; parameter counts are checked against the well-known figures.
 *
 * <p>Decisions where the paper is silent (paper-summary.md): with NormProp-family norms every
 * conv is weight-normalized (the stem's and the projection shortcut's too) and the final linear
 * layer stays plain; NormProp models with shortcut A put a BatchNorm on the identity path where
 * the spatial size drops (paper footnote 2), on the subsampled input channels, before the zero
 * channels are appended ({@code layerS.0.downsample.1}); NORMPROP2's gamma starts at 1/1.21
 * like NORMPROP's; the linear layer's bias starts at zero (fb.resnet.torch).
 */
public final class ResNetSpec {
  /** A conv and the normalization that follows it ({@code normName} null when N lives in the conv). */
  public record ConvSpec(String name, String normName, int inChannels, int outChannels, int kernel, int stride,
      int pad) {}

  /**
   * A residual block: its convs in order, and its shortcut: {@code projection} (shortcut B: a
   * 1x1 conv + N, the last entry of convs) or, where the shape changes without one, option A
   * ({@code identityNorm}: the NormProp models' BatchNorm on the subsampled identity).
   */
  public record BlockSpec(String prefix, int inChannels, int outChannels, int stride, boolean bottleneck,
      List<ConvSpec> convs, boolean projection, String identityNorm) {
    /** Whether the shortcut changes the shape (stride or channels). */
    public boolean reshapes() {
      return stride != 1 || inChannels != outChannels;
    }
  }

  private final ResNetConfig config;
  private final List<ParamSpec> params = new ArrayList<>();
  private final List<BlockSpec> blocks = new ArrayList<>();
  private final ConvSpec stem;
  private final int features;

  private ResNetSpec(ResNetConfig c) {
    this.config = c;
    int[] widths = c.widths();
    boolean imagenet = c.arch() == ResNetConfig.Arch.IMAGENET;
    stem = imagenet ? conv("conv1", "bn1", c.inChannels(), widths[0], 7, 2, 3)
        : conv("conv1", "bn1", c.inChannels(), widths[0], 3, 1, 1);
    int channels = widths[0];
    int[] perStage = c.blocksPerStage();
    for (int s = 0; s < perStage.length; s++) {
      for (int b = 0; b < perStage[s]; b++) {
        int stride = b == 0 && s > 0 ? 2 : 1;
        String prefix = "layer" + (s + 1) + "." + b;
        BlockSpec block = c.bottleneck() ? bottleneck(prefix, channels, widths[s], stride)
            : basic(prefix, channels, widths[s], stride);
        blocks.add(block);
        channels = block.outChannels();
      }
    }
    features = channels;
    params.add(new ParamSpec("fc.weight", new int[] {c.classes(), features}, Init.LINEAR_DEFAULT, true));
    params.add(new ParamSpec("fc.bias", new int[] {c.classes()}, Init.ZEROS, true));
  }

  public static ResNetSpec of(ResNetConfig config) {
    return new ResNetSpec(config);
  }

  public ResNetConfig config() {
    return config;
  }

  public ConvSpec stem() {
    return stem;
  }

  public List<BlockSpec> blocks() {
    return Collections.unmodifiableList(blocks);
  }

  /** Channels into the final linear layer. */
  public int features() {
    return features;
  }

  /** Every named tensor, parameters and buffers, in a fixed order (stem, blocks, fc). */
  public List<ParamSpec> params() {
    return Collections.unmodifiableList(params);
  }

  /** Learned parameters (BatchNorm gamma/beta included, running statistics and fixed gammas not). */
  public long parameterCount() {
    long n = 0;
    for (ParamSpec p : params) {
      if (p.learned()) {
        n += p.numel();
      }
    }
    return n;
  }

  private BlockSpec basic(String prefix, int in, int width, int stride) {
    List<ConvSpec> convs = new ArrayList<>();
    convs.add(conv(prefix + ".conv1", prefix + ".bn1", in, width, 3, stride, 1));
    int mid = config.act() == Act.CRELU ? 2 * width : width;  // conv2 reads CReLU's 2C channels
    convs.add(conv(prefix + ".conv2", prefix + ".bn2", mid, width, 3, 1, 1));
    return withShortcut(prefix, in, width, stride, false, convs);
  }

  private BlockSpec bottleneck(String prefix, int in, int width, int stride) {
    List<ConvSpec> convs = new ArrayList<>();
    int mid = config.act() == Act.CRELU ? 2 * width : width;  // CReLU after the first two convs
    convs.add(conv(prefix + ".conv1", prefix + ".bn1", in, width, 1, 1, 0));
    convs.add(conv(prefix + ".conv2", prefix + ".bn2", mid, width, 3, stride, 1));
    convs.add(conv(prefix + ".conv3", prefix + ".bn3", mid, 4 * width, 1, 1, 0));
    return withShortcut(prefix, in, 4 * width, stride, true, convs);
  }

  private BlockSpec withShortcut(String prefix, int in, int out, int stride, boolean bottleneck,
      List<ConvSpec> convs) {
    boolean reshapes = stride != 1 || in != out;
    if (reshapes && config.shortcut() == Shortcut.B) {
      convs.add(conv(prefix + ".downsample.0", prefix + ".downsample.1", in, out, 1, stride, 0));
      return new BlockSpec(prefix, in, out, stride, bottleneck, List.copyOf(convs), true, null);
    }
    if (reshapes && out < in) {
      throw new IllegalArgumentException(prefix + ": shortcut A cannot reduce channels (" + in + " -> " + out
          + "); use shortcut B");
    }
    String identityNorm = null;
    if (reshapes && stride > 1 && config.norm().weightNormalized()) {
      identityNorm = prefix + ".downsample.1";
      batchNormParams(identityNorm, in);
    }
    return new BlockSpec(prefix, in, out, stride, bottleneck, List.copyOf(convs), false, identityNorm);
  }

  /** A conv with its N: the parameters it owns, named as torchvision does. */
  private ConvSpec conv(String name, String bnName, int in, int out, int kernel, int stride, int pad) {
    int[] weight = {out, in, kernel, kernel};
    Norm norm = config.norm();
    switch (norm) {
      case BATCHNORM -> {
        params.add(new ParamSpec(name + ".weight", weight, Init.HE, true));
        batchNormParams(bnName, out);
        return new ConvSpec(name, bnName, in, out, kernel, stride, pad);
      }
      case PLAIN -> {
        params.add(new ParamSpec(name + ".weight", weight, Init.XAVIER, true));
        params.add(new ParamSpec(name + ".bias", new int[] {out}, Init.ZEROS, true));
      }
      case PLAIN_NOBIAS -> params.add(new ParamSpec(name + ".weight", weight, Init.XAVIER, true));
      default -> {
        params.add(new ParamSpec(name + ".weight_v", weight, Init.XAVIER, true));
        params.add(new ParamSpec(name + ".weight_g", new int[] {out}, Init.NORMPROP_GAMMA, norm != Norm.NORMPROP3));
        params.add(new ParamSpec(name + ".bias", new int[] {out}, Init.ZEROS, true));
      }
    }
    return new ConvSpec(name, null, in, out, kernel, stride, pad);
  }

  private void batchNormParams(String name, int channels) {
    int[] c = {channels};
    params.add(new ParamSpec(name + ".weight", c, Init.ONES, true));
    params.add(new ParamSpec(name + ".bias", c, Init.ZEROS, true));
    params.add(new ParamSpec(name + ".running_mean", c, Init.ZEROS, false));
    params.add(new ParamSpec(name + ".running_var", c, Init.ONES, false));
  }
}
