package org.resnorm.bind;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.resnorm.bind.CudaNative.rn_cuda_context;
import org.resnorm.bind.ResnormNative.rn_context;
import org.resnorm.bind.ResnormNative.rn_conv2d_desc;
import org.resnorm.bind.ResnormNative.rn_conv2d_epilogue;
import org.resnorm.bind.ResnormNative.rn_sgd_params;
import org.resnorm.core.CudaSupport;

/**
 * The JNI binding of the CUDA library: every op bound in {@link CudaNative}, called through it on
 * device memory, against the same op of the CPU library through {@link ResnormNative}, on small
 * odd shapes (relative error < 1e-5; outputs NaN-poisoned on the device first). What it checks
 * is the Java side: argument order, struct passing (the descriptors allocated by ResnormNative's
 * glue, read by CudaNative's), device pointers and the copies; the kernels themselves are the C++
 * tests' business.
 *
 * <p>Runs wherever CUDA is usable: on a GPU, or on the host emulation of the CUDA library (a
 * build with {@code -Dresnorm.cuda=ON} run with {@code -Dresnorm.cuda.emulated=<dir of the
 * emulated libresnorm_cuda.so>}, as .ci/run does). Skipped otherwise.
 */
class CudaNativeTest {
  private static rn_cuda_context gpu;
  private static rn_context cpu;
  private static final List<Pointer> DEVICE = new ArrayList<>();
  private final SplittableRandom rng = new SplittableRandom(17);

