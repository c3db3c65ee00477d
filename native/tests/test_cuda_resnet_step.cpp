// A whole training step on the CUDA backend against the CPU backend: the CIFAR ResNet of
// bench/cifar_resnet_step.h (BN + ReLU and BN + CReLU, option-A shortcuts, fused SGD)
// built twice from the same seed and fed the same batches, on odd sizes (batch 3, 9x9
// images, 5 classes). After each of three steps the losses must agree, and at the end the
// parameters and the BN running statistics (relative error, float32 on both sides with
// different summation orders). Every buffer starts as NaN, so an op that reads something
// no earlier op wrote shows up as a NaN loss.
//
// On a device it also records a step as a CUDA graph and checks that replaying it gives
// bit for bit what eager steps give (same kernels, same order, deterministic reductions).
// Without a device: skipped (77), like the other CUDA tests; the host-emulation build
// runs the eager part (graphs report UNSUPPORTED there).
#define RN_STEP_WITH_CUDA 1
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "cifar_resnet_step.h"
#include "test_cuda_util.h"

namespace {

using rn::step::Config;
using CpuNet = rn::step::CifarResNet<rn::step::CpuBackend>;
using GpuNet = rn::step::CifarResNet<rn::step::CudaBackend>;

double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = double(got[i]) - double(want[i]);
    num += d * d;
    den += double(want[i]) * double(want[i]);
  }
  if (!(num == num)) return INFINITY;  // NaN
  return std::sqrt(num / (den > 0 ? den : 1));
}

struct Batch {
  std::vector<float> images;
  std::vector<int32_t> labels;
};

Batch make_batch(const Config& c, std::mt19937_64& rng) {
  Batch b;
  b.images.resize(size_t(c.batch) * c.channels * c.hw * c.hw);
  b.labels.resize(size_t(c.batch));
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (float& v : b.images) v = g(rng);
  std::uniform_int_distribution<int32_t> u(0, c.classes - 1);
  for (int32_t& l : b.labels) l = u(rng);
  return b;
}

bool feed(CpuNet& net, const Batch& b) {
  std::memcpy(net.images(), b.images.data(), b.images.size() * sizeof(float));
  std::memcpy(net.labels(), b.labels.data(), b.labels.size() * sizeof(int32_t));
  return true;
}

bool feed(GpuNet& net, rn_cuda_context* gpu, const Batch& b) {
  return rn_cuda_copy_to_device(gpu, net.images(), b.images.data(), b.images.size() * sizeof(float)) ==
             RN_STATUS_OK &&
         rn_cuda_copy_to_device(gpu, net.labels(), b.labels.data(), b.labels.size() * sizeof(int32_t)) ==
             RN_STATUS_OK;
}

void cpu_vs_cuda(rn_context* cpu, rn_cuda_context* gpu, const Config& c, const char* label) {
  CpuNet ref(cpu, c, 7);
  GpuNet net(gpu, c, 7);
  RN_EXPECT(ref.status() == RN_STATUS_OK && net.status() == RN_STATUS_OK, "%s: build failed (%d, %d)", label,
            ref.status(), net.status());
  if (ref.status() != RN_STATUS_OK || net.status() != RN_STATUS_OK) return;
  RN_EXPECT(ref.param_count() == net.param_count(), "%s: parameter counts differ", label);
  std::mt19937_64 rng(11);
  const float lr = 0.05f;
  for (int step = 0; step < 3; ++step) {
    const Batch b = make_batch(c, rng);
    RN_EXPECT(feed(ref, b) && feed(net, gpu, b), "%s: upload failed", label);
    RN_CUDA_EXPECT_OK(ref.step(lr));
    RN_CUDA_EXPECT_OK(net.step(lr));
    RN_CUDA_EXPECT_OK(rn_cuda_synchronize(gpu));
    float want = NAN, got = NAN;
    RN_CUDA_EXPECT_OK(ref.loss(&want));
    RN_CUDA_EXPECT_OK(net.loss(&got));
    const double err = std::fabs(double(got) - want) / std::fabs(double(want));
    std::printf("%s: step %d loss cpu %.7f cuda %.7f (rel %.2g)\n", label, step, want, got, err);
    RN_EXPECT(std::isfinite(want) && std::isfinite(got), "%s: step %d: loss not finite", label, step);
    RN_EXPECT(err < 1e-5, "%s: step %d: losses differ by %.3g", label, step, err);
  }
  std::vector<float> want, got;
  RN_CUDA_EXPECT_OK(ref.download_params(&want));
  RN_CUDA_EXPECT_OK(net.download_params(&got));
  double err = rel_error(got, want);
  std::printf("%s: %lld parameters after 3 steps: rel error %.3g\n", label, (long long)want.size(), err);
  RN_EXPECT(err < 1e-5, "%s: parameters differ: relative error %.3g", label, err);
  RN_CUDA_EXPECT_OK(ref.download_running_stats(&want));
  RN_CUDA_EXPECT_OK(net.download_running_stats(&got));
  err = rel_error(got, want);
  RN_EXPECT(err < 1e-5, "%s: BN running statistics differ: relative error %.3g", label, err);
}

