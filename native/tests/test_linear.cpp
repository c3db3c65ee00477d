// linear: forward, backward-data, backward-weight vs float64 references.
#include "test_util.h"

using namespace rntest;

int main() {
  std::mt19937_64 rng(7);
  const int shapes[][3] = {{3, 5, 7}, {1, 1, 1}, {17, 64, 10}, {128, 64, 100}, {5, 33, 2}};
  for (int threads : {1, 2, 3}) {
    rn_context* ctx = rn_context_create(threads);
    for (const auto& sh : shapes) {
      const int n = sh[0], in = sh[1], out = sh[2];
      Buffer x(size_t(n) * in), w(size_t(out) * in), b(out), dy(size_t(n) * out);
      x.fill_random(rng); w.fill_random(rng); b.fill_random(rng); dy.fill_random(rng);
      std::vector<double> y_ref(size_t(n) * out), dx_ref(size_t(n) * in, 0.0), dw_ref(size_t(out) * in, 0.0),
          db_ref(out, 0.0);
      for (int i = 0; i < n; ++i)
        for (int o = 0; o < out; ++o) {
          double acc = b[o];
          for (int j = 0; j < in; ++j) {
            acc += double(x[size_t(i) * in + j]) * w[size_t(o) * in + j];
            dx_ref[size_t(i) * in + j] += double(dy[size_t(i) * out + o]) * w[size_t(o) * in + j];
            dw_ref[size_t(o) * in + j] += double(dy[size_t(i) * out + o]) * x[size_t(i) * in + j];
          }
          y_ref[size_t(i) * out + o] = acc;
          db_ref[o] += dy[size_t(i) * out + o];
        }
      Buffer y(size_t(n) * out), dx(size_t(n) * in), dw(size_t(out) * in), db(out);
      RN_EXPECT_OK(rn_linear_forward(ctx, n, in, out, x.data(), w.data(), b.data(), y.data()));
      expect_close("linear forward", y, y_ref, 1e-5);
      RN_EXPECT_OK(rn_linear_backward_data(ctx, n, in, out, dy.data(), w.data(), dx.data()));
      expect_close("linear backward_data", dx, dx_ref, 1e-5);
      RN_EXPECT_OK(rn_linear_backward_weight(ctx, n, in, out, x.data(), dy.data(), dw.data(), db.data()));
      expect_close("linear backward_weight", dw, dw_ref, 1e-5);
      expect_close("linear backward_bias", db, db_ref, 1e-5);
    }
    float v = 0;
    RN_EXPECT(rn_linear_forward(ctx, 0, 1, 1, &v, &v, nullptr, &v) == RN_STATUS_BAD_ARGUMENT, "n=0");
    rn_context_destroy(ctx);
  }
  return finish("test_linear");
}
