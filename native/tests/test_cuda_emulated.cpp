// The CUDA GEMM engine (native/cuda/gemm.cuh: the FP32 tile kernel, every tile shape)
// with the conv and linear problems (conv2d_problems.cuh, linear_problems.cuh), run on
// the host through cuda_host_emulation.h and compared with the CPU kernels: forward
// (bias, fused epilogues), backward-data, backward-filter with and without split-K,
// the crelu-input variants, the three linear GEMMs. Runs everywhere (no GPU needed);
// the same kernels on a device are checked by test_cuda_conv / test_cuda_misc.
#include "cuda_host_emulation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "conv_case.h"
#include "conv2d_problems.cuh"
#include "gemm.cuh"
#include "linear_problems.cuh"
#include "test_util.h"

using namespace rntest;
using namespace rn::cuda;

namespace {

using Tile16 = SimtTile<16, 128, 16, 2, 4>;
using Tile32 = SimtTile<32, 128, 16, 4, 4>;
using Tile64 = SimtTile<64, 64, 16, 4, 4>;
using Tile128 = SimtTile<128, 128, 16, 8, 8>;
// The half-width tiles launch_gemm takes when the full ones leave the device short of blocks.
using Tile16x64 = SimtTile<16, 64, 16, 1, 4>;
using Tile32x64 = SimtTile<32, 64, 16, 2, 4>;
using Tile64x32 = SimtTile<64, 32, 16, 4, 2>;

template <class T, class P>
void run_tile(const P& prob, int32_t splits, int32_t chunk) {
  if (splits <= 1) {
    splits = 1;
    chunk = prob.K;
  }
  const dim3 grid = SplitGemm<P>{prob, splits, chunk}.template grid<T>();
  rn_emulation::launch(grid, dim3(T::kThreads), [&] { gemm_split<T, P, false>(prob, chunk); });
}

// The parts' GEMMs as one grid (gemm_parts), on the grid launch_parts gives them.
template <class T, class P, int kMax>
void run_parts(const GemmParts<P, kMax>& parts) {
  const dim3 grid = PartGemms<P, kMax>{parts}.template grid<T>();
  rn_emulation::launch(grid, dim3(T::kThreads), [&] { gemm_parts<T, P, kMax, false>(parts); });
}

// Runs prob on each tile shape Tiles: before() poisons the outputs, after("tile BMxBN") checks.
template <class... Tiles, class P>
void on_tiles(const P& prob, int32_t splits, int32_t chunk, const std::function<void()>& before,
              const std::function<void(const char*)>& after) {
  const auto one = [&](auto tile) {
    using T = decltype(tile);
    before();
    run_tile<T>(prob, splits, chunk);
    after(("tile " + std::to_string(T::BM) + "x" + std::to_string(T::BN)).c_str());
  };
  (one(Tiles{}), ...);
}

// Every SIMT tile launch_gemm can pick.
template <class P>
void every_tile(const P& prob, int32_t splits, int32_t chunk, const std::function<void()>& before,
                const std::function<void(const char*)>& after) {
  on_tiles<Tile16, Tile32, Tile64, Tile128, Tile16x64, Tile32x64, Tile64x32>(prob, splits, chunk, before, after);
}

using conv_shapes::Case;
using conv_shapes::make;

std::string label_of(const rn_conv2d_desc& d) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "emulated n=%d c=%d %dx%d k=%d %dx%d stride=%d,%d pad=%d,%d", d.n, d.c, d.h, d.w,
                d.k, d.r, d.s, d.stride_h, d.stride_w, d.pad_h, d.pad_w);
  return buf;
}

void check(const std::string& what, const Buffer& out, const Buffer& ref) {
  expect_close(what.c_str(), out, ref.to_double(), 1e-5);
}

