package org.resnorm.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.resnorm.TestSupport.assertClose;
import static org.resnorm.TestSupport.poisoned;
import static org.resnorm.TestSupport.random;
import static org.resnorm.TestSupport.toFloat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.resnorm.TestSupport;
import org.resnorm.WithEngine;
import org.resnorm.core.Isa;
import org.resnorm.core.Tensor;
import org.resnorm.ops.Reference.ConvShape;

/**
 * The conv that reads CReLU(x) from x (no 2C tensor in memory) against the plain reference on
 * the expanded input, for every algorithm: formed in the Winograd pack (x's channels a multiple
 * of 16), and expanded chunk by chunk otherwise (images in several chunks).
 */
class Conv2dCreluInputTest extends WithEngine {
  static double[] crelu(int n, int half, int plane, double[] x) {
    double[] out = new double[2 * x.length];
    for (int img = 0; img < n; img++) {
      for (int i = 0; i < half * plane; i++) {
        double v = x[img * half * plane + i];
        out[img * 2 * half * plane + i] = Math.max(v, 0);
        out[img * 2 * half * plane + half * plane + i] = Math.max(-v, 0);
      }
    }
    return out;
  }

  @ParameterizedTest
  @EnumSource(ConvAlgo.class)
  void matchesConvOfExpandedInput(ConvAlgo algo) {
    // 16 or 32 channels of 40x40 per image: 100-200 KiB, so 7 images make several chunks where
    // the CReLU is not formed in the pack (8 channels a half, or not Winograd).
    for (ConvShape g : new ConvShape[] {new ConvShape(3, 6, 7, 6, 5, 3, 3, 1, 1),
        new ConvShape(7, 32, 40, 40, 3, 3, 3, 1, 1), new ConvShape(7, 16, 40, 40, 3, 3, 3, 1, 1),
        new ConvShape(5, 64, 9, 7, 6, 3, 3, 1, 1), new ConvShape(3, 8, 9, 9, 4, 3, 3, 2, 1),
        // 5 rows: Winograd's two 3-tall tile rows cover 6, one past the plane
        new ConvShape(3, 64, 5, 5, 6, 3, 3, 1, 1)}) {
      if (!algo.appliesTo(g.r(), g.s(), g.stride(), g.stride())) {
        continue;
      }
      SplittableRandom rng = new SplittableRandom(g.hashCode());
      int plane = g.h() * g.w();
      double[] x = random(rng, g.n() * g.c() / 2 * plane);
      double[] w = random(rng, g.k() * g.c() * g.r() * g.s());
      double[] b = random(rng, g.k());
      double[] dy = random(rng, g.n() * g.k() * g.p() * g.q());
      double[] full = crelu(g.n(), g.c() / 2, plane, x);
      try (Conv2d conv = new Conv2d(g.c(), g.k(), g.r(), g.s(), g.stride(), g.stride(), g.pad(), g.pad(), algo);
          Tensor tx = Tensor.of(toFloat(x), g.n(), g.c() / 2, g.h(), g.w());
          Tensor tw = Tensor.of(toFloat(w), g.weight());
          Tensor tb = Tensor.of(toFloat(b), g.k());
          Tensor tdy = Tensor.of(toFloat(dy), g.output());
          Tensor y = poisoned(g.output());
          Tensor dw = poisoned(g.weight());
          Tensor db = poisoned(g.k())) {
        double[] yRef = Reference.conv2dForward(g, full, w, b);
        double[] dwRef = Reference.conv2dBackwardFilter(g, full, dy);
        double[] dbRef = Reference.conv2dBackwardBias(g, dy);
        for (Isa isa : TestSupport.supportedIsas()) {  // the expansion and the convs are per ISA level
          engine.isa(isa);
          for (Tensor out : new Tensor[] {y, dw, db}) {
            out.fill(Float.NaN);
          }
          conv.forwardCreluInput(engine, tx, tw, tb, y);
          assertClose(algo + " " + isa + " forward", y.toFloatArray(), yRef, 1e-5);
          // with an epilogue (a folded inference batch norm): u = scale * conv + bias, then CReLU
          try (Tensor scale = Tensor.of(toFloat(random(rng, g.k())), g.k());
              Tensor ye = poisoned(g.n(), 2 * g.k(), g.p(), g.q())) {
            conv.forwardCreluInputFused(engine, tx, tw, scale, tb, Act.CRELU, 1f, 0f, ye);
            float[] sc = scale.toFloatArray();
            int pq = g.p() * g.q();
            double[] want = new double[2 * yRef.length];
            for (int i = 0; i < yRef.length; i++) {
              int img = i / (g.k() * pq);
              int k = i / pq % g.k();
              double u = (yRef[i] - b[k]) * sc[k] + (float) b[k];
              int at = (img * 2 * g.k() + k) * pq + i % pq;
              want[at] = Math.max(u, 0);
              want[at + g.k() * pq] = Math.max(-u, 0);
            }
            assertClose(algo + " " + isa + " forward with epilogue", ye.toFloatArray(), want, 1e-5);
          }
          conv.backwardFilterCreluInput(engine, tx, tdy, dw, db);
          assertClose(algo + " " + isa + " dw", dw.toFloatArray(), dwRef, 1e-5);
          assertClose(algo + " " + isa + " dbias", db.toFloatArray(), dbRef, 1e-5);
          // dL/dx: the 2C gradient folded onto x; the bits of backwardData, then creluBackward
          try (Tensor dx = poisoned(tx.shape()); Tensor dFull = poisoned(g.input());
              Tensor dTwo = poisoned(tx.shape())) {
            conv.backwardDataCreluInput(engine, tdy, tw, tx, dx);
            assertClose(algo + " " + isa + " dx", dx.toFloatArray(),
                NormReference.creluBackward(g.n(), g.c() / 2, plane, x, Reference.conv2dBackwardData(g, dy, w)),
                1e-5);
            conv.backwardData(engine, tdy, tw, dFull);
            Activation.creluBackward(engine, tx, dFull, dTwo);
            assertArrayEquals(dTwo.toFloatArray(), dx.toFloatArray(), algo + " " + isa + " dx vs two passes");
          }
        }
      }
    }
  }

