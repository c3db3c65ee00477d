// conv2d: forward, backward-data, backward-filter against float64 references,
// on odd shapes, for every ISA level, algorithm and a few thread counts.
#include <algorithm>
#include <utility>

#include "conv2d_impl.h"
#include "winograd.h"
#include "test_util.h"

using namespace rntest;

namespace {

rn_conv2d_desc make(int n, int c, int h, int w, int k, int r, int s, int stride, int pad, int algo) {
  rn_conv2d_desc d{};
  d.n = n; d.c = c; d.h = h; d.w = w; d.k = k; d.r = r; d.s = s;
  d.stride_h = d.stride_w = stride;
  d.pad_h = d.pad_w = pad;
  d.p = (h + 2 * pad - r) / stride + 1;
  d.q = (w + 2 * pad - s) / stride + 1;
  d.algo = algo;
  return d;
}

size_t xsize(const rn_conv2d_desc& d) { return size_t(d.n) * d.c * d.h * d.w; }
size_t wsize(const rn_conv2d_desc& d) { return size_t(d.k) * d.c * d.r * d.s; }
size_t ysize(const rn_conv2d_desc& d) { return size_t(d.n) * d.k * d.p * d.q; }

// Calls f(n, k, c, p, q, ih, iw, widx, xidx, yidx) for every (output, tap) pair inside the image.
template <class F>
void for_each_tap(const rn_conv2d_desc& d, const F& f) {
  for (int n = 0; n < d.n; ++n)
    for (int k = 0; k < d.k; ++k)
      for (int p = 0; p < d.p; ++p)
        for (int q = 0; q < d.q; ++q)
          for (int c = 0; c < d.c; ++c)
            for (int r = 0; r < d.r; ++r)
              for (int s = 0; s < d.s; ++s) {
                int ih = p * d.stride_h - d.pad_h + r, iw = q * d.stride_w - d.pad_w + s;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                size_t xi = ((size_t(n) * d.c + c) * d.h + ih) * d.w + iw;
                size_t wi = ((size_t(k) * d.c + c) * d.r + r) * d.s + s;
                size_t yi = ((size_t(n) * d.k + k) * d.p + p) * d.q + q;
                f(xi, wi, yi);
              }
}

void run_case(const rn_conv2d_desc& d, bool with_bias, rn_context* ctx, std::mt19937_64& rng,
              const std::string& label) {
  Buffer x(xsize(d)), w(wsize(d)), b(d.k), dy(ysize(d));
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);

  std::vector<double> y_ref(ysize(d), 0.0), dx_ref(xsize(d), 0.0), dw_ref(wsize(d), 0.0), db_ref(d.k, 0.0);
  for (size_t i = 0; i < y_ref.size(); ++i) {
    size_t k = (i / (size_t(d.p) * d.q)) % d.k;
    y_ref[i] = with_bias ? b[k] : 0.0;
    db_ref[k] += dy[i];
  }
  for_each_tap(d, [&](size_t xi, size_t wi, size_t yi) {
    y_ref[yi] += double(w[wi]) * x[xi];
    dx_ref[xi] += double(w[wi]) * dy[yi];
    dw_ref[wi] += double(x[xi]) * dy[yi];
  });

