// Loads cuDNN 9 at run time (rn_cudnn_load): no cuDNN header or library is needed to
// build or to load libresnorm_cuda, so the library still loads, and its native kernels
// still run, where cuDNN is absent.
//
// cuDNN 9 is a shim, libcudnn.so.9, that opens its sub-libraries (libcudnn_graph,
// _ops, _cnn, _adv, the engine libraries) from its own directory on demand. Each
// function is looked up in the shim first and, if the shim does not export it, in the
// sub-library that defines it (the table below), opened from the shim's directory. The
// three sub-libraries the conv needs are opened here in any case, RTLD_NOW, so that a
// missing dependency of theirs (libcublasLt, say) is reported by rn_cudnn_load with the
// dynamic linker's message rather than as a failed cuDNN call later. After a success
// the libraries stay loaded for the life of the process (cuDNN handles may outlive any
// caller); a failed attempt unloads what it opened.
#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "cuda_impl.cuh"
#include "cudnn_api.cuh"
#include "resnorm/cuda_cudnn.h"

namespace rn::cuda::cudnn {

namespace {

std::mutex error_lock;
std::string last_error;  // guarded by error_lock

std::mutex load_lock;                      // serializes rn_cudnn_load
Api table;                                 // written under load_lock before `loaded` is published
std::atomic<const Api*> loaded{nullptr};   // &table once complete
std::string library_path, library_info;    // written before `loaded`, read-only after

enum SubLibrary { kGraph, kOps, kCnn, kSubLibraries };
constexpr const char* kSubLibraryNames[kSubLibraries] = {"libcudnn_graph.so.9", "libcudnn_ops.so.9",
                                                         "libcudnn_cnn.so.9"};

std::string dlerror_text() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown dynamic-linker error";
}

// The file a dlopen handle refers to (the name dlopen found, e.g. a full path).
std::string file_of(void* handle) {
  struct link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr) return map->l_name;
  return "";
}

