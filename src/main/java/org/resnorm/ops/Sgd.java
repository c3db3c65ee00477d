package org.resnorm.ops;

import org.bytedeco.javacpp.FloatPointer;
import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.bind.ResnormNative.rn_sgd_params;
import org.resnorm.core.Checks;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Fused SGD step with coupled L2 weight decay, momentum, dampening and Nesterov, with exactly
 * the semantics of PyTorch's {@code torch.optim.SGD} and Torch7's {@code optim.sgd} (as used by
 * fb.resnet.torch):
 *
 * <pre>
 *   g = grad + weightDecay * param
 *   if momentum != 0:
 *       v = firstStep ? g : momentum * v + (1 - dampening) * g
 *       g = nesterov ? g + momentum * v : v
 *   param -= lr * g
 * </pre>
 *
 * One pass over memory. The paper's recipe: momentum 0.9, Nesterov, dampening 0, weight decay
 * 1e-4 (see {@link #paperRecipe(float)}). Not thread-safe (reuses one native parameter block);
 * close it to free that block.
 */
public final class Sgd implements AutoCloseable {
  private final float momentum;
  private final float dampening;
  private final float weightDecay;
  private final boolean nesterov;
  private final rn_sgd_params params = new rn_sgd_params();

  public Sgd(float momentum, float dampening, float weightDecay, boolean nesterov) {
    Checks.finite("momentum", momentum);
    Checks.finite("dampening", dampening);
    Checks.finite("weightDecay", weightDecay);
    if (momentum < 0) {
      throw new IllegalArgumentException("momentum must be >= 0, got " + momentum);
    }
    if (weightDecay < 0) {
      throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new IllegalArgumentException("Nesterov momentum requires momentum > 0 and dampening 0 (got momentum "
          + momentum + ", dampening " + dampening + ")");
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  /** Momentum 0.9, Nesterov, dampening 0, the given weight decay (1e-4 in the paper). */
  public static Sgd paperRecipe(float weightDecay) {
    return new Sgd(0.9f, 0.0f, weightDecay, true);
  }

  public float momentum() {
    return momentum;
  }

  public boolean nesterov() {
    return nesterov;
  }

  public float weightDecay() {
    return weightDecay;
  }

  /**
   * Updates {@code param} in place. {@code velocity} (same shape) holds the momentum buffer
   * between steps and may be null only when momentum is 0; on the {@code firstStep} its
   * content is ignored and set to the gradient, as PyTorch does.
   */
  public void step(Engine engine, float lr, Tensor param, Tensor grad, Tensor velocity, boolean firstStep) {
    run(engine, lr, param, grad, velocity, firstStep, true);
  }

  /**
   * The same update computed as four separate passes over memory (decay, momentum, Nesterov,
   * update), as an unfused framework would: for tests and benchmarks of the fused kernel.
   */
  public void stepUnfused(Engine engine, float lr, Tensor param, Tensor grad, Tensor velocity, boolean firstStep) {
    run(engine, lr, param, grad, velocity, firstStep, false);
  }

  private void run(Engine engine, float lr, Tensor param, Tensor grad, Tensor velocity, boolean firstStep,
      boolean fused) {
    Checks.engine(engine);
    Checks.finite("lr", lr);
    if (lr < 0) {
      throw new IllegalArgumentException("lr must be >= 0, got " + lr);
    }
    if (param == null) {
      throw new IllegalArgumentException("param must not be null");
    }
    int[] shape = param.shape();
    Checks.floatTensor("param", param, shape);
    Checks.floatTensor("grad", grad, shape);
    if (momentum != 0) {
      Checks.floatTensor("velocity", velocity, shape);
    } else {
      Checks.optionalFloatTensor("velocity", velocity, shape);
    }
    Checks.noOverlap("param", param, new String[] {"grad", "velocity"}, grad, velocity);
    Checks.noOverlap("velocity", velocity, new String[] {"grad"}, grad);
    params.lr(lr).momentum(momentum).dampening(dampening).weight_decay(weightDecay).nesterov(nesterov ? 1 : 0)
        .first_step(firstStep ? 1 : 0);
    FloatPointer v = velocity == null ? null : engine.ptr(velocity);
    if (fused) {
      NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_sgd_step(engine.cudaHandle(), params, param.numel(), engine.ptr(param),
          engine.ptr(grad), v)
        : ResnormNative.rn_sgd_step(engine.handle(), params, param.numel(), engine.ptr(param),
          engine.ptr(grad), v), "sgd step");
    } else {
      // the unfused reference exists on the CPU only (engine.handle() says so on CUDA)
      NativeStatus.check(ResnormNative.rn_sgd_step_unfused(engine.handle(), params, param.numel(),
          engine.ptr(param), engine.ptr(grad), v), "sgd step (unfused)");
    }
  }

  @Override
  public void close() {
    params.close();
  }

  @Override
  public String toString() {
    return "Sgd(momentum " + momentum + ", dampening " + dampening + ", weight decay " + weightDecay
        + (nesterov ? ", nesterov" : "") + ")";
  }
}