  Buffer y(ysize(d)), dx(xsize(d)), dw(wsize(d)), db(d.k);
  std::string name = label + " forward";
  RN_EXPECT_OK(rn_conv2d_forward(ctx, &d, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data()));
  expect_close(name.c_str(), y, y_ref, 1e-5);
  name = label + " backward_data";
  RN_EXPECT_OK(rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), dx.data()));
  expect_close(name.c_str(), dx, dx_ref, 1e-5);
  name = label + " backward_filter";
  RN_EXPECT_OK(rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw.data(), with_bias ? db.data() : nullptr));
  expect_close(name.c_str(), dw, dw_ref, 1e-5);
  if (with_bias) {
    // Fused epilogues: every activation x NormProp's post map or none x a scale or none (the
    // CUDA tests take these CPU paths as their reference).
    Buffer scale(d.k);
    scale.fill_random(rng, 0.25f, 2.0f);
    const size_t pq = size_t(d.p) * d.q;
    for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU})
      for (bool post : {false, true})
        for (bool scaled : {false, true}) {
          const bool crelu = act == RN_ACT_CRELU;
          rn_conv2d_epilogue ep{scaled ? scale.data() : nullptr, b.data(), act, post ? 1.7128f : 1.0f,
                                post ? -0.6833f : 0.0f};
          std::vector<double> ref(ysize(d) * (crelu ? 2 : 1));
          for (size_t i = 0; i < ysize(d); ++i) {
            const size_t n = i / (size_t(d.k) * pq), k = (i / pq) % d.k, j = i % pq;
            const double u = (y_ref[i] - b[k]) * (scaled ? scale[k] : 1.0f) + b[k];
            const size_t at = crelu ? (n * 2 * d.k + k) * pq + j : i;
            ref[at] = ep.post_scale * (act == RN_ACT_NONE ? u : std::max(u, 0.0)) + ep.post_shift;
            if (crelu) ref[at + size_t(d.k) * pq] = ep.post_scale * std::max(-u, 0.0) + ep.post_shift;
          }
          Buffer ye(ref.size());
          name = label + " forward_epilogue act=" + std::to_string(act) + (post ? " post" : "") +
                 (scaled ? " scaled" : "");
          RN_EXPECT_OK(rn_conv2d_forward_epilogue(ctx, &d, x.data(), w.data(), &ep, ye.data()));
          expect_close(name.c_str(), ye, ref, 1e-5);
        }
    name = label + " backward_bias";
    expect_close(name.c_str(), db, db_ref, 1e-5);
  } else {
    // Without dbias the filter gradient is the same, bit for bit, as with it (and dbias, when
    // asked for, is right).
    Buffer dw2(wsize(d)), db2(d.k);
    RN_EXPECT_OK(rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw2.data(), db2.data()));
    RN_EXPECT(std::memcmp(dw.data(), dw2.data(), sizeof(float) * wsize(d)) == 0,
              "%s: dw differs between dbias NULL and dbias given", label.c_str());
    name = label + " backward_bias (asked for separately)";
    expect_close(name.c_str(), db2, db_ref, 1e-5);
  }
}

// CReLU-input backward-data calls whose dX existed only a tile row at a time (Winograd).
int g_crelu_data_in_cache = 0;
// ... of which on planes whose last tile row reaches past the plane (sides of 1, 2, 5 rows)
int g_crelu_data_past_side = 0;

