// rn_cudnn_load against stand-in cuDNN libraries (fake_cudnn.cpp; no GPU, no cuDNN
// needed): the shim-first, sub-library-second lookup, the messages of each way a load
// can fail (sub-library missing, function missing, not cuDNN 9, the path from
// $RESNORM_CUDNN_LIB), retry after a failure, concurrent loads, and that the first
// success stays.
//   test_cudnn_loader <dir with nosub/, nobias/, good/>
//   test_cudnn_loader <dir> --soname   (with good/ on LD_LIBRARY_PATH: the default name
//                                       "libcudnn.so.9", found by the dynamic linker)
#include <string>
#include <thread>
#include <vector>

#include "resnorm/cuda_cudnn.h"
#include "test_util.h"

using namespace rntest;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: test_cudnn_loader <fake cuDNN dir>\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::string nosub = dir + "/nosub/libcudnn.so.9", nobias = dir + "/nobias/libcudnn.so.9",
                    good = dir + "/good/libcudnn.so.9";
  if (argc > 2 && std::string(argv[2]) == "--soname") {
    // The sub-libraries must come from the directory the linker found the shim in.
    unsetenv("RESNORM_CUDNN_LIB");
    RN_EXPECT(rn_cudnn_load(nullptr) == RN_STATUS_OK, "load by soname: %s", rn_cudnn_error());
    std::printf("cudnn loader: %s\n", rn_cudnn_info());
    RN_EXPECT(contains(rn_cudnn_library_path(), "good/libcudnn.so.9"), "path '%s'", rn_cudnn_library_path());
    return finish("cudnn loader (soname)");
  }

  // The path from the environment; the shim loads but its sub-libraries are not beside it.
  setenv("RESNORM_CUDNN_LIB", nosub.c_str(), 1);
  RN_EXPECT(rn_cudnn_load(nullptr) == RN_STATUS_UNSUPPORTED, "shim without sub-libraries");
  std::string why = rn_cudnn_error();
  std::printf("cudnn loader: %s\n", why.c_str());
  RN_EXPECT(contains(why, "nosub/libcudnn_graph.so.9"), "names the missing sub-library: '%s'", why.c_str());
  unsetenv("RESNORM_CUDNN_LIB");

  // A function neither the shim nor its sub-library exports.
  RN_EXPECT(rn_cudnn_load(nobias.c_str()) == RN_STATUS_UNSUPPORTED, "function missing");
  why = rn_cudnn_error();
  std::printf("cudnn loader: %s\n", why.c_str());
  RN_EXPECT(contains(why, "cudnnConvolutionBackwardBias") && contains(why, "libcudnn_cnn.so.9"),
            "names the function and where it was looked for: '%s'", why.c_str());

  // Not cuDNN 9.
  setenv("FAKE_CUDNN_VERSION", "8907", 1);
  RN_EXPECT(rn_cudnn_load(good.c_str()) == RN_STATUS_UNSUPPORTED, "cuDNN 8");
  why = rn_cudnn_error();
  std::printf("cudnn loader: %s\n", why.c_str());
  RN_EXPECT(contains(why, "version 8907"), "names the version: '%s'", why.c_str());
  unsetenv("FAKE_CUDNN_VERSION");
  RN_EXPECT(rn_cudnn_loaded() == 0 && rn_cudnn_version() == 0, "nothing loaded after failures");

  // Several threads at once: one loads, all succeed.
  std::vector<int> status(4, -1);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < status.size(); ++i)
    threads.emplace_back([&, i] { status[i] = rn_cudnn_load(good.c_str()); });
  for (std::thread& t : threads) t.join();
  for (int st : status) RN_EXPECT(st == RN_STATUS_OK, "concurrent load returned %d: %s", st, rn_cudnn_error());
  RN_EXPECT(rn_cudnn_loaded() == 1 && rn_cudnn_version() == 91900, "version %d", rn_cudnn_version());
  const std::string path = rn_cudnn_library_path(), info = rn_cudnn_info();
  std::printf("cudnn loader: %s\n", info.c_str());
  RN_EXPECT(contains(path, "good/libcudnn.so.9"), "path '%s'", path.c_str());
  // The fake shim exports cudnnGetVersion, cudnnGetErrorString and cudnnCreate; the other
  // 29 come from the sub-libraries.
  RN_EXPECT(contains(info, "cuDNN 9.19.0") && contains(info, "3 of 32 functions found in the shim"), "info '%s'",
            info.c_str());
  RN_EXPECT(rn_cudnn_error()[0] == '\0', "no error after a success: '%s'", rn_cudnn_error());

  // The first success stays.
  RN_EXPECT(rn_cudnn_load(nosub.c_str()) == RN_STATUS_OK, "later load");
  RN_EXPECT(rn_cudnn_library_path() == path, "path unchanged");

  // Loaded, but no context: the ops refuse before touching cuDNN.
  rn_conv2d_desc d{};
  d.n = 1, d.c = 1, d.h = 3, d.w = 3, d.k = 1, d.r = 3, d.s = 3, d.stride_h = d.stride_w = 1, d.pad_h = d.pad_w = 1;
  d.p = 3, d.q = 3;
  float host[16] = {};
  RN_EXPECT(rn_cudnn_conv2d_forward(nullptr, &d, host, host, nullptr, host) == RN_STATUS_BAD_ARGUMENT, "ctx null");
  RN_EXPECT(rn_cuda_context_set_conv_impl(nullptr, RN_CUDA_CONV_IMPL_CUDNN) == RN_STATUS_BAD_ARGUMENT, "ctx null");
  return finish("cudnn loader");
}
