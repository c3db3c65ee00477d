#include "blas.h"

#include <cblas.h>

#include <mutex>

#include "context_impl.h"

namespace rn::blas {

namespace {
std::once_flag g_pin_once;
// Guards OpenBLAS's global thread count while rn_blas_sgemm_ceiling changes it.
std::mutex g_thread_count_mu;
}  // namespace

void pin_single_threaded() {
  std::call_once(g_pin_once, [] {
    std::lock_guard<std::mutex> lock(g_thread_count_mu);
    openblas_set_num_threads(1);
  });
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace rn::blas

extern "C" {

int rn_blas_sgemm_ceiling(int num_threads, int m, int n, int k, const float* a, const float* b, float* c) {
  if (m <= 0 || n <= 0 || k <= 0 || !a || !b || !c) return RN_STATUS_BAD_ARGUMENT;
  std::lock_guard<std::mutex> lock(rn::blas::g_thread_count_mu);
  openblas_set_num_threads(num_threads > 0 ? num_threads : rn_cpu_count());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
  openblas_set_num_threads(1);
  return RN_STATUS_OK;
}

const char* rn_openblas_version(void) { return RN_OPENBLAS_VERSION; }

const char* rn_openblas_corename(void) { return openblas_get_corename(); }

}  // extern "C"