void conv_case(rn_context* cpu, std::mt19937_64& rng, const Case& cs) {
  const rn_conv2d_desc d = make(cs);
  const std::string l = label_of(d);
  const size_t xs = size_t(d.n) * d.c * d.h * d.w, ws = size_t(d.k) * d.c * d.r * d.s,
               ys = size_t(d.n) * d.k * d.p * d.q;
  Buffer x(xs), w(ws), b(d.k), dy(ys), scale(d.k);
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  scale.fill_random(rng, 0.25f, 2.0f);

  // Forward with bias.
  Buffer y_ref(ys), y(ys);
  RN_EXPECT_OK(rn_conv2d_forward(cpu, &d, x.data(), w.data(), b.data(), y_ref.data()));
  every_tile(
      conv::forward_problem(d, x.data(), w.data(), b.data(), nullptr, false, y.data()), 1, 0, [&] { y.poison(); },
      [&](const char* t) { check(l + " forward " + t, y, y_ref); });
  // Fused epilogue: scale, bias, CReLU, NormProp's post map.
  {
    const rn_conv2d_epilogue ep{scale.data(), b.data(), RN_ACT_CRELU, 1.7f, -0.6f};
    Buffer ye_ref(2 * ys), ye(2 * ys);
    RN_EXPECT_OK(rn_conv2d_forward_epilogue(cpu, &d, x.data(), w.data(), &ep, ye_ref.data()));
    every_tile(
        conv::forward_problem(d, x.data(), w.data(), nullptr, &ep, false, ye.data()), 1, 0, [&] { ye.poison(); },
        [&](const char* t) { check(l + " epilogue crelu " + t, ye, ye_ref); });
    const rn_conv2d_epilogue er{nullptr, b.data(), RN_ACT_RELU, 1.0f, 0.0f};
    Buffer yr_ref(ys), yr(ys);
    RN_EXPECT_OK(rn_conv2d_forward_epilogue(cpu, &d, x.data(), w.data(), &er, yr_ref.data()));
    run_tile<Tile32>(conv::forward_problem(d, x.data(), w.data(), nullptr, &er, false, yr.data()), 1, 0);
    check(l + " epilogue relu", yr, yr_ref);
  }
  // Backward-data.
  Buffer dx_ref(xs), dx(xs);
  RN_EXPECT_OK(rn_conv2d_backward_data(cpu, &d, dy.data(), w.data(), dx_ref.data()));
  // One GEMM per phase of dx (stride_h * stride_w of them; K = 0 where no tap reaches).
  std::vector<conv::BackwardData> phases;
  conv::for_each_backward_data_phase(d, dy.data(), w.data(), dx.data(), [&](const conv::BackwardData& phase) {
    phases.push_back(phase);
    return int(RN_STATUS_OK);
  });
  RN_EXPECT(phases.size() == size_t(std::min(d.stride_h, d.h)) * std::min(d.stride_w, d.w),
            "%s: %zu backward-data phases", l.c_str(), phases.size());
  dx.poison();
  for (const conv::BackwardData& phase : phases) run_tile<Tile16>(phase, 1, 0);
  check(l + " backward_data tile 16x128", dx, dx_ref);
  dx.poison();
  for (const conv::BackwardData& phase : phases) run_tile<Tile64>(phase, 1, 0);
  check(l + " backward_data tile 64x64", dx, dx_ref);
  for (const conv::BackwardData& phase : phases) {  // each phase alone, on every tile shape
    if (phase.K == 0) continue;
    every_tile(
        phase, 1, 0, [&] { dx.poison(); },
        [&](const char* t) {  // the phase's pixels only: ||dx - ref|| / ||ref|| there
          double diff = 0.0, norm = 0.0;
          for (int32_t img = 0; img < d.n; ++img)
            for (int32_t c = 0; c < d.c; ++c)
              for (int32_t ih = phase.phase_h; ih < d.h; ih += d.stride_h)
                for (int32_t iw = phase.phase_w; iw < d.w; iw += d.stride_w) {
                  const size_t i = ((size_t(img) * d.c + c) * d.h + ih) * d.w + iw;
                  diff += (double(dx[i]) - dx_ref[i]) * (double(dx[i]) - dx_ref[i]);  // NaN stays NaN
                  norm += double(dx_ref[i]) * dx_ref[i];
                }
          RN_EXPECT(std::sqrt(diff) <= 1e-5 * std::sqrt(norm), "%s backward_data phase %d,%d %s: rel. error %.3g",
                    l.c_str(), phase.phase_h, phase.phase_w, t, std::sqrt(diff / norm));
        });
  }
  // All phases in one grid, on every tile shape: what the backward-data of strides up to 2x2
  // launches (a part's blocks past its own pixels return at once; the 1x1 conv's phases
  // without taps store zeros).
  if (phases.size() <= 4) {
    GemmParts<conv::BackwardData, 4> parts;
    for (const conv::BackwardData& phase : phases) parts.part[parts.count++] = phase;
    const auto one = [&](auto tile) {
      using T = decltype(tile);
      dx.poison();
      run_parts<T>(parts);
      check(l + " backward_data in one grid, tile " + std::to_string(T::BM) + "x" + std::to_string(T::BN), dx, dx_ref);
    };
    one(Tile16{}), one(Tile32{}), one(Tile64{}), one(Tile128{}), one(Tile16x64{}), one(Tile32x64{}), one(Tile64x32{});
  }
  // Backward-filter: one split, and split-K into partial sums added here in order.
  Buffer dw_ref(ws), dw(ws);
  RN_EXPECT_OK(rn_conv2d_backward_filter(cpu, &d, x.data(), dy.data(), dw_ref.data(), nullptr));
  every_tile(
      conv::backward_filter_problem(d, x.data(), dy.data(), false, dw.data()), 1, 0, [&] { dw.poison(); },
      [&](const char* t) { check(l + " backward_filter " + t, dw, dw_ref); });
  rn_cuda_context fake;  // plan_split_k reads only the SM count
  fake.sm_count = 3;
  const conv::BackwardFilter bf = conv::backward_filter_problem(d, x.data(), dy.data(), false, nullptr);
  const SplitK sk = plan_split_k(&fake, bf.M, bf.N, bf.K);
  if (sk.splits > 1) {
    Buffer partial(size_t(sk.splits) * ws);
    every_tile(
        conv::backward_filter_problem(d, x.data(), dy.data(), false, partial.data()), sk.splits, sk.chunk,
        [&] { partial.poison(); },
        [&](const char* t) {
          for (size_t i = 0; i < ws; ++i) {
            double s = 0.0;
            for (int k = 0; k < sk.splits; ++k) s += partial[size_t(k) * ws + i];
            dw[i] = float(s);
          }
          RN_EXPECT(partial.all_finite(), "%s split-K: a partial not written", l.c_str());
          RN_EXPECT(partial.intact(), "%s split-K: wrote past the partial sums", l.c_str());
          check(l + " backward_filter split-K " + std::to_string(sk.splits) + " " + t, dw, dw_ref);
        });
  }
  // crelu(x) read by the conv (2c channels seen, c stored).
  {
    Case c2 = cs;
    c2.c = 2 * cs.c;
    const rn_conv2d_desc d2 = make(c2);
    const size_t ws2 = size_t(d2.k) * d2.c * d2.r * d2.s;
    Buffer w2(ws2), y2_ref(ys), y2(ys), dw2_ref(ws2), dw2(ws2);
    w2.fill_random(rng);
    RN_EXPECT_OK(rn_conv2d_forward_crelu_input(cpu, &d2, x.data(), w2.data(), b.data(), y2_ref.data()));
    every_tile(
        conv::forward_problem(d2, x.data(), w2.data(), b.data(), nullptr, true, y2.data()), 1, 0,
        [&] { y2.poison(); }, [&](const char* t) { check(l + " forward_crelu_input " + t, y2, y2_ref); });
    RN_EXPECT_OK(rn_conv2d_backward_filter_crelu_input(cpu, &d2, x.data(), dy.data(), dw2_ref.data(), nullptr));
    every_tile(
        conv::backward_filter_problem(d2, x.data(), dy.data(), true, dw2.data()), 1, 0, [&] { dw2.poison(); },
        [&](const char* t) { check(l + " backward_filter_crelu_input " + t, dw2, dw2_ref); });
  }
}

