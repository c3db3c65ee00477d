// The one threading runtime of the CPU backend.
//
// Why our own pool and not OpenMP: OpenBLAS (pthreads build) and an OpenMP
// runtime side by side fight over the 2 cores (busy-waiting workers made a
// saxpy 30x slower in BUILD-NOTES.md). Here every parallel region runs on this
// pool, and OpenBLAS is only ever called single-threaded from inside a pool
// task (see blas.h), so exactly one set of threads is runnable at a time.
//
// Workers spin briefly after a job (back-to-back kernels of a training step
// start without a futex round trip), then sleep on a condition variable, so an
// idle engine costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace rn {

class ThreadPool {
 public:
  // A job: called once per thread id in [0, nthreads).
  using JobFn = void (*)(void* arg, int tid, int nthreads);

  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return num_threads_; }

  // Runs fn(arg, tid, n) for tid = 0..n-1 with n = min(max_threads, size());
  // the calling thread runs tid 0. Returns when all are done. A call made from
  // inside a job runs serially on the caller (no nesting, no deadlock).
  void run(JobFn fn, void* arg, int max_threads);

  // Convenience: splits [0, count) into contiguous chunks, one per thread, and
  // calls body(begin, end, tid). Uses fewer threads when count is small
  // (at least min_per_thread items each).
  template <class Body>
  void parallel_for(int64_t count, int64_t min_per_thread, const Body& body) {
    if (count <= 0) return;
    int64_t by_size = min_per_thread > 0 ? (count + min_per_thread - 1) / min_per_thread : count;
    int n = static_cast<int>(by_size < size() ? by_size : size());
    if (n < 1) n = 1;
    struct Ctx { const Body* body; int64_t count; } c{&body, count};
    run([](void* a, int tid, int nt) {
          auto* cc = static_cast<Ctx*>(a);
          int64_t begin = cc->count * tid / nt, end = cc->count * (tid + 1) / nt;
          if (begin < end) (*cc->body)(begin, end, tid);
        }, &c, n);
  }

  // Runs body(tid, nthreads) on n = min(max_threads, size()) threads.
  template <class Body>
  void run_each(int max_threads, const Body& body) {
    run([](void* a, int tid, int nt) { (*static_cast<const Body*>(a))(tid, nt); },
        const_cast<Body*>(&body), max_threads);
  }

 private:
  void worker_main(int tid);

  const int num_threads_;
  std::vector<std::thread> workers_;

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  // Job slot, published by bumping generation_.
  JobFn job_fn_ = nullptr;
  void* job_arg_ = nullptr;
  int job_threads_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stopping_ = false;
};

}  // namespace rn