// The conv of crelu(x) from x itself (d.c = 2 * x's channels): forward, backward-filter and
// backward-data against the plain references on the expanded input.
void run_crelu_input(const rn_conv2d_desc& d, rn_context* ctx, std::mt19937_64& rng, const std::string& label) {
  const size_t half = xsize(d) / 2, plane = size_t(d.h) * d.w, half_image = size_t(d.c / 2) * plane;
  Buffer x(half), w(wsize(d)), b(d.k), dy(ysize(d));
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  std::vector<double> full(xsize(d));
  for (size_t i = 0; i < half; ++i) {
    const size_t n = i / half_image, j = i % half_image;
    full[n * 2 * half_image + j] = std::max(0.0f, x[i]);
    full[n * 2 * half_image + half_image + j] = std::max(0.0f, -x[i]);
  }
  std::vector<double> y_ref(ysize(d)), dw_ref(wsize(d), 0.0), db_ref(d.k, 0.0);
  for (size_t i = 0; i < y_ref.size(); ++i) {
    const size_t k = (i / (size_t(d.p) * d.q)) % d.k;
    y_ref[i] = b[k];
    db_ref[k] += dy[i];
  }
  for_each_tap(d, [&](size_t xi, size_t wi, size_t yi) {
    y_ref[yi] += double(w[wi]) * full[xi];
    dw_ref[wi] += full[xi] * dy[yi];
  });
  Buffer y(ysize(d)), dw(wsize(d)), db(d.k);
  std::string name = label + " forward_crelu_input";
  RN_EXPECT_OK(rn_conv2d_forward_crelu_input(ctx, &d, x.data(), w.data(), b.data(), y.data()));
  expect_close(name.c_str(), y, y_ref, 1e-5);
  // With an epilogue (inference batch norm folded in: scale, bias, then each activation).
  Buffer scale(d.k);
  scale.fill_random(rng, 0.25f, 2.0f);
  const size_t pq = size_t(d.p) * d.q;
  for (int act : {RN_ACT_NONE, RN_ACT_RELU, RN_ACT_CRELU}) {
    const bool crelu = act == RN_ACT_CRELU;
    rn_conv2d_epilogue ep{scale.data(), b.data(), act, 1.0f, 0.0f};
    std::vector<double> ref(ysize(d) * (crelu ? 2 : 1));
    for (size_t i = 0; i < ysize(d); ++i) {
      const size_t n = i / (size_t(d.k) * pq), k = (i / pq) % d.k, j = i % pq;
      const double u = (y_ref[i] - b[k]) * scale[k] + b[k];
      const size_t at = crelu ? (n * 2 * d.k + k) * pq + j : i;
      ref[at] = act == RN_ACT_NONE ? u : std::max(u, 0.0);
      if (crelu) ref[at + size_t(d.k) * pq] = std::max(-u, 0.0);
    }
    Buffer ye(ref.size());
    name = label + " forward_crelu_input_epilogue act=" + std::to_string(act);
    RN_EXPECT_OK(rn_conv2d_forward_crelu_input_epilogue(ctx, &d, x.data(), w.data(), &ep, ye.data()));
    expect_close(name.c_str(), ye, ref, 1e-5);
  }
  name = label + " backward_filter_crelu_input";
  RN_EXPECT_OK(rn_conv2d_backward_filter_crelu_input(ctx, &d, x.data(), dy.data(), dw.data(), db.data()));
  expect_close(name.c_str(), dw, dw_ref, 1e-5);
  expect_close((name + " bias").c_str(), db, db_ref, 1e-5);

  // backward-data onto x: the 2C-channel gradient folded by the sign of x
  std::vector<double> dfull(xsize(d), 0.0), dx_ref(half);
  for_each_tap(d, [&](size_t xi, size_t wi, size_t yi) { dfull[xi] += double(w[wi]) * dy[yi]; });
  for (size_t i = 0; i < half; ++i) {
    const size_t n = i / half_image, j = i % half_image;
    const double pos = dfull[n * 2 * half_image + j], neg = dfull[n * 2 * half_image + half_image + j];
    dx_ref[i] = (x[i] > 0 ? pos : 0.0) - (x[i] < 0 ? neg : 0.0);
  }
  Buffer dx(half), dfull_f(xsize(d)), dx_two(half);
  name = label + " backward_data_crelu_input";
  RN_EXPECT_OK(rn_conv2d_backward_data_crelu_input(ctx, &d, dy.data(), w.data(), x.data(), dx.data()));
  expect_close(name.c_str(), dx, dx_ref, 1e-5);
  // the same bits as backward-data, then the standalone CReLU backward
  RN_EXPECT_OK(rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), dfull_f.data()));
  RN_EXPECT_OK(rn_crelu_backward(ctx, d.n, d.c / 2, d.h * d.w, x.data(), dfull_f.data(), dx_two.data()));
  RN_EXPECT(std::memcmp(dx.data(), dx_two.data(), sizeof(float) * half) == 0,
            "%s: differs from backward_data, then crelu_backward", name.c_str());
  if (rn_conv2d_resolve_algo(&d, 1) == RN_CONV_ALGO_WINOGRAD && (d.c / 2) % 16 == 0) {
    ++g_crelu_data_in_cache;
    if (rn::wino::tiling_for(d.h).covered() > d.h) ++g_crelu_data_past_side;
  }
}

struct Shape { int n, c, h, w, k, r, s, stride, pad; };