  @Test
  void saysWhereTheCreluIsFormedInThePack() {
    try (Conv2d auto = new Conv2d(32, 16, 3, 1, 1);
        Conv2d narrow = new Conv2d(16, 16, 3, 1, 1);
        Conv2d strided = new Conv2d(32, 16, 3, 2, 1);
        Conv2d im2col = new Conv2d(32, 16, 3, 3, 1, 1, 1, 1, ConvAlgo.IM2COL);
        Conv2d odd = new Conv2d(33, 16, 3, 1, 1)) {
      assertTrue(auto.creluInputInPack(new int[] {2, 32, 8, 8}), "3x3 stride 1, 16 channels a half: Winograd");
      assertFalse(narrow.creluInputInPack(new int[] {2, 16, 8, 8}), "8 channels a half: chunks");
      assertFalse(strided.creluInputInPack(new int[] {2, 32, 8, 8}), "stride 2: not Winograd");
      assertFalse(im2col.creluInputInPack(new int[] {2, 32, 8, 8}), "im2col asked for");
      assertFalse(odd.creluInputInPack(new int[] {2, 33, 8, 8}), "odd channels: no CReLU input at all");
    }
  }

  @Test
  void rejectsWrongChannels() {
    try (Conv2d odd = new Conv2d(5, 2, 3, 1, 1);
        Conv2d even = new Conv2d(6, 2, 3, 1, 1);
        Tensor x = Tensor.zeros(1, 3, 5, 5);
        Tensor full = Tensor.zeros(1, 6, 5, 5);
        Tensor w5 = Tensor.zeros(2, 5, 3, 3);
        Tensor w6 = Tensor.zeros(2, 6, 3, 3);
        Tensor y = Tensor.zeros(1, 2, 5, 5)) {
      assertThrows(IllegalArgumentException.class, () -> odd.forwardCreluInput(engine, x, w5, null, y));
      assertThrows(IllegalArgumentException.class, () -> even.forwardCreluInput(engine, full, w6, null, y),
          "x must carry C/2 channels");
      even.forwardCreluInput(engine, x, w6, null, y);
      try (Tensor dx = Tensor.zeros(1, 3, 5, 5); Tensor dFull = Tensor.zeros(1, 6, 5, 5)) {
        assertThrows(IllegalArgumentException.class, () -> odd.backwardDataCreluInput(engine, y, w5, x, dx));
        assertThrows(IllegalArgumentException.class, () -> even.backwardDataCreluInput(engine, y, w6, x, dFull),
            "dx has x's C/2 channels");
        assertThrows(IllegalArgumentException.class, () -> even.backwardDataCreluInput(engine, y, w6, x, x),
            "dx must not be x");
        even.backwardDataCreluInput(engine, y, w6, x, dx);
      }
    }
  }
}