// Eager steps vs one recorded step replayed: identical losses and parameters.
void graph_vs_eager(rn_cuda_context* gpu, const Config& c, const char* label) {
  std::vector<float> eager_loss, graph_loss, eager_params, graph_params;
  std::mt19937_64 rng(5);
  const Batch b = make_batch(c, rng);
  {
    GpuNet net(gpu, c, 3);
    RN_EXPECT(net.status() == RN_STATUS_OK, "%s: build failed", label);
    if (net.status() != RN_STATUS_OK) return;
    RN_EXPECT(feed(net, gpu, b), "%s: upload failed", label);
    for (int s = 0; s < 4; ++s) {
      RN_CUDA_EXPECT_OK(net.step(0.05f));
      float l = NAN;
      RN_CUDA_EXPECT_OK(net.loss(&l));
      eager_loss.push_back(l);
    }
    RN_CUDA_EXPECT_OK(net.download_params(&eager_params));
  }
  GpuNet net(gpu, c, 3);
  RN_EXPECT(feed(net, gpu, b), "%s: upload failed", label);
  RN_CUDA_EXPECT_OK(net.step(0.05f));  // the first step (v = g) runs eagerly and sizes the workspace
  float l = NAN;
  RN_CUDA_EXPECT_OK(net.loss(&l));
  graph_loss.push_back(l);
  int st = rn_cuda_graph_begin(gpu);
  if (st == RN_STATUS_UNSUPPORTED) {
    std::printf("%s: graphs not supported by this runtime (host emulation): replay not checked\n", label);
    return;
  }
  RN_CUDA_EXPECT_OK(st);
  RN_EXPECT(rn_cuda_graph_recording(gpu) == 1, "%s: not recording", label);
  RN_CUDA_EXPECT_OK(net.step(0.05f));
  RN_EXPECT(rn_cuda_synchronize(gpu) == RN_STATUS_UNSUPPORTED, "%s: synchronize while recording must be refused",
            label);
  rn_cuda_graph* graph = nullptr;
  RN_CUDA_EXPECT_OK(rn_cuda_graph_end(gpu, &graph));
  if (graph == nullptr) return;
  std::printf("%s: graph of %zu nodes\n", label, rn_cuda_graph_nodes(graph));
  for (int s = 1; s < 4; ++s) {
    RN_CUDA_EXPECT_OK(rn_cuda_graph_launch(gpu, graph));
    RN_CUDA_EXPECT_OK(rn_cuda_synchronize(gpu));
    RN_CUDA_EXPECT_OK(net.loss(&l));
    graph_loss.push_back(l);
  }
  RN_CUDA_EXPECT_OK(net.download_params(&graph_params));
  // A workspace reallocated after recording leaves the graph pointing at freed memory: refused.
  RN_EXPECT(rn_cuda_graph_valid(gpu, graph) == 1, "%s: fresh graph not valid", label);
  RN_CUDA_EXPECT_OK(rn_cuda_workspace_reserve(gpu, rn_cuda_workspace_bytes(gpu) * 2 + (size_t(1) << 20)));
  RN_EXPECT(rn_cuda_graph_valid(gpu, graph) == 0, "%s: graph still valid after the workspace moved", label);
  RN_EXPECT(rn_cuda_graph_launch(gpu, graph) == RN_STATUS_BAD_ARGUMENT, "%s: stale graph launched", label);
  rn_cuda_graph_destroy(graph);
  for (size_t s = 0; s < eager_loss.size(); ++s)
    RN_EXPECT(eager_loss[s] == graph_loss[s], "%s: step %zu: eager loss %.9g, graph replay %.9g", label, s,
              eager_loss[s], graph_loss[s]);
  RN_EXPECT(eager_params == graph_params, "%s: parameters after replay differ from eager (rel %.3g)", label,
            rel_error(graph_params, eager_params));
}