// Every algorithm on shape s (Winograd where it applies), with and without bias, and the
// CReLU-input variants where the channel count is even.
void run_shape(rn_context* ctx, int threads, int isa, const Shape& s, std::mt19937_64& rng) {
  for (int algo : {RN_CONV_ALGO_AUTO, RN_CONV_ALGO_IM2COL, RN_CONV_ALGO_WINOGRAD, RN_CONV_ALGO_DIRECT}) {
    rn_conv2d_desc d = make(s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad, algo);
    const int status = rn_conv2d_check(&d);
    // Only Winograd may refuse a shape (it needs 3x3 stride 1); anything else is a bad test shape.
    RN_EXPECT(status == RN_STATUS_OK || (algo == RN_CONV_ALGO_WINOGRAD && status == RN_STATUS_UNSUPPORTED),
              "shape %d %d %d %d %d %d %d %d %d refused by algo %d", s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride,
              s.pad, algo);
    if (status != RN_STATUS_OK) continue;
    if (s.c % 2 == 0) {
      char label[160];
      std::snprintf(label, sizeof label, "[t=%d %s algo=%d crelu input] n%d c%d %dx%d k%d %dx%d s%d p%d", threads,
                    rn_isa_name(isa), algo, s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad);
      run_crelu_input(d, ctx, rng, label);
    }
    for (bool bias : {true, false}) {
      char label[160];
      std::snprintf(label, sizeof label, "[t=%d %s algo=%d bias=%d] n%d c%d %dx%d k%d %dx%d s%d p%d", threads,
                    rn_isa_name(isa), algo, bias, s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad);
      run_case(d, bias, ctx, rng, label);
    }
  }
}

// A random shape for the fuzz mode, biased toward the sizes where tilings, vector widths and
// dispatch rules change: sides of 1-10 and around 14, 16, 28, 32; channel counts at and next
// to the 8- and 16-lane blocks; 1x1 to 7x7 taps, strides 1-3, any valid padding. At most
// ~1.5 M multiply-adds, so that the float64 references stay cheap, and at least 3 output
// channels and 48 outputs (see the end).
Shape random_shape(std::mt19937_64& rng) {
  auto pick = [&](std::initializer_list<int> v) { return pick_one(rng, v); };
  for (;;) {
    Shape s{};
    s.n = pick({1, 2, 3});
    s.c = pick({1, 2, 3, 4, 5, 6, 8, 9, 15, 16, 17, 24, 32, 33, 48, 64});
    s.k = pick({3, 5, 7, 8, 9, 16, 17, 24, 32, 40});
    s.h = pick({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 28, 31, 32});
    s.w = pick({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 28, 31, 32, 33, 64});
    s.r = pick({1, 2, 3, 3, 3, 3, 5, 7});
    s.s = rng() % 4 == 0 ? pick({1, 2, 3, 5, 7}) : s.r;
    s.stride = pick({1, 1, 2, 2, 3});
    s.pad = int(rng() % std::min(s.r, s.s));  // pad < kernel on both sides
    if (s.h + 2 * s.pad < s.r || s.w + 2 * s.pad < s.s) continue;
    const rn_conv2d_desc d = make(s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad, RN_CONV_ALGO_AUTO);
    if (double(d.n) * d.k * d.p * d.q * d.c * d.r * d.s > 1.5e6) continue;
    // Enough outputs for the norm-wise error to mean something: a handful of outputs, each a
    // sum of hundreds of products, can come out near zero by cancellation, and then float32's
    // rounding alone makes their relative error exceed the tolerance (seen with k = 1 and 3
    // outputs; the bias gradient is k sums). The fixed list above has the tiny shapes.
    if (d.n * d.k * d.p * d.q < 48) continue;
    return s;
  }
}

// test_conv2d --fuzz COUNT SEED: COUNT random shapes (random_shape), each on a random thread
// count of 1-3 and every ISA level, instead of the fixed list below.
int fuzz(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  rn_context* ctxs[3] = {rn_context_create(1), rn_context_create(2), rn_context_create(3)};
  for (int i = 0; i < count; ++i) {
    const Shape s = random_shape(rng);
    const int t = int(rng() % 3);
    for (int isa : isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctxs[t], isa));
      run_shape(ctxs[t], t + 1, isa, s, rng);
    }
  }
  for (rn_context* ctx : ctxs) rn_context_destroy(ctx);
  std::printf("fuzz: %d random shapes from seed %llu\n", count, static_cast<unsigned long long>(seed));
  return finish("test_conv2d --fuzz");
}

}  // namespace