void linear_case(rn_context* cpu, std::mt19937_64& rng, int n, int in, int out) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "emulated linear n=%d in=%d out=%d", n, in, out);
  const std::string l(buf);
  Buffer x(size_t(n) * in), w(size_t(out) * in), b(out), dy(size_t(n) * out);
  x.fill_random(rng);
  w.fill_random(rng);
  b.fill_random(rng);
  dy.fill_random(rng);
  Buffer y_ref(size_t(n) * out), y(size_t(n) * out), dx_ref(x.size()), dx(x.size()), dw_ref(w.size()), dw(w.size()),
      db(out);
  RN_EXPECT_OK(rn_linear_forward(cpu, n, in, out, x.data(), w.data(), b.data(), y_ref.data()));
  every_tile(
      linear::LinearForward{out, n, in, x.data(), w.data(), b.data(), y.data()}, 1, 0, [&] { y.poison(); },
      [&](const char* t) { check(l + " forward " + t, y, y_ref); });
  RN_EXPECT_OK(rn_linear_backward_data(cpu, n, in, out, dy.data(), w.data(), dx_ref.data()));
  every_tile(
      linear::LinearBackwardData{in, n, out, dy.data(), w.data(), dx.data()}, 1, 0, [&] { dx.poison(); },
      [&](const char* t) { check(l + " backward_data " + t, dx, dx_ref); });
  RN_EXPECT_OK(rn_linear_backward_weight(cpu, n, in, out, x.data(), dy.data(), dw_ref.data(), db.data()));
  every_tile(
      linear::LinearBackwardWeight{out, in, n, x.data(), dy.data(), dw.data()}, 1, 0, [&] { dw.poison(); },
      [&](const char* t) { check(l + " backward_weight " + t, dw, dw_ref); });
}

