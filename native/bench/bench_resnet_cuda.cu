// Whole training steps of the CIFAR ResNet-110 (batch 128, 32x32, 10 classes) on the CUDA
// backend: BN + ReLU and BN + CReLU, FP32 and TF32 (and FP32 with cuDNN's convs where cuDNN
// loads: $RESNORM_CUDNN_LIB or libcudnn.so.9), each run two ways on the same network:
//   eager  - every op enqueued from the host, ~1000 kernel launches per step;
//   graph  - the step recorded once as a CUDA graph (rn_cuda_graph_*) and replayed with
//            one launch per step (the issue's "CUDA graph capture of the whole step").
// Reports ms per step (CUDA events on the context's stream, median of the timed rounds),
// images/s and the conv GFLOP/s of the step, as a markdown table (also written to
// argv[1]) and one tab-separated "RESULT" line per row (resnorm, network, math, launch,
// ms) for scripts/gpu-check.sh to set beside PyTorch.
//   bench_resnet_cuda [out.md] [--depth D] [--batch N] [--steps S]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#define RN_STEP_WITH_CUDA 1
#include "cifar_resnet_step.h"
#include "resnorm/cuda_cudnn.h"

namespace {

using Net = rn::step::CifarResNet<rn::step::CudaBackend>;

struct Timing {
  double median_ms = 0, best_ms = 0;
};

// Median and best of `rounds` rounds of `steps` calls of run(), per call.
template <class Run>
bool time_rounds(cudaStream_t stream, int rounds, int steps, const Run& run, Timing* out) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> per_step;
  bool ok = true;
  for (int r = 0; r < rounds && ok; ++r) {
    cudaEventRecord(start, stream);
    for (int s = 0; s < steps && ok; ++s) ok = run() == RN_STATUS_OK;
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    per_step.push_back(double(ms) / steps);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!ok || per_step.empty()) return false;
  std::sort(per_step.begin(), per_step.end());
  out->median_ms = per_step[per_step.size() / 2];
  out->best_ms = per_step.front();
  return true;
}

// Times op families inside eager steps: an event recorded on the stream before each op
// (CifarResNet's marker); the time between two events goes to the first one's family.
class OpProfile {
 public:
  explicit OpProfile(cudaStream_t stream) : stream_(stream) {}
  ~OpProfile() {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
  }
  static void marker(void* self, int op) { static_cast<OpProfile*>(self)->mark(op); }
  void mark(int op) {
    if (used_ == events_.size()) {
      cudaEvent_t e;
      cudaEventCreate(&e);
      events_.push_back(e);
    }
    cudaEventRecord(events_[used_], stream_);
    ops_.push_back(op);
    ++used_;
  }
  // After the profiled steps: adds their times to ms_ and starts over.
  void collect() {
    cudaStreamSynchronize(stream_);
    for (size_t i = 0; i + 1 < used_; ++i) {
      if (ops_[i] == rn::step::kEnd) continue;
      float ms = 0;
      cudaEventElapsedTime(&ms, events_[i], events_[i + 1]);
      ms_[ops_[i]] += ms;
    }
    used_ = 0;
    ops_.clear();
  }
  double ms(int op) const { return ms_[op]; }

 private:
  cudaStream_t stream_;
  std::vector<cudaEvent_t> events_;
  std::vector<int> ops_;
  size_t used_ = 0;
  double ms_[rn::step::kOpCount] = {};
};

struct Row {
  std::string net, math, mode;
  Timing t;
  double flops;
  int batch;
  size_t nodes;
};

