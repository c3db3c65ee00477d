package org.resnorm.ops;

import org.resnorm.bind.CudaNative;
import org.resnorm.bind.ResnormNative;
import org.resnorm.core.Checks;
import org.resnorm.core.DType;
import org.resnorm.core.Engine;
import org.resnorm.core.NativeStatus;
import org.resnorm.core.Tensor;

/**
 * Fully connected layer kernels: {@code y[n,o] = bias[o] + sum_i x[n,i] * w[o,i]}, with x
 * [N, in], w [out, in] (PyTorch's nn.Linear layout), bias [out] (optional), y [N, out].
 * Gradients are overwritten, not accumulated.
 */
public final class Linear {
  private final int in;
  private final int out;

  public Linear(int inFeatures, int outFeatures) {
    Checks.positive("inFeatures", inFeatures);
    Checks.positive("outFeatures", outFeatures);
    this.in = inFeatures;
    this.out = outFeatures;
  }

  public int inFeatures() {
    return in;
  }

  public int outFeatures() {
    return out;
  }

  public int[] weightShape() {
    return new int[] {out, in};
  }

  public void forward(Engine engine, Tensor x, Tensor w, Tensor bias, Tensor y) {
    Checks.engine(engine);
    int n = batch("x", x);
    Checks.floatTensor("w", w, out, in);
    Checks.optionalFloatTensor("bias", bias, out);
    Checks.floatTensor("y", y, n, out);
    Checks.noOverlap("y", y, new String[] {"x", "w", "bias"}, x, w, bias);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_linear_forward(engine.cudaHandle(), n, in, out, engine.ptr(x), engine.ptr(w),
        bias == null ? null : engine.ptr(bias), engine.ptr(y))
        : ResnormNative.rn_linear_forward(engine.handle(), n, in, out, engine.ptr(x), engine.ptr(w),
        bias == null ? null : engine.ptr(bias), engine.ptr(y)), "linear forward");
  }

  /** dx [N, in] = dy [N, out] * w [out, in]. */
  public void backwardData(Engine engine, Tensor dy, Tensor w, Tensor dx) {
    Checks.engine(engine);
    int n = batch("dx", dx);
    Checks.floatTensor("dy", dy, n, out);
    Checks.floatTensor("w", w, out, in);
    Checks.noOverlap("dx", dx, new String[] {"dy", "w"}, dy, w);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_linear_backward_data(engine.cudaHandle(), n, in, out, engine.ptr(dy),
        engine.ptr(w), engine.ptr(dx))
        : ResnormNative.rn_linear_backward_data(engine.handle(), n, in, out, engine.ptr(dy),
        engine.ptr(w), engine.ptr(dx)), "linear backward_data");
  }

  /** dw [out, in] = dy^T x; dbias [out] = column sums of dy (dbias may be null). */
  public void backwardWeight(Engine engine, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
    Checks.engine(engine);
    int n = batch("x", x);
    Checks.floatTensor("dy", dy, n, out);
    Checks.floatTensor("dw", dw, out, in);
    Checks.optionalFloatTensor("dbias", dbias, out);
    Checks.noOverlap("dw", dw, new String[] {"x", "dy", "dbias"}, x, dy, dbias);
    Checks.noOverlap("dbias", dbias, new String[] {"x", "dy"}, x, dy);
    NativeStatus.check(engine.isCuda()
        ? CudaNative.rn_cuda_linear_backward_weight(engine.cudaHandle(), n, in, out, engine.ptr(x),
        engine.ptr(dy), engine.ptr(dw), dbias == null ? null : engine.ptr(dbias))
        : ResnormNative.rn_linear_backward_weight(engine.handle(), n, in, out, engine.ptr(x),
        engine.ptr(dy), engine.ptr(dw), dbias == null ? null : engine.ptr(dbias)), "linear backward_weight");
  }

  private int batch(String name, Tensor t) {
    Checks.rank(name, t, DType.F32, 2);
    if (t.dim(1) != in) {
      throw new IllegalArgumentException(name + " must be [N, " + in + "], got " + t.shapeString());
    }
    return t.dim(0);
  }

  @Override
  public String toString() {
    return "Linear(" + in + "->" + out + ")";
  }
}
