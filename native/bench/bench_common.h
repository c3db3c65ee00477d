// Pieces the native conv benchmarks share (bench_conv, bench_conv_paired, bench_conv_ab).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "resnorm/resnorm.h"

namespace rnbench {

// The engine's own tensor memory (rn_alloc: 64-byte aligned, as Tensor.java gets it): a
// std::vector's large blocks start 16 bytes into a page, so every vector load and store
// of x, y, dy and dx would split across two cache lines, which no caller of the engine sees.
template <class T>
struct EngineAllocator {
  using value_type = T;
  EngineAllocator() = default;
  template <class U>
  EngineAllocator(const EngineAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = rn_alloc(n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { rn_free(p); }
  template <class U>
  bool operator==(const EngineAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const EngineAllocator<U>&) const { return false; }
};
using Floats = std::vector<float, EngineAllocator<float>>;

// Seconds per call of f (an engine call returning a status; a failure ends the process), at
// least min_calls of them and until budget seconds have gone by, in ascending order.
template <class F>
std::vector<double> timed_calls(const F& f, int min_calls, double budget) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> times;
  for (const auto start = Clock::now();
       int(times.size()) < min_calls || std::chrono::duration<double>(Clock::now() - start).count() < budget;) {
    const auto t = Clock::now();
    if (f() != RN_STATUS_OK) {
      std::fprintf(stderr, "a call failed\n");
      std::exit(1);
    }
    times.push_back(std::chrono::duration<double>(Clock::now() - t).count());
  }
  std::sort(times.begin(), times.end());
  return times;
}

// The median of v (the upper one of an even count).
inline double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// n floats uniform in [-1, 1).
inline Floats random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  Floats v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// One conv's tensors for its three directions, random, in the engine's memory, and a call of one
// direction: 'f' forward, 'd' backward-data, 'w' backward-filter (no bias).
struct ConvTensors {
  Floats x, w, y, dy, dx, dw;
  ConvTensors(const rn_conv2d_desc& d, std::mt19937& rng)
      : x(random_floats(size_t(d.n) * d.c * d.h * d.w, rng)),
        w(random_floats(size_t(d.k) * d.c * d.r * d.s, rng)),
        y(random_floats(size_t(d.n) * d.k * d.p * d.q, rng)),
        dy(random_floats(y.size(), rng)),
        dx(random_floats(x.size(), rng)),
        dw(random_floats(w.size(), rng)) {}
  int run(rn_context* ctx, const rn_conv2d_desc& d, char direction) {
    if (direction == 'f') return rn_conv2d_forward(ctx, &d, x.data(), w.data(), nullptr, y.data());
    if (direction == 'd') return rn_conv2d_backward_data(ctx, &d, dy.data(), w.data(), dx.data());
    return rn_conv2d_backward_filter(ctx, &d, x.data(), dy.data(), dw.data(), nullptr);
  }
};

// The conv of the command line's first nine arguments, N C H W K R S stride pad, with its output
// size (left 0 where the shape has none: rn_conv2d_check then rejects it).
inline rn_conv2d_desc conv_desc_from_args(char** argv) {
  rn_conv2d_desc d{};
  d.n = std::atoi(argv[1]); d.c = std::atoi(argv[2]); d.h = std::atoi(argv[3]); d.w = std::atoi(argv[4]);
  d.k = std::atoi(argv[5]); d.r = std::atoi(argv[6]); d.s = std::atoi(argv[7]);
  d.stride_h = d.stride_w = std::atoi(argv[8]);
  d.pad_h = d.pad_w = std::atoi(argv[9]);
  if (d.stride_h > 0 && d.h + 2 * d.pad_h >= d.r && d.w + 2 * d.pad_w >= d.s) {
    d.p = (d.h + 2 * d.pad_h - d.r) / d.stride_h + 1;
    d.q = (d.w + 2 * d.pad_w - d.s) / d.stride_w + 1;
  }
  return d;
}

// The conv that reads a CReLU of c channels at hw x hw: 2c -> k, 3x3, stride 1, pad 1, algo AUTO
// (the basic block's conv2 whose input is the CReLU; bench_crelu_paths, bench_crelu_backward).
inline rn_conv2d_desc crelu_input_conv_desc(int n, int c, int hw, int k) {
  rn_conv2d_desc d{};
  d.n = n; d.c = 2 * c; d.h = d.w = hw; d.k = k; d.r = d.s = 3;
  d.stride_h = d.stride_w = 1; d.pad_h = d.pad_w = 1; d.p = d.q = hw; d.algo = RN_CONV_ALGO_AUTO;
  return d;
}

}  // namespace rnbench