// One machine-readable line per row as soon as it is measured (the check script's
// side-by-side table reads them; a run cut short by its timeout keeps the rows it has).
void print_result(const Row& r) {
  std::printf("RESULT\tresnorm\t%s\t%s\t%s\t%.3f\n", r.net.c_str(), r.math.c_str(), r.mode.c_str(), r.t.median_ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const char* out_path = nullptr;
  rn::step::Config base;
  int steps = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_resnet_cuda: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--depth") base.depth = next();
    else if (a == "--batch") base.batch = next();
    else if (a == "--steps") steps = next();
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "usage: bench_resnet_cuda [out.md] [--depth D] [--batch N] [--steps S]\n");
      return 2;
    } else out_path = argv[i];
  }
  rn_cuda_context* ctx = nullptr;
  if (int st = rn_cuda_context_create(0, &ctx); st != RN_STATUS_OK) {
    std::fprintf(stderr, "bench_resnet_cuda: no CUDA device (status %d, device count %d)\n", st,
                 rn_cuda_device_count());
    return 1;
  }
  cudaStream_t stream = static_cast<cudaStream_t>(rn_cuda_context_stream(ctx));
  std::vector<Row> rows;
  std::string profile;
  int status = 0;
  // resnorm's own kernels in FP32 and TF32, each op separate and then with the Java
  // executor's fusions across ops (the add + ReLU in the block's last BN; for CReLU also
  // the CReLU formed by the next conv, with and without the add in the BN, so that the
  // two choices the executor makes on the CPU get measured on the GPU one at a time);
  // then, where cuDNN loads, the step with cuDNN's convs (every other op still resnorm's)
  // as a second reference point.
  struct Variant {
    bool crelu;
    int math, impl;
    bool residual_in_bn = false, crelu_in_conv = false;
    bool profile = false;  // also time the step op family by op family
  };
  std::vector<Variant> variants;
  for (bool crelu : {false, true})
    for (int math : {RN_CUDA_MATH_FP32, RN_CUDA_MATH_TF32}) {
      const bool fp32 = math == RN_CUDA_MATH_FP32;
      variants.push_back({crelu, math, RN_CUDA_CONV_IMPL_NATIVE, false, false, fp32});  // every op separate
      if (crelu && fp32) variants.push_back({crelu, math, RN_CUDA_CONV_IMPL_NATIVE, false, true, false});
      variants.push_back({crelu, math, RN_CUDA_CONV_IMPL_NATIVE, true, crelu, fp32});  // every fusion
    }
  if (rn_cudnn_load(nullptr) == RN_STATUS_OK) {
    for (bool crelu : {false, true}) variants.push_back({crelu, RN_CUDA_MATH_FP32, RN_CUDA_CONV_IMPL_CUDNN});
  } else {
    std::fprintf(stderr, "bench_resnet_cuda: cuDNN not loaded (%s): no cuDNN-conv rows\n", rn_cudnn_error());
  }
  for (const Variant& v : variants) {
    {
      const bool crelu = v.crelu;
      const int math = v.math;
      if (rn_cuda_context_set_math(ctx, math) != RN_STATUS_OK) continue;
      if (rn_cuda_context_set_conv_impl(ctx, v.impl) != RN_STATUS_OK) continue;
      rn::step::Config c = base;
      c.crelu = crelu;
      c.residual_in_bn = v.residual_in_bn;
      c.residual_sum_backward = v.residual_in_bn;  // the executor fuses both residual passes together
      c.crelu_in_conv = v.crelu_in_conv;
      Net net(ctx, c, 1);
      const std::string name =
          "ResNet-" + std::to_string(c.depth) + (crelu ? " BN+CReLU" : " BN+ReLU");
      // The math column names the variant; its first word is the math, which the check
      // script's side-by-side table matches against PyTorch's rows.
      std::string math_label = v.impl == RN_CUDA_CONV_IMPL_CUDNN ? "FP32 (cuDNN convs)"
                               : math == RN_CUDA_MATH_TF32       ? "TF32"
                                                                 : "FP32";
      if (v.residual_in_bn || v.crelu_in_conv)
        math_label += std::string(" (") + (v.residual_in_bn ? "add+ReLU in BN and its bwd" : "") +
                      (v.residual_in_bn && v.crelu_in_conv ? ", " : "") + (v.crelu_in_conv ? "CReLU in conv" : "") +
                      ")";
      const char* math_name = math_label.c_str();
      if (net.status() != RN_STATUS_OK) {
        std::fprintf(stderr, "%s: build failed (status %d)\n", name.c_str(), net.status());
        status = 1;
        continue;
      }
      // A fixed random batch (the step's speed does not depend on the data).
      std::mt19937_64 rng(3);
      std::normal_distribution<float> g(0.0f, 1.0f);
      std::vector<float> images(size_t(c.batch) * c.channels * c.hw * c.hw);
      for (float& v : images) v = g(rng);
      std::vector<int32_t> labels(size_t(c.batch));
      for (size_t i = 0; i < labels.size(); ++i) labels[i] = int32_t(i % size_t(c.classes));
      rn_cuda_copy_to_device(ctx, net.images(), images.data(), images.size() * sizeof(float));
      rn_cuda_copy_to_device(ctx, net.labels(), labels.data(), labels.size() * sizeof(int32_t));
      const float lr = 0.01f;
      // Warm-up: the first step (v = g) and two more size the workspace and load the kernels.
      bool ok = true;
      for (int s = 0; s < 3 && ok; ++s) ok = net.step(lr) == RN_STATUS_OK;
      int sync = rn_cuda_synchronize(ctx);
      float loss = NAN;
      net.loss(&loss);
      if (!ok || sync != RN_STATUS_OK || !(loss == loss)) {
        std::fprintf(stderr, "%s %s: warm-up failed (sync %d, loss %g)\n", name.c_str(), math_name, sync, loss);
        status = 1;
        continue;
      }
      Timing eager;
      if (!time_rounds(stream, 5, steps, [&] { return net.step(lr); }, &eager)) {
        std::fprintf(stderr, "%s %s: eager step failed\n", name.c_str(), math_name);
        status = 1;
        continue;
      }
      rows.push_back({name, math_name, "eager", eager, net.conv_flops_per_step(), c.batch, 0});
      print_result(rows.back());
      // Where an eager step's time goes (events between ops add a little to each): FP32
      // with the ops separate and with every fusion.
      if (v.profile) {
        OpProfile prof(stream);
        net.set_marker(&OpProfile::marker, &prof);
        const int profiled = 3;
        for (int s = 0; s < profiled && ok; ++s) {
          ok = net.step(lr) == RN_STATUS_OK;
          prof.collect();
        }
        net.set_marker(nullptr, nullptr);
        double total = 0;
        for (int op = 0; op < rn::step::kEnd; ++op) total += prof.ms(op);
        char line[160];
        profile += "\n" + name + " " + math_name + ", eager step by op family (ms per step, " +
                   std::to_string(profiled) + " steps):\n\n| op | ms | share |\n|---|---|---|\n";
        for (int op = 0; op < rn::step::kEnd; ++op) {
          std::snprintf(line, sizeof line, "| %s | %.3f | %.1f %% |\n", rn::step::op_name(op), prof.ms(op) / profiled,
                        total > 0 ? 100.0 * prof.ms(op) / total : 0.0);
          profile += line;
        }
      }
      rn_cuda_graph* graph = nullptr;
      int st = rn_cuda_graph_begin(ctx);
      if (st == RN_STATUS_OK) st = net.step(lr);
      const int end = rn_cuda_graph_recording(ctx) ? rn_cuda_graph_end(ctx, &graph) : RN_STATUS_OK;
      if (st == RN_STATUS_OK) st = end;
      Timing replay;
      if (st != RN_STATUS_OK || graph == nullptr) {
        std::fprintf(stderr, "%s %s: recording the step as a graph failed (status %d)\n", name.c_str(), math_name,
                     st);
        status = 1;
      } else {
        for (int s = 0; s < 3; ++s) rn_cuda_graph_launch(ctx, graph);
        if (!time_rounds(stream, 5, steps, [&] { return rn_cuda_graph_launch(ctx, graph); }, &replay)) {
          std::fprintf(stderr, "%s %s: graph launch failed\n", name.c_str(), math_name);
          status = 1;
        } else {
          rows.push_back({name, math_name, "graph", replay, net.conv_flops_per_step(), c.batch,
                          rn_cuda_graph_nodes(graph)});
          print_result(rows.back());
        }
        rn_cuda_graph_destroy(graph);
      }
      sync = rn_cuda_synchronize(ctx);
      net.loss(&loss);
      if (sync != RN_STATUS_OK || !(loss == loss)) {
        std::fprintf(stderr, "%s %s: after timing: sync %d, loss %g\n", name.c_str(), math_name, sync, loss);
        status = 1;
      }
    }
  }
  std::string table = "resnorm whole training step on " + std::string(rn_cuda_context_device_name(ctx)) +
                      " (batch " + std::to_string(base.batch) + ", CIFAR 32x32; median of 5 rounds of " +
                      std::to_string(steps) + " steps)\n\n"
                      "| network | math | launch | ms/step (median) | best | images/s | conv GFLOP/s | graph nodes |\n"
                      "|---|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %s | %s | %.2f | %.2f | %.0f | %.0f | %s |\n", r.net.c_str(),
                  r.math.c_str(), r.mode.c_str(), r.t.median_ms, r.t.best_ms, r.batch / (r.t.median_ms * 1e-3),
                  r.flops / (r.t.median_ms * 1e6), r.nodes ? std::to_string(r.nodes).c_str() : "-");
    table += line;
  }
  table += profile;
  std::fputs(table.c_str(), stdout);
  if (out_path != nullptr) {
    if (FILE* f = std::fopen(out_path, "w")) {
      std::fputs(table.c_str(), f);
      std::fclose(f);
    }
  }
  rn_cuda_context_destroy(ctx);
  return status;
}