void fast_div() {
  int bad = 0;
  std::mt19937_64 rng(5);
  for (uint32_t d : {1u, 2u, 3u, 7u, 9u, 42u, 49u, 1024u, 12544u, 65535u, 1u << 30, 2147483647u}) {
    const FastDiv f(d);
    for (uint32_t n : {0u, 1u, d - 1, d, d + 1, 2147483647u, 2147483646u})
      if (f.div(n) != n / d) ++bad;
    for (int i = 0; i < 100000; ++i) {
      const uint32_t n = uint32_t(rng()) & 0x7fffffffu;
      if (f.div(n) != n / d) ++bad;
    }
  }
  RN_EXPECT(bad == 0, "FastDiv: %d wrong quotients", bad);
}

}  // namespace

int main() {
  rn_context* cpu = rn_context_create(0);
  std::mt19937_64 rng(99);
  fast_div();
  const Case cases[] = {
      {3, 5, 7, 6, 4, 3, 3, 1, 1, 1, 1},    // the odd 3x3
      {3, 5, 7, 6, 4, 3, 3, 2, 2, 1, 1},    // stride 2
      {3, 5, 7, 6, 6, 1, 1, 2, 2, 0, 0},    // 1x1 stride 2
      {2, 3, 15, 13, 8, 7, 7, 2, 2, 3, 3},  // 7x7 stem
      {3, 4, 9, 8, 5, 3, 1, 2, 1, 1, 0},    // non-square kernel, stride and padding
      {2, 17, 9, 9, 70, 3, 3, 1, 1, 1, 1},  // M > 64: several row tiles, split-K
      {4, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1},  // a longer reduction: six splits
  };
  for (const Case& cs : cases) conv_case(cpu, rng, cs);
  linear_case(cpu, rng, 3, 17, 10);
  linear_case(cpu, rng, 33, 70, 130);
  rn_context_destroy(cpu);
  return finish("cuda emulated gemm");
}