// One attempt with one file name; on failure the reason goes to rn_cudnn_error().
int load_from(const std::string& name) {
  void* shim = dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (shim == nullptr) {
    set_error("cannot load cuDNN: dlopen(\"%s\") failed: %s", name.c_str(), dlerror_text().c_str());
    return RN_STATUS_UNSUPPORTED;
  }
  std::string path = file_of(shim);
  if (path.empty()) path = name;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);

  void* sub[kSubLibraries] = {};
  // A failed attempt unloads what it loaded (nothing of cuDNN ran but cudnnGetVersion),
  // so that a retry with another path starts clean.
  auto unload = [&] {
    for (void* h : sub)
      if (h != nullptr) dlclose(h);
    dlclose(shim);
    return RN_STATUS_UNSUPPORTED;
  };
  for (int i = 0; i < kSubLibraries; ++i) {
    const std::string file = dir + kSubLibraryNames[i];
    sub[i] = dlopen(file.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (sub[i] == nullptr) {
      set_error("cannot load cuDNN: %s loaded, but dlopen(\"%s\") failed: %s", path.c_str(), file.c_str(),
                dlerror_text().c_str());
      return unload();
    }
  }

  Api a{};
  int from_shim = 0, from_sub = 0;
  std::string missing;
  auto resolve = [&](const char* symbol, SubLibrary home, bool required) -> void* {
    void* f = dlsym(shim, symbol);
    if (f != nullptr) {
      ++from_shim;
      return f;
    }
    f = dlsym(sub[home], symbol);
    if (f != nullptr) {
      ++from_sub;
      return f;
    }
    if (required && missing.empty())
      missing = std::string(symbol) + " (in neither " + path + " nor " + dir + kSubLibraryNames[home] + ")";
    return nullptr;
  };
#define RN_CUDNN_RESOLVE(field, home, required) \
  a.field = reinterpret_cast<decltype(a.field)>(resolve("cudnn" #field, home, required))
  RN_CUDNN_RESOLVE(GetVersion, kGraph, true);
  RN_CUDNN_RESOLVE(GetCudartVersion, kGraph, false);
  RN_CUDNN_RESOLVE(GetErrorString, kGraph, true);
  RN_CUDNN_RESOLVE(GetLastErrorString, kGraph, false);
  RN_CUDNN_RESOLVE(Create, kGraph, true);
  RN_CUDNN_RESOLVE(Destroy, kGraph, true);
  RN_CUDNN_RESOLVE(SetStream, kGraph, true);
  RN_CUDNN_RESOLVE(CreateTensorDescriptor, kOps, true);
  RN_CUDNN_RESOLVE(SetTensor4dDescriptor, kOps, true);
  RN_CUDNN_RESOLVE(DestroyTensorDescriptor, kOps, true);
  RN_CUDNN_RESOLVE(CreateFilterDescriptor, kOps, true);
  RN_CUDNN_RESOLVE(SetFilter4dDescriptor, kOps, true);
  RN_CUDNN_RESOLVE(DestroyFilterDescriptor, kOps, true);
  RN_CUDNN_RESOLVE(AddTensor, kOps, true);
  RN_CUDNN_RESOLVE(CreateConvolutionDescriptor, kCnn, true);
  RN_CUDNN_RESOLVE(SetConvolution2dDescriptor, kCnn, true);
  RN_CUDNN_RESOLVE(SetConvolutionMathType, kCnn, true);
  RN_CUDNN_RESOLVE(DestroyConvolutionDescriptor, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolution2dForwardOutputDim, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolutionForwardAlgorithmMaxCount, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolutionBackwardDataAlgorithmMaxCount, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolutionBackwardFilterAlgorithmMaxCount, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolutionForwardWorkspaceSize, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolutionBackwardDataWorkspaceSize, kCnn, true);
  RN_CUDNN_RESOLVE(GetConvolutionBackwardFilterWorkspaceSize, kCnn, true);
  RN_CUDNN_RESOLVE(FindConvolutionForwardAlgorithmEx, kCnn, true);
  RN_CUDNN_RESOLVE(FindConvolutionBackwardDataAlgorithmEx, kCnn, true);
  RN_CUDNN_RESOLVE(FindConvolutionBackwardFilterAlgorithmEx, kCnn, true);
  RN_CUDNN_RESOLVE(ConvolutionForward, kCnn, true);
  RN_CUDNN_RESOLVE(ConvolutionBackwardData, kCnn, true);
  RN_CUDNN_RESOLVE(ConvolutionBackwardFilter, kCnn, true);
  RN_CUDNN_RESOLVE(ConvolutionBackwardBias, kCnn, true);
#undef RN_CUDNN_RESOLVE
  if (!missing.empty()) {
    set_error("cannot use cuDNN: function %s", missing.c_str());
    return unload();
  }

  // The declarations in cudnn_api.cuh are cuDNN 9's (version major*10000 + minor*100 +
  // patch since 9.0; cuDNN 8 counted major*1000): refuse any other major version.
  const size_t v = a.GetVersion();
  const size_t major = v >= 10000 ? v / 10000 : v / 1000;
  if (major != 9) {
    set_error("cannot use cuDNN from %s: version %zu, this build declares the cuDNN 9 API", path.c_str(), v);
    return unload();
  }

  table = a;
  library_path = path;
  char info[1024];
  std::snprintf(info, sizeof info,
                "cuDNN %zu.%zu.%zu (its cudart %zu) from %s; %d of %d functions found in the shim, the rest in "
                "libcudnn_{graph,ops,cnn}.so.9",
                v / 10000, v / 100 % 100, v % 100, a.GetCudartVersion ? a.GetCudartVersion() : size_t(0),
                path.c_str(), from_shim, from_shim + from_sub);
  library_info = info;
  loaded.store(&table, std::memory_order_release);
  set_error("%s", "");
  return RN_STATUS_OK;
}

}  // namespace

const Api* api() { return loaded.load(std::memory_order_acquire); }

void set_error(const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  std::lock_guard<std::mutex> hold(error_lock);
  last_error = buf;
}

int fail(const char* call, Status status) {
  const Api* a = api();
  const char* name = a != nullptr ? a->GetErrorString(status) : nullptr;
  char detail[512] = {};
  if (a != nullptr && a->GetLastErrorString != nullptr) a->GetLastErrorString(detail, sizeof detail);
  set_error("%s failed: %s (%d)%s%s", call, name != nullptr ? name : "?", status, detail[0] ? ": " : "", detail);
  return RN_STATUS_INTERNAL;
}

int not_loaded() {
  set_error("cuDNN is not loaded (rn_cudnn_load has not succeeded)");
  return RN_STATUS_UNSUPPORTED;
}

}  // namespace rn::cuda::cudnn

namespace cudnn = rn::cuda::cudnn;

extern "C" {

RN_API int rn_cudnn_load(const char* path) {
  try {
    std::lock_guard<std::mutex> hold(cudnn::load_lock);
    if (cudnn::api() != nullptr) return RN_STATUS_OK;
    std::string name;
    if (path != nullptr && path[0] != '\0') {
      name = path;
    } else {
      const char* env = std::getenv("RESNORM_CUDNN_LIB");
      name = env != nullptr && env[0] != '\0' ? env : "libcudnn.so.9";
    }
    return cudnn::load_from(name);
  } catch (...) {
    cudnn::set_error("cannot load cuDNN: out of memory");
    return RN_STATUS_UNSUPPORTED;
  }
}

RN_API int rn_cudnn_loaded(void) { return cudnn::api() != nullptr ? 1 : 0; }

RN_API const char* rn_cudnn_error(void) {
  // A copy per thread: another thread may replace the message while the caller reads it.
  thread_local std::string copy;
  std::lock_guard<std::mutex> hold(cudnn::error_lock);
  copy = cudnn::last_error;
  return copy.c_str();
}

RN_API int rn_cudnn_version(void) {
  const cudnn::Api* a = cudnn::api();
  return a != nullptr ? static_cast<int>(a->GetVersion()) : 0;
}

RN_API const char* rn_cudnn_library_path(void) { return cudnn::api() != nullptr ? cudnn::library_path.c_str() : ""; }
RN_API const char* rn_cudnn_info(void) { return cudnn::api() != nullptr ? cudnn::library_info.c_str() : ""; }

}  // extern "C"