// The executor's fusions across ops (the block's add + ReLU inside its last BN, the CReLU
// formed by the next conv, a block's input gradients summed in the add + ReLU backward of the
// block below) against the separate ops, on the CPU: the same losses and
// parameters (bit for bit where the fused kernels are: the BN's add + ReLU is the same
// arithmetic, and the CReLU-input conv reads the values the 2C tensor would hold).
void fused_vs_separate(rn_context* cpu, Config c, const char* label) {
  Config fused = c;
  fused.residual_in_bn = true;
  fused.crelu_in_conv = true;
  fused.residual_sum_backward = true;
  CpuNet sep(cpu, c, 9), net(cpu, fused, 9);
  RN_EXPECT(sep.status() == RN_STATUS_OK && net.status() == RN_STATUS_OK, "%s: build failed", label);
  if (sep.status() != RN_STATUS_OK || net.status() != RN_STATUS_OK) return;
  RN_EXPECT(net.bytes() < sep.bytes(), "%s: the fused network plans no less memory (%zu vs %zu bytes)", label,
            net.bytes(), sep.bytes());
  std::mt19937_64 rng(13);
  for (int step = 0; step < 3; ++step) {
    const Batch b = make_batch(c, rng);
    RN_EXPECT(feed(sep, b) && feed(net, b), "%s: upload failed", label);
    RN_CUDA_EXPECT_OK(sep.step(0.05f));
    RN_CUDA_EXPECT_OK(net.step(0.05f));
    float want = NAN, got = NAN;
    RN_CUDA_EXPECT_OK(sep.loss(&want));
    RN_CUDA_EXPECT_OK(net.loss(&got));
    RN_EXPECT(std::isfinite(got) && got == want, "%s: step %d: loss %.9g fused, %.9g separate", label, step, got,
              want);
  }
  std::vector<float> want, got;
  RN_CUDA_EXPECT_OK(sep.download_params(&want));
  RN_CUDA_EXPECT_OK(net.download_params(&got));
  RN_EXPECT(want == got, "%s: parameters differ after 3 steps (rel %.3g)", label, rel_error(got, want));
}

}  // namespace

int main() {
  rn_cuda_context* gpu = rntest::cuda::context_or_skip("cuda_resnet_step");
  rn_context* cpu = rn_context_create(2);
  // Graph calls need a context and balanced begin/end; cheap argument checks first.
  RN_EXPECT(rn_cuda_graph_launch(gpu, nullptr) == RN_STATUS_BAD_ARGUMENT, "launch(NULL) accepted");
  RN_EXPECT(rn_cuda_graph_end(gpu, nullptr) == RN_STATUS_BAD_ARGUMENT, "end without begin accepted");
  RN_EXPECT(rn_cuda_graph_begin(nullptr) == RN_STATUS_BAD_ARGUMENT, "begin(NULL) accepted");
  Config c;
  c.batch = 3;
  c.hw = 9;
  c.classes = 5;
  c.width = 4;
  c.poison = true;
  c.depth = 8;
  c.crelu = false;
  cpu_vs_cuda(cpu, gpu, c, "resnet-8 bn+relu");
  c.depth = 14;
  c.crelu = true;
  cpu_vs_cuda(cpu, gpu, c, "resnet-14 bn+crelu");
  graph_vs_eager(gpu, c, "resnet-14 bn+crelu graph");
  fused_vs_separate(cpu, c, "resnet-14 bn+crelu fused vs separate (cpu)");
  c.width = 16;  // CReLU halves of 16 channels: the CPU conv forms the CReLU in its Winograd pack
  c.hw = 8;
  fused_vs_separate(cpu, c, "resnet-14 bn+crelu width 16 fused vs separate (cpu)");
  c.width = 4;
  c.hw = 9;
  c.residual_in_bn = true;
  c.crelu_in_conv = true;
  c.residual_sum_backward = true;
  cpu_vs_cuda(cpu, gpu, c, "resnet-14 bn+crelu, add in bn, crelu in conv");
  graph_vs_eager(gpu, c, "resnet-14 bn+crelu, add in bn, crelu in conv, graph");
  c.crelu = false;
  c.depth = 8;
  cpu_vs_cuda(cpu, gpu, c, "resnet-8 bn+relu, add in bn");
  rn_context_destroy(cpu);
  rn_cuda_context_destroy(gpu);
  return rntest::finish("cuda_resnet_step");
}