  @BeforeAll
  static void open() {
    assumeTrue(CudaSupport.status().usable(), "no usable CUDA: " + CudaSupport.status().message());
    gpu = new rn_cuda_context();
    assertEquals(0, CudaNative.rn_cuda_context_create(0, gpu));
    cpu = ResnormNative.rn_context_create(2);
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      DEVICE.forEach(p -> CudaNative.rn_cuda_free(gpu, p));
      CudaNative.rn_cuda_context_destroy(gpu);
      ResnormNative.rn_context_destroy(cpu);
    }
  }

  // ------------------------------------------------------------------ helpers

  private float[] random(int n, double lo, double hi) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (lo + (hi - lo) * rng.nextDouble());
    }
    return a;
  }

  private float[] random(int n) {
    return random(n, -1, 1);
  }

  /** Device memory holding a copy of {@code host}. */
  private static FloatPointer dev(float[] host) {
    FloatPointer d = devEmpty(host.length);
    assertEquals(0, CudaNative.rn_cuda_copy_to_device(gpu, d, new FloatPointer(host), 4L * host.length));
    return d;
  }

  private static IntPointer devInts(int[] host) {
    Pointer p = new Pointer();
    assertEquals(0, CudaNative.rn_cuda_malloc(gpu, 4L * host.length, p));
    DEVICE.add(p);
    IntPointer d = new IntPointer(p);
    assertEquals(0, CudaNative.rn_cuda_copy_to_device(gpu, d, new IntPointer(host), 4L * host.length));
    return d;
  }

  /** Uninitialized device memory for n floats, poisoned with NaN (all-ones bytes). */
  private static FloatPointer devEmpty(int n) {
    Pointer p = new Pointer();
    assertEquals(0, CudaNative.rn_cuda_malloc(gpu, 4L * Math.max(n, 1), p));
    DEVICE.add(p);
    assertEquals(0, CudaNative.rn_cuda_memset(gpu, p, 0xff, 4L * n));
    return new FloatPointer(p);
  }

  private static float[] host(FloatPointer d, int n) {
    assertEquals(0, CudaNative.rn_cuda_synchronize(gpu), "device error");
    FloatPointer h = new FloatPointer(n);
    assertEquals(0, CudaNative.rn_cuda_copy_to_host(gpu, h, d, 4L * n));
    float[] out = new float[n];
    h.get(out);
    return out;
  }

  /** The CPU op's output buffer: native memory, NaN-poisoned. */
  private static FloatPointer cpuOut(int n) {
    float[] nan = new float[n];
    Arrays.fill(nan, Float.NaN);
    return new FloatPointer(nan);
  }

  private static float[] get(FloatPointer p, int n) {
    float[] out = new float[n];
    p.get(out);
    return out;
  }

  private static void same(String what, FloatPointer cpuResult, FloatPointer gpuResult, int n) {
    float[] want = get(cpuResult, n);
    float[] got = host(gpuResult, n);
    double num = 0;
    double den = 0;
    for (int i = 0; i < n; i++) {
      assertTrue(Float.isFinite(got[i]), what + ": element " + i + " not written (or not finite): " + got[i]);
      double d = (double) got[i] - want[i];
      num += d * d;
      den += (double) want[i] * want[i];
    }
    double err = Math.sqrt(num / Math.max(den, 1e-30));
    assertTrue(err < 1e-5, what + ": relative error " + err);
  }

  private static rn_conv2d_desc desc(int n, int c, int h, int w, int k, int r, int stride, int pad) {
    rn_conv2d_desc d = new rn_conv2d_desc();
    d.n(n).c(c).h(h).w(w).k(k).r(r).s(r).stride_h(stride).stride_w(stride).pad_h(pad).pad_w(pad)
        .p((h + 2 * pad - r) / stride + 1).q((w + 2 * pad - r) / stride + 1).algo(0);
    assertEquals(0, ResnormNative.rn_conv2d_check(d));
    return d;
  }

  // ------------------------------------------------------------------ ops

  @Test
  void convolutions() {
    for (int[] s : new int[][] {{3, 5, 7, 6, 4, 3, 2, 1}, {2, 3, 9, 9, 6, 1, 1, 0}, {2, 4, 8, 8, 5, 3, 1, 1}}) {
      rn_conv2d_desc d = desc(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
      int xs = d.n() * d.c() * d.h() * d.w();
      int ws = d.k() * d.c() * d.r() * d.s();
      int ys = d.n() * d.k() * d.p() * d.q();
      float[] x = random(xs);
      float[] w = random(ws);
      float[] b = random(d.k());
      float[] dy = random(ys);
      String l = Arrays.toString(s);
      FloatPointer y = cpuOut(ys);
      FloatPointer gy = devEmpty(ys);
      assertEquals(0, ResnormNative.rn_conv2d_forward(cpu, d, new FloatPointer(x), new FloatPointer(w),
          new FloatPointer(b), y));
      assertEquals(0, CudaNative.rn_cuda_conv2d_forward(gpu, d, dev(x), dev(w), dev(b), gy));
      same(l + " forward", y, gy, ys);
      FloatPointer dx = cpuOut(xs);
      FloatPointer gdx = devEmpty(xs);
      assertEquals(0, ResnormNative.rn_conv2d_backward_data(cpu, d, new FloatPointer(dy), new FloatPointer(w), dx));
      assertEquals(0, CudaNative.rn_cuda_conv2d_backward_data(gpu, d, dev(dy), dev(w), gdx));
      same(l + " backward-data", dx, gdx, xs);
      FloatPointer dw = cpuOut(ws);
      FloatPointer db = cpuOut(d.k());
      FloatPointer gdw = devEmpty(ws);
      FloatPointer gdb = devEmpty(d.k());
      assertEquals(0, ResnormNative.rn_conv2d_backward_filter(cpu, d, new FloatPointer(x), new FloatPointer(dy),
          dw, db));
      assertEquals(0, CudaNative.rn_cuda_conv2d_backward_filter(gpu, d, dev(x), dev(dy), gdw, gdb));
      same(l + " backward-filter", dw, gdw, ws);
      same(l + " bias gradient", db, gdb, d.k());
    }
  }

  @Test
  void convVariantsAndWeightNorm() {
    rn_conv2d_desc d = desc(2, 4, 7, 7, 6, 3, 1, 1);  // crelu-input: reads a 2-channel pre-activation as 4
    int half = d.n() * (d.c() / 2) * d.h() * d.w();
    int ws = d.k() * d.c() * 9;
    int ys = d.n() * d.k() * d.p() * d.q();
    float[] x = random(half);
    float[] w = random(ws);
    float[] dy = random(ys);
    FloatPointer y = cpuOut(ys);
    FloatPointer gy = devEmpty(ys);
    assertEquals(0, ResnormNative.rn_conv2d_forward_crelu_input(cpu, d, new FloatPointer(x), new FloatPointer(w),
        null, y));
    assertEquals(0, CudaNative.rn_cuda_conv2d_forward_crelu_input(gpu, d, dev(x), dev(w), null, gy));
    same("crelu-input forward", y, gy, ys);
    FloatPointer dw = cpuOut(ws);
    FloatPointer gdw = devEmpty(ws);
    assertEquals(0, ResnormNative.rn_conv2d_backward_filter_crelu_input(cpu, d, new FloatPointer(x),
        new FloatPointer(dy), dw, null));
    assertEquals(0, CudaNative.rn_cuda_conv2d_backward_filter_crelu_input(gpu, d, dev(x), dev(dy), gdw, null));
    same("crelu-input backward-filter", dw, gdw, ws);

    rn_conv2d_desc e = desc(3, 3, 6, 5, 4, 3, 1, 1);
    int xs = e.n() * e.c() * e.h() * e.w();
    int we = e.k() * e.c() * 9;
    int ye = e.n() * e.k() * e.p() * e.q();
    float[] xe = random(xs);
    float[] ve = random(we);
    float[] scale = random(e.k(), 0.5, 1.5);
    float[] bias = random(e.k());
    float[] dy2 = random(2 * ye);
    try (rn_conv2d_epilogue ep = new rn_conv2d_epilogue(); rn_conv2d_epilogue gep = new rn_conv2d_epilogue()) {
      ep.scale(new FloatPointer(scale)).bias(new FloatPointer(bias)).act(ResnormNative.RN_ACT_CRELU)
          .post_scale(1.5f).post_shift(-0.25f);
      gep.scale(dev(scale)).bias(dev(bias)).act(ResnormNative.RN_ACT_CRELU).post_scale(1.5f).post_shift(-0.25f);
      FloatPointer y2 = cpuOut(2 * ye);
      FloatPointer gy2 = devEmpty(2 * ye);
      assertEquals(0, ResnormNative.rn_conv2d_forward_epilogue(cpu, e, new FloatPointer(xe), new FloatPointer(ve),
          ep, y2));
      assertEquals(0, CudaNative.rn_cuda_conv2d_forward_epilogue(gpu, e, dev(xe), dev(ve), gep, gy2));
      same("epilogue forward", y2, gy2, 2 * ye);
    }
    // weight-normalized conv, forward then backward (which reads the forward's output)
    FloatPointer y2 = cpuOut(2 * ye);
    FloatPointer gy2 = devEmpty(2 * ye);
    FloatPointer gxe = dev(xe);
    FloatPointer gve = dev(ve);
    FloatPointer gscale = dev(scale);
    assertEquals(0, ResnormNative.rn_wnconv_forward(cpu, e, ResnormNative.RN_ACT_CRELU, 2f, 0.5f,
        new FloatPointer(xe), new FloatPointer(ve), new FloatPointer(scale), new FloatPointer(bias), y2));
    assertEquals(0, CudaNative.rn_cuda_wnconv_forward(gpu, e, ResnormNative.RN_ACT_CRELU, 2f, 0.5f, gxe, gve, gscale,
        dev(bias), gy2));
    same("wnconv forward", y2, gy2, 2 * ye);
    FloatPointer du = cpuOut(ye);
    FloatPointer dx = cpuOut(xs);
    FloatPointer dv = cpuOut(we);
    FloatPointer dg = cpuOut(e.k());
    FloatPointer dbt = cpuOut(e.k());
    FloatPointer gdu = devEmpty(ye);
    FloatPointer gdx = devEmpty(xs);
    FloatPointer gdv = devEmpty(we);
    FloatPointer gdg = devEmpty(e.k());
    FloatPointer gdbt = devEmpty(e.k());
    assertEquals(0, ResnormNative.rn_wnconv_backward(cpu, e, ResnormNative.RN_ACT_CRELU, 2f, 0.5f,
        new FloatPointer(xe), new FloatPointer(ve), new FloatPointer(scale), y2, new FloatPointer(dy2), du, dx, dv,
        dg, dbt));
    assertEquals(0, CudaNative.rn_cuda_wnconv_backward(gpu, e, ResnormNative.RN_ACT_CRELU, 2f, 0.5f, gxe, gve, gscale,
        gy2, dev(dy2), gdu, gdx, gdv, gdg, gdbt));
    same("wnconv du", du, gdu, ye);
    same("wnconv dx", dx, gdx, xs);
    same("wnconv dv", dv, gdv, we);
    same("wnconv dgamma", dg, gdg, e.k());
    same("wnconv dbeta", dbt, gdbt, e.k());
  }

  @Test
  void batchNormAndActivations() {
    int n = 3;
    int c = 5;
    int hw = 7;
    int e = n * c * hw;
    float[] x = random(e, -2, 3);
    float[] gamma = random(c, 0.5, 1.5);
    float[] beta = random(c);
    float[] rmean = random(c);
    float[] rvar = random(c, 0.5, 2);
    for (int act : new int[] {ResnormNative.RN_ACT_NONE, ResnormNative.RN_ACT_RELU, ResnormNative.RN_ACT_CRELU}) {
      int ys = act == ResnormNative.RN_ACT_CRELU ? 2 * e : e;
      FloatPointer cm = new FloatPointer(rmean);
      FloatPointer cv = new FloatPointer(rvar);
      FloatPointer gm = dev(rmean);
      FloatPointer gv = dev(rvar);
      FloatPointer sm = cpuOut(c);
      FloatPointer si = cpuOut(c);
      FloatPointer gsm = devEmpty(c);
      FloatPointer gsi = devEmpty(c);
      FloatPointer y = cpuOut(ys);
      FloatPointer gy = devEmpty(ys);
      FloatPointer gx = dev(x);
      FloatPointer gg = dev(gamma);
      FloatPointer gb = dev(beta);
      assertEquals(0, ResnormNative.rn_batchnorm_forward_training(cpu, n, c, hw, act, 1e-5f, 0.1f,
          new FloatPointer(x), new FloatPointer(gamma), new FloatPointer(beta), cm, cv, sm, si, y));
      assertEquals(0, CudaNative.rn_cuda_batchnorm_forward_training(gpu, n, c, hw, act, 1e-5f, 0.1f, gx, gg, gb, gm,
          gv, gsm, gsi, gy));
      same("bn train act " + act, y, gy, ys);
      same("bn running mean", cm, gm, c);
      same("bn running var", cv, gv, c);
      same("bn saved invstd", si, gsi, c);
      FloatPointer yi = cpuOut(ys);
      FloatPointer gyi = devEmpty(ys);
      assertEquals(0, ResnormNative.rn_batchnorm_forward_inference(cpu, n, c, hw, act, 1e-5f, new FloatPointer(x),
          new FloatPointer(gamma), new FloatPointer(beta), cm, cv, yi));
      assertEquals(0, CudaNative.rn_cuda_batchnorm_forward_inference(gpu, n, c, hw, act, 1e-5f, gx, gg, gb, gm, gv,
          gyi));
      same("bn inference act " + act, yi, gyi, ys);
      float[] dy = random(ys);
      FloatPointer dx = cpuOut(e);
      FloatPointer dg = cpuOut(c);
      FloatPointer db = cpuOut(c);
      FloatPointer gdx = devEmpty(e);
      FloatPointer gdg = devEmpty(c);
      FloatPointer gdb = devEmpty(c);
      assertEquals(0, ResnormNative.rn_batchnorm_backward(cpu, n, c, hw, act, new FloatPointer(x),
          new FloatPointer(gamma), new FloatPointer(beta), sm, si, new FloatPointer(dy), dx, dg, db));
      assertEquals(0, CudaNative.rn_cuda_batchnorm_backward(gpu, n, c, hw, act, gx, gg, gb, gsm, gsi, dev(dy), gdx,
          gdg, gdb));
      same("bn backward dx act " + act, dx, gdx, e);
      same("bn backward dgamma act " + act, dg, gdg, c);
      same("bn backward dbeta act " + act, db, gdb, c);
    }
    float[] a = random(e);
    float[] b = random(e);
    float[] dy = random(e);
    float[] dy2 = random(2 * e);
    FloatPointer out = cpuOut(e);
    FloatPointer gout = devEmpty(e);
    assertEquals(0, ResnormNative.rn_relu_forward(cpu, e, new FloatPointer(a), out));
    assertEquals(0, CudaNative.rn_cuda_relu_forward(gpu, e, dev(a), gout));
    same("relu", out, gout, e);
    FloatPointer d = cpuOut(e);
    FloatPointer gd = devEmpty(e);
    assertEquals(0, ResnormNative.rn_relu_backward(cpu, e, out, new FloatPointer(dy), d));
    assertEquals(0, CudaNative.rn_cuda_relu_backward(gpu, e, gout, dev(dy), gd));
    same("relu backward", d, gd, e);
    FloatPointer c2 = cpuOut(2 * e);
    FloatPointer gc2 = devEmpty(2 * e);
    assertEquals(0, ResnormNative.rn_crelu_forward(cpu, n, c, hw, new FloatPointer(a), c2));
    assertEquals(0, CudaNative.rn_cuda_crelu_forward(gpu, n, c, hw, dev(a), gc2));
    same("crelu", c2, gc2, 2 * e);
    FloatPointer dc = cpuOut(e);
    FloatPointer gdc = devEmpty(e);
    assertEquals(0, ResnormNative.rn_crelu_backward(cpu, n, c, hw, new FloatPointer(a), new FloatPointer(dy2), dc));
    assertEquals(0, CudaNative.rn_cuda_crelu_backward(gpu, n, c, hw, dev(a), dev(dy2), gdc));
    same("crelu backward", dc, gdc, e);
    FloatPointer s = cpuOut(e);
    FloatPointer gs = devEmpty(e);
    assertEquals(0, ResnormNative.rn_add_relu_forward(cpu, e, new FloatPointer(a), new FloatPointer(b), s));
    assertEquals(0, CudaNative.rn_cuda_add_relu_forward(gpu, e, dev(a), dev(b), gs));
    same("add+relu", s, gs, e);
    FloatPointer da = cpuOut(e);
    FloatPointer db = cpuOut(e);
    FloatPointer gda = devEmpty(e);
    FloatPointer gdb = devEmpty(e);
    assertEquals(0, ResnormNative.rn_add_relu_backward(cpu, e, s, new FloatPointer(dy), da, db));
    assertEquals(0, CudaNative.rn_cuda_add_relu_backward(gpu, e, gs, dev(dy), gda, gdb));
    same("add+relu backward a", da, gda, e);
    same("add+relu backward b", db, gdb, e);
    FloatPointer sum = cpuOut(e);
    FloatPointer gsum = devEmpty(e);
    assertEquals(0, ResnormNative.rn_add(cpu, e, new FloatPointer(a), new FloatPointer(b), sum));
    assertEquals(0, CudaNative.rn_cuda_add(gpu, e, dev(a), dev(b), gsum));
    same("add", sum, gsum, e);
  }

  @Test
  void poolingShortcutLinearLossAndSgd() {
    int n = 3;
    int c = 4;
    int h = 7;
    int w = 6;
    int xs = n * c * h * w;
    float[] x = random(xs);
    FloatPointer p = cpuOut(n * c);
    FloatPointer gp = devEmpty(n * c);
    assertEquals(0, ResnormNative.rn_global_avgpool_forward(cpu, n, c, h * w, new FloatPointer(x), p));
    assertEquals(0, CudaNative.rn_cuda_global_avgpool_forward(gpu, n, c, h * w, dev(x), gp));
    same("avgpool", p, gp, n * c);
    float[] dp = random(n * c);
    FloatPointer dx = cpuOut(xs);
    FloatPointer gdx = devEmpty(xs);
    assertEquals(0, ResnormNative.rn_global_avgpool_backward(cpu, n, c, h * w, new FloatPointer(dp), dx));
    assertEquals(0, CudaNative.rn_cuda_global_avgpool_backward(gpu, n, c, h * w, dev(dp), gdx));
    same("avgpool backward", dx, gdx, xs);

    int ph = (h + 2 - 3) / 2 + 1;
    int pw = (w + 2 - 3) / 2 + 1;
    int ps = n * c * ph * pw;
    FloatPointer m = cpuOut(ps);
    FloatPointer gm = devEmpty(ps);
    IntPointer arg = new IntPointer(ps);
    Pointer gargRaw = new Pointer();
    assertEquals(0, CudaNative.rn_cuda_malloc(gpu, 4L * ps, gargRaw));
    DEVICE.add(gargRaw);
    IntPointer garg = new IntPointer(gargRaw);
    FloatPointer gx = dev(x);
    assertEquals(0, ResnormNative.rn_maxpool2d_forward(cpu, n, c, h, w, 3, 2, 1, new FloatPointer(x), m, arg));
    assertEquals(0, CudaNative.rn_cuda_maxpool2d_forward(gpu, n, c, h, w, 3, 2, 1, gx, gm, garg));
    same("maxpool", m, gm, ps);
    float[] dm = random(ps);
    FloatPointer dmx = cpuOut(xs);
    FloatPointer gdmx = devEmpty(xs);
    assertEquals(0, ResnormNative.rn_maxpool2d_backward(cpu, n, c, h, w, 3, 2, 1, arg, new FloatPointer(dm), dmx));
    assertEquals(0, CudaNative.rn_cuda_maxpool2d_backward(gpu, n, c, h, w, 3, 2, 1, garg, dev(dm), gdmx));
    same("maxpool backward", dmx, gdmx, xs);
    FloatPointer gdmr = devEmpty(xs);
    assertEquals(0, CudaNative.rn_cuda_maxpool2d_backward_recompute(gpu, n, c, h, w, 3, 2, 1, gx, dev(dm), gdmr));
    same("maxpool backward (recompute)", dmx, gdmr, xs);

    int cOut = 7;
    int ss = n * cOut * ph * pw;
    FloatPointer sa = cpuOut(ss);
    FloatPointer gsa = devEmpty(ss);
    assertEquals(0, ResnormNative.rn_shortcut_a_forward(cpu, n, c, h, w, cOut, 2, new FloatPointer(x), sa));
    assertEquals(0, CudaNative.rn_cuda_shortcut_a_forward(gpu, n, c, h, w, cOut, 2, gx, gsa));
    same("shortcut A", sa, gsa, ss);
    float[] ds = random(ss);
    FloatPointer dsx = cpuOut(xs);
    FloatPointer gdsx = devEmpty(xs);
    assertEquals(0, ResnormNative.rn_shortcut_a_backward(cpu, n, c, h, w, cOut, 2, new FloatPointer(ds), dsx));
    assertEquals(0, CudaNative.rn_cuda_shortcut_a_backward(gpu, n, c, h, w, cOut, 2, dev(ds), gdsx));
    same("shortcut A backward", dsx, gdsx, xs);

    int in = 9;
    int out = 5;
    float[] fx = random(n * in);
    float[] fw = random(out * in);
    float[] fb = random(out);
    FloatPointer logits = cpuOut(n * out);
    FloatPointer glogits = devEmpty(n * out);
    assertEquals(0, ResnormNative.rn_linear_forward(cpu, n, in, out, new FloatPointer(fx), new FloatPointer(fw),
        new FloatPointer(fb), logits));
    assertEquals(0, CudaNative.rn_cuda_linear_forward(gpu, n, in, out, dev(fx), dev(fw), dev(fb), glogits));
    same("linear", logits, glogits, n * out);
    float[] dl = random(n * out);
    FloatPointer ldx = cpuOut(n * in);
    FloatPointer gldx = devEmpty(n * in);
    assertEquals(0, ResnormNative.rn_linear_backward_data(cpu, n, in, out, new FloatPointer(dl), new FloatPointer(fw),
        ldx));
    assertEquals(0, CudaNative.rn_cuda_linear_backward_data(gpu, n, in, out, dev(dl), dev(fw), gldx));
    same("linear backward-data", ldx, gldx, n * in);
    FloatPointer ldw = cpuOut(out * in);
    FloatPointer ldb = cpuOut(out);
    FloatPointer gldw = devEmpty(out * in);
    FloatPointer gldb = devEmpty(out);
    assertEquals(0, ResnormNative.rn_linear_backward_weight(cpu, n, in, out, new FloatPointer(fx),
        new FloatPointer(dl), ldw, ldb));
    assertEquals(0, CudaNative.rn_cuda_linear_backward_weight(gpu, n, in, out, dev(fx), dev(dl), gldw, gldb));
    same("linear backward-weight", ldw, gldw, out * in);
    same("linear backward-bias", ldb, gldb, out);

    int[] labels = {4, 0, 2};
    float[] loss = {Float.NaN};
    FloatPointer gloss = devEmpty(1);
    IntPointer glabels = devInts(labels);
    assertEquals(0, ResnormNative.rn_softmax_xent_forward(cpu, n, out, logits, new IntPointer(labels), loss));
    assertEquals(0, CudaNative.rn_cuda_softmax_xent_forward(gpu, n, out, glogits, glabels, gloss));
    same("softmax cross-entropy loss", new FloatPointer(loss), gloss, 1);
    FloatPointer dlog = cpuOut(n * out);
    FloatPointer gdlog = devEmpty(n * out);
    assertEquals(0, ResnormNative.rn_softmax_xent_backward(cpu, n, out, logits, new IntPointer(labels), 0.5f, dlog));
    assertEquals(0, CudaNative.rn_cuda_softmax_xent_backward(gpu, n, out, glogits, glabels, 0.5f, gdlog));
    same("softmax cross-entropy gradient", dlog, gdlog, n * out);
    long[] correct = {-1};
    Pointer gcRaw = new Pointer();
    assertEquals(0, CudaNative.rn_cuda_malloc(gpu, 8, gcRaw));
    DEVICE.add(gcRaw);
    LongPointer gc = new LongPointer(gcRaw);
    assertEquals(0, ResnormNative.rn_topk_correct(cpu, n, out, logits, new IntPointer(labels), 2, correct));
    assertEquals(0, CudaNative.rn_cuda_topk_correct(gpu, n, out, glogits, glabels, 2, gc));
    assertEquals(0, CudaNative.rn_cuda_synchronize(gpu));
    LongPointer hc = new LongPointer(1);
    assertEquals(0, CudaNative.rn_cuda_copy_to_host(gpu, hc, gc, 8));
    assertEquals(correct[0], hc.get(0), "top-2 correct");

    int count = 37;
    float[] param = random(count);
    float[] grad = random(count);
    float[] vel = random(count);
    try (rn_sgd_params sp = new rn_sgd_params()) {
      sp.lr(0.1f).momentum(0.9f).dampening(0f).weight_decay(1e-4f).nesterov(1).first_step(0);
      FloatPointer cp = new FloatPointer(param);
      FloatPointer cvel = new FloatPointer(vel);
      FloatPointer gpar = dev(param);
      FloatPointer gvel = dev(vel);
      assertEquals(0, ResnormNative.rn_sgd_step(cpu, sp, count, cp, new FloatPointer(grad), cvel));
      assertEquals(0, CudaNative.rn_cuda_sgd_step(gpu, sp, count, gpar, dev(grad), gvel));
      same("sgd parameters", cp, gpar, count);
      same("sgd velocity", cvel, gvel, count);
    }
  }

  @Test
  void badArgumentsAreRefusedNotCrashed() {
    assertEquals(ResnormNative.RN_STATUS_BAD_ARGUMENT, CudaNative.rn_cuda_relu_forward(gpu, -1, null, null));
    assertEquals(ResnormNative.RN_STATUS_BAD_ARGUMENT, CudaNative.rn_cuda_relu_forward(null, 4, null, null));
  }
}
