// shortcut A: strided identity with appended zero channels, forward and backward vs
// float64 references; odd sizes, stride 1/2/3, c_out = c_in and 2*c_in, bad arguments.
#include "test_util.h"

using namespace rntest;

int main() {
  std::mt19937_64 rng(5);
  // n, c_in, h, w, c_out, stride
  const int shapes[][6] = {{3, 5, 7, 6, 5, 1},  {3, 5, 7, 6, 10, 2}, {2, 16, 32, 32, 32, 2}, {2, 4, 9, 9, 8, 2},
                           {1, 1, 1, 1, 1, 1},  {1, 1, 1, 1, 3, 2},  {2, 3, 8, 7, 6, 1},     {2, 3, 10, 11, 7, 3},
                           {4, 7, 5, 5, 14, 2}, {1, 2, 6, 6, 2, 2}};
  for (int threads : {1, 2, 3}) {
    rn_context* ctx = rn_context_create(threads);
    for (const auto& sh : shapes) {
      const int n = sh[0], ci = sh[1], h = sh[2], w = sh[3], co = sh[4], s = sh[5];
      const int p = (h + s - 1) / s, q = (w + s - 1) / s;
      const size_t in_size = size_t(n) * ci * h * w, out_size = size_t(n) * co * p * q;
      Buffer x(in_size), y(out_size), dy(out_size), dx(in_size);
      x.fill_random(rng);
      dy.fill_random(rng);
      std::vector<double> y_ref(out_size, 0.0), dx_ref(in_size, 0.0);
      for (int b = 0; b < n; ++b)
        for (int k = 0; k < ci; ++k)
          for (int i = 0; i < p; ++i)
            for (int j = 0; j < q; ++j) {
              size_t xo = ((size_t(b) * ci + k) * h + i * s) * w + j * s;
              size_t yo = ((size_t(b) * co + k) * p + i) * q + j;
              y_ref[yo] = x[xo];
              dx_ref[xo] = dy[yo];
            }
      RN_EXPECT_OK(rn_shortcut_a_forward(ctx, n, ci, h, w, co, s, x.data(), y.data()));
      expect_close("shortcut_a forward", y, y_ref, 1e-7);
      RN_EXPECT(rel_error(y.data(), y_ref) == 0.0, "shortcut_a forward not exact");
      RN_EXPECT_OK(rn_shortcut_a_backward(ctx, n, ci, h, w, co, s, dy.data(), dx.data()));
      expect_close("shortcut_a backward", dx, dx_ref, 1e-7);
      RN_EXPECT(rel_error(dx.data(), dx_ref) == 0.0, "shortcut_a backward not exact");
    }
    float v[16] = {}, o[16];
    const int BAD = RN_STATUS_BAD_ARGUMENT;
    RN_EXPECT(rn_shortcut_a_forward(nullptr, 1, 1, 2, 2, 1, 1, v, o) == BAD, "null ctx");
    RN_EXPECT(rn_shortcut_a_forward(ctx, 1, 2, 2, 2, 1, 1, v, o) == BAD, "c_out < c_in");
    RN_EXPECT(rn_shortcut_a_forward(ctx, 1, 1, 2, 2, 1, 0, v, o) == BAD, "stride 0");
    RN_EXPECT(rn_shortcut_a_forward(ctx, 0, 1, 2, 2, 1, 1, v, o) == BAD, "n = 0");
    RN_EXPECT(rn_shortcut_a_forward(ctx, 1, 1, 0, 2, 1, 1, v, o) == BAD, "h = 0");
    RN_EXPECT(rn_shortcut_a_forward(ctx, 1, 1, 2, 2, 1, 1, nullptr, o) == BAD, "null x");
    RN_EXPECT(rn_shortcut_a_backward(ctx, 1, 1, 2, 2, 1, 1, v, nullptr) == BAD, "null dx");
    RN_EXPECT(rn_shortcut_a_backward(ctx, 1, 0, 2, 2, 1, 1, v, o) == BAD, "c_in = 0");
    rn_context_destroy(ctx);
  }
  return finish("test_shortcut");
}
