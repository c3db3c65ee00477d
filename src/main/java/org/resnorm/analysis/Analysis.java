package org.resnorm.analysis;

import java.util.List;
import org.resnorm.model.ResNetConfig;

/**
 * The paper's analysis quantities of one trained network ({@link Analyzer}): the delta of every
 * residual block (Fig. 2), the mean, std and non-zero ratio of the activation before the
 * classifier (Table 1), and the coherence of every conv's filters (Fig. 3).
 *
 * @param label the name of the network in tables and legends
 * @param config the model
 * @param images how many images the activations were measured on (blocks and lastActivation)
 * @param blocks one entry per residual block, in forward order
 * @param lastActivation the last block's output (after its ReLU), over all entries of the images
 * @param convs one entry per conv, in forward order (stem, then each block's convs; a projection
 *     shortcut's conv last in its block)
 */
public record Analysis(String label, ResNetConfig config, int images, List<BlockDelta> blocks,
    ActivationStats.Summary lastActivation, List<ConvCoherence> convs) {
  public Analysis {
    blocks = List.copyOf(blocks);
    convs = List.copyOf(convs);
  }

  /**
   * Delta of one residual block.
   *
   * @param index 0-based position among the blocks
   * @param name the block's tensor-name prefix ({@code layer2.0})
   * @param inShape x_l per image, [C, H, W]
   * @param outShape x_{l+1} per image, [C', H', W']
   * @param stride the block's stride
   * @param reshapes whether x_l went through shortcut A's map ({@link Delta}) before the subtraction
   * @param delta the mean over the images of {@link Delta#perImage}
   */
  public record BlockDelta(int index, String name, int[] inShape, int[] outShape, int stride, boolean reshapes,
      double delta) {
    public BlockDelta {
      inShape = inShape.clone();
      outShape = outShape.clone();
    }

    @Override
    public int[] inShape() {
      return inShape.clone();
    }

    @Override
    public int[] outShape() {
      return outShape.clone();
    }
  }

  /**
   * Coherence of one conv.
   *
   * @param name the conv ({@code layer1.0.conv2})
   * @param tensor the tensor it was computed from ({@code .weight}, or {@code .weight_v} for a
   *     weight-normalized conv)
   * @param filters K, the rows of the filter matrix
   * @param fanIn C*R*S, the columns
   * @param mu {@link Coherence#mu}; NaN with fewer than two non-zero filters
   */
  public record ConvCoherence(String name, String tensor, int filters, int fanIn, double mu) {}
}