int main(int argc, char** argv) {
  int fuzz_count;
  uint64_t fuzz_seed;
  if (fuzz_args(argc, argv, &fuzz_count, &fuzz_seed)) return fuzz(fuzz_count, fuzz_seed);
  const Shape shapes[] = {
      {3, 5, 7, 6, 4, 3, 3, 1, 1},    // odd sizes, 3x3 same
      {3, 5, 7, 6, 4, 3, 3, 2, 1},    // stride 2
      {2, 3, 9, 11, 5, 1, 1, 1, 0},   // 1x1 direct path
      {2, 4, 9, 7, 6, 1, 1, 2, 0},    // 1x1 stride 2 (shortcut B)
      {2, 3, 13, 15, 4, 7, 7, 2, 3},  // 7x7 stem
      {1, 2, 5, 5, 3, 3, 3, 1, 0},    // no padding
      {4, 16, 10, 10, 16, 3, 3, 1, 1},// ResNet stage-1 like
      {2, 32, 6, 6, 16, 3, 3, 1, 1},  // CReLU conv2-like (2C -> C)
      {3, 7, 8, 9, 9, 3, 3, 1, 1},    // odd channels, uneven tiles
      {2, 6, 16, 16, 12, 3, 3, 2, 1}, // stage transition
      {5, 1, 3, 4, 2, 2, 3, 1, 1},    // rectangular kernel
      {2, 20, 11, 9, 40, 3, 3, 1, 1}, // partial lane blocks on both sides
      {2, 20, 11, 9, 40, 3, 3, 2, 1}, // ... strided
      {2, 6, 10, 13, 5, 3, 3, 1, 2},  // padding 2
      {3, 4, 11, 10, 6, 3, 3, 3, 1},  // stride 3 (taps skip input pixels in backward-data)
      {2, 3, 9, 9, 4, 1, 1, 3, 0},    // 1x1 stride 3: some input pixels get no gradient
      {16, 32, 16, 16, 32, 3, 3, 1, 1}, // realistic size: long accumulations
      {8, 16, 16, 16, 32, 3, 3, 2, 1},  // stage transition at realistic size
      {2, 16, 32, 32, 32, 3, 3, 2, 1},  // ... with 32-wide rows (pixel-lane paths)
      {2, 5, 32, 16, 3, 3, 3, 2, 0},    // pixel lanes, odd channels, no padding
      {2, 5, 13, 32, 3, 3, 3, 2, 2},    // pixel lanes, padding 2
      {2, 5, 9, 30, 7, 3, 3, 2, 2},     // 16-wide output rows, stride 2, padding 2
      {1, 3, 11, 40, 5, 5, 5, 2, 2},    // 5x5 stride 2
      {6, 32, 48, 48, 2, 3, 3, 1, 1},   // large images: the CReLU-input path works in several chunks;
                                        // rows of 3 vectors in the pixel-lane backward-data
      {2, 16, 8, 32, 16, 1, 1, 1, 0},   // 1x1 stride 1 on 32-wide rows (AUTO: direct, pixel lanes)
      {2, 13, 7, 64, 6, 3, 3, 2, 1},    // stride 2, 64-wide rows: both column phases in one tile, 2 blocks a row
      {2, 16, 9, 32, 16, 1, 1, 2, 0},   // 1x1 stride 2: the odd column phase has no taps (zeros)
      {3, 64, 12, 10, 24, 3, 3, 1, 1},  // CReLU input formed in the Winograd pack (32 channels a half)
      {5, 32, 9, 7, 8, 3, 3, 1, 2},     // ... padding 2, odd sizes, several row blocks
      {3, 32, 8, 8, 48, 3, 3, 1, 1},    // 8-wide rows of whole channel blocks (half-width transposes)
      {2, 16, 7, 8, 16, 3, 3, 1, 1},    // ... an odd row count
      {3, 16, 8, 8, 32, 3, 3, 2, 1},    // ... stride 2 (the filter gradient's input pack)
      {2, 3, 4, 5, 6, 5, 5, 1, 2},      // all border: direct forward from its zero-padded copy
      {2, 5, 5, 9, 4, 3, 3, 2, 2},      // rows mostly border, columns not: the padded copy too
      {2, 5, 9, 10, 7, 3, 3, 2, 2},     // NCHW reads with border rows and columns on every side
      {2, 5, 11, 32, 6, 5, 5, 2, 2},    // pixel lanes, 5x5 stride 2: dy columns padded on both sides
      {2, 7, 10, 32, 5, 3, 3, 2, 0},    // ... 15-wide dy rows
      {3, 16, 13, 11, 20, 3, 3, 2, 1},  // filter gradient, row taps grouped: rows after the common ones
      {3, 16, 12, 10, 32, 3, 3, 1, 2},  // ... padding 2: rows before and after
      {2, 4, 10, 9, 64, 3, 3, 1, 0},    // ... 4 channels, no padding: every row common, 4 column blocks
      {2, 3, 9, 32, 7, 7, 7, 2, 3},     // forward in phase planes on 32-wide rows, 7x7: blocks shifted by -2 .. 1
      {2, 4, 64, 64, 128, 3, 3, 2, 1},  // ... y of 2 MiB (1 and 2 threads)
      {2, 64, 64, 64, 8, 3, 3, 2, 1},   // backward-data in pixel lanes, dx of 2 MiB streamed (1 and 2 threads)
      {2, 3, 12, 14, 5, 7, 7, 2, 3},    // forward in phase planes, 7x7: row and column shifts -2 .. 1
      {3, 7, 11, 10, 9, 3, 3, 2, 1},    // ... odd input height: the last plane row is padding
      {2, 4, 9, 8, 6, 1, 1, 2, 0},      // ... 1x1: one row phase, one column block
      {2, 3, 10, 12, 20, 5, 5, 2, 2},   // ... 5x5, partial output-channel blocks
      {2, 5, 28, 28, 7, 3, 3, 2, 1},    // ... 3x3 pad 1, 14-pixel rows (Fashion-MNIST): masked tail vectors
      {3, 6, 14, 14, 9, 3, 3, 2, 1},    // ... 7-pixel rows: one masked vector
      {2, 3, 9, 40, 17, 3, 3, 2, 1},    // ... 20-pixel rows: three vectors, the last of 4 lanes
      {1, 4, 6, 62, 5, 3, 3, 2, 1},     // ... 31-pixel rows
      {2, 64, 32, 30, 8, 3, 3, 2, 1},   // W = 2Q, but planes over kPhasePlaneMaxBytes: NCHW
      // Fashion-MNIST's stride-1 planes: rows of 28, 14 and 7 pixels, whose channel-block packs end
      // in a chunk that overlaps the one before (28, 14) or in a short masked one (7)
      {2, 16, 28, 28, 16, 3, 3, 1, 1},
      {2, 32, 14, 14, 32, 3, 3, 1, 1},
      {2, 64, 7, 7, 48, 3, 3, 1, 1},
      {2, 9, 7, 16, 10, 3, 3, 1, 1},    // Winograd: 3-tall tiles only (7 rows of 16)
      // Winograd sides of 1, 2 and 5 pixels, whose 3-wide tiles cover more than the side (3, 3, 6):
      // with 32 channels a half, the CReLU-input backward-data folds those tile rows in cache
      {3, 32, 5, 5, 16, 3, 3, 1, 1},
      {3, 64, 2, 2, 16, 3, 3, 1, 1},
      {2, 32, 1, 7, 8, 3, 3, 1, 1},
      {3, 32, 5, 9, 8, 3, 3, 1, 0},
      // pixel lanes where the phase planes would be over kPhasePlaneMaxBytes:
      {1, 48, 32, 32, 8, 3, 3, 2, 1},   // ... 16-pixel rows
      {1, 24, 64, 64, 5, 3, 3, 2, 1},   // ... 32-pixel rows, odd output channels
      {1, 21, 40, 32, 3, 7, 7, 2, 3},   // ... 7x7: phase blocks shifted by -2 .. 1
      {2, 45, 20, 32, 6, 5, 5, 2, 2},   // ... 5x5
      {2, 11, 64, 64, 128, 3, 3, 2, 1}, // ... y of 2 MiB, streamed past the caches (no bias, 1 and 2 threads)
  };
  // Direct forward has four ways to read x (output pixels in the lanes; or channels,
  // broadcasting x from phase planes, from NCHW or from a padded copy), direct backward-data three to read dy
  // (input pixels in the lanes; or channels, broadcasting dy from NCHW or from a padded
  // copy): the shapes must take each.
  int forward_lanes = 0, phase_planes = 0, reads_nchw = 0, reads_copy = 0;
  int data_lanes = 0, data_nchw = 0, data_copy = 0, filter_grouped = 0, filter_planes = 0;
  for (const Shape& s : shapes) {
    const rn_conv2d_desc d = make(s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad, RN_CONV_ALGO_DIRECT);
    // (forward in pixel lanes or phase planes: below AVX-512, so at every level these tests run
    // on most machines)
    ++(rn::conv::direct_forward_in_phase_planes(d, RN_ISA_GENERIC)  ? phase_planes
       : rn::conv::direct_forward_in_pixel_lanes(d, RN_ISA_GENERIC)  ? forward_lanes
       : rn::conv::direct_forward_reads_nchw(d)                      ? reads_nchw
                                                                     : reads_copy);
    filter_grouped += rn::conv::direct_backward_filter_groups_row_taps(d);
    filter_planes += rn::conv::direct_backward_filter_in_phase_planes(d, RN_ISA_GENERIC) &&
                     !rn::conv::direct_backward_filter_groups_row_taps(d);
    ++(rn::conv::direct_backward_data_in_pixel_lanes(d) ? data_lanes
       : rn::conv::direct_backward_data_reads_nchw(d)   ? data_nchw
                                                        : data_copy);
  }
  std::printf("direct paths: forward %d pixel lanes / %d phase planes / %d NCHW / %d copy; "
              "backward-data %d pixel lanes / %d NCHW / %d copy; backward-filter %d with grouped row taps (AVX-512), "
              "%d from phase planes (below)\n",
              forward_lanes, phase_planes, reads_nchw, reads_copy, data_lanes, data_nchw, data_copy, filter_grouped,
              filter_planes);
  RN_EXPECT(filter_grouped >= 5, "backward-filter's grouped row taps covered: %d shapes", filter_grouped);
  RN_EXPECT(filter_planes >= 4, "backward-filter from phase planes covered: %d shapes", filter_planes);
  RN_EXPECT(forward_lanes >= 5 && phase_planes >= 8 && reads_nchw >= 10 && reads_copy >= 2,
            "direct forward paths covered: %d pixel lanes, %d phase planes, %d NCHW, %d padded copy", forward_lanes,
            phase_planes, reads_nchw, reads_copy);
  RN_EXPECT(data_lanes >= 5 && data_nchw >= 10 && data_copy >= 2,
            "direct backward-data paths covered: %d pixel lanes, %d NCHW, %d padded copy", data_lanes, data_nchw,
            data_copy);
  // Winograd's 3-wide tiles (winograd.h) at the ends of the output's rows, columns or both (and
  // of dx's, which backward-data computes in the forward form): every (tall, wide) tile kind.
  int mixed_rows = 0, mixed_cols = 0, mixed_both = 0;
  for (const Shape& s : shapes) {
    const rn_conv2d_desc d = make(s.n, s.c, s.h, s.w, s.k, s.r, s.s, s.stride, s.pad, RN_CONV_ALGO_WINOGRAD);
    if (rn_conv2d_check(&d) != RN_STATUS_OK) continue;  // not 3x3 stride 1
    for (const auto& side : {std::pair<int, int>{d.p, d.q}, std::pair<int, int>{d.h, d.w}}) {
      const bool rows = rn::wino::tiling_for(side.first).n3 > 0, cols = rn::wino::tiling_for(side.second).n3 > 0;
      mixed_rows += rows && !cols;
      mixed_cols += cols && !rows;
      mixed_both += rows && cols;
    }
  }
  std::printf("Winograd planes with 3-wide tiles: %d in rows only, %d in columns only, %d in both\n", mixed_rows,
              mixed_cols, mixed_both);
  RN_EXPECT(mixed_rows >= 3 && mixed_cols >= 3 && mixed_both >= 3,
            "Winograd's 3-wide tiles covered: rows %d, columns %d, both %d", mixed_rows, mixed_cols, mixed_both);
  std::mt19937_64 rng(42);
  for (int threads : {1, 2, 3}) {
    rn_context* ctx = rn_context_create(threads);
    RN_EXPECT(ctx != nullptr, "context");
    for (int isa : isa_levels()) {
      RN_EXPECT_OK(rn_context_set_isa(ctx, isa));
      for (const Shape& s : shapes) run_shape(ctx, threads, isa, s, rng);
    }
    rn_context_destroy(ctx);
  }

  // Bad descriptors are refused, not executed.
  rn_context* ctx = rn_context_create(1);
  rn_conv2d_desc bad = make(1, 1, 4, 4, 1, 3, 3, 1, 1, RN_CONV_ALGO_AUTO);
  bad.p = 5;
  float dummy[64] = {};
  RN_EXPECT(rn_conv2d_forward(ctx, &bad, dummy, dummy, nullptr, dummy) == RN_STATUS_BAD_ARGUMENT, "wrong p");
  bad = make(1, 1, 4, 4, 1, 3, 3, 1, 1, RN_CONV_ALGO_AUTO);
  bad.pad_h = 3;
  bad.p = (4 + 2 * 3 - 3) / 1 + 1;  // a consistent output size: only the pad rule is broken
  RN_EXPECT(rn_conv2d_check(&bad) == RN_STATUS_BAD_ARGUMENT, "pad >= kernel");
  bad = make(1, 1, 4, 4, 1, 3, 3, 2, 1, RN_CONV_ALGO_WINOGRAD);
  RN_EXPECT(rn_conv2d_check(&bad) == RN_STATUS_UNSUPPORTED, "winograd with stride 2");
  bad = make(1, 3, 4, 4, 1, 3, 3, 1, 1, RN_CONV_ALGO_AUTO);
  RN_EXPECT(rn_conv2d_forward_crelu_input(ctx, &bad, dummy, dummy, nullptr, dummy) == RN_STATUS_BAD_ARGUMENT,
            "CReLU input with an odd channel count");
  RN_EXPECT(rn_conv2d_backward_data_crelu_input(ctx, &bad, dummy, dummy, dummy, dummy) == RN_STATUS_BAD_ARGUMENT,
            "CReLU-input backward-data with an odd channel count");
  bad = make(1, 2, 4, 4, 1, 3, 3, 1, 1, RN_CONV_ALGO_AUTO);
  RN_EXPECT(rn_conv2d_backward_data_crelu_input(ctx, &bad, dummy, dummy, nullptr, dummy) == RN_STATUS_BAD_ARGUMENT,
            "CReLU-input backward-data without x");
  // the Winograd tile-row path must have run (every ISA level, both thread counts)
  std::printf("CReLU-input backward-data folded in Winograd tile rows: %d calls\n", g_crelu_data_in_cache);
  RN_EXPECT(g_crelu_data_in_cache >= 8, "CReLU-input backward-data in cache: %d calls", g_crelu_data_in_cache);
  RN_EXPECT(g_crelu_data_past_side >= 8, "CReLU-input backward-data, tiles past the side: %d calls",
            g_crelu_data_past_side);
  bad = make(1, 1, 4, 4, 1, 3, 3, 1, 1, RN_CONV_ALGO_IM2COL);
  RN_EXPECT(rn_conv2d_forward(nullptr, &bad, dummy, dummy, nullptr, dummy) == RN_STATUS_BAD_ARGUMENT, "null ctx");
  RN_EXPECT(rn_conv2d_forward(ctx, &bad, nullptr, dummy, nullptr, dummy) == RN_STATUS_BAD_ARGUMENT, "null x");
  rn_context_destroy(ctx);
  return finish("test_conv2d");
}
