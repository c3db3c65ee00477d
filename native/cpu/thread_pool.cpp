#include "thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RN_CPU_RELAX() _mm_pause()
#else
#define RN_CPU_RELAX() ((void)0)
#endif

namespace rn {

namespace {
// Set while this thread executes a pool job: a nested run() goes serial.
thread_local bool t_inside_job = false;

// How long a worker (or the waiting caller) spins before it sleeps. Long enough
// to bridge the gap between two kernels of a training step issued from Java,
// short enough that an idle engine leaves the cores to others.
constexpr auto kSpin = std::chrono::microseconds(200);

template <class Pred>
bool spin_until(const Pred& done) {
  auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      RN_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
}
}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  workers_.reserve(num_threads_ - 1);
  for (int tid = 1; tid < num_threads_; ++tid) workers_.emplace_back([this, tid] { worker_main(tid); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(JobFn fn, void* arg, int max_threads) {
  int n = max_threads < num_threads_ ? max_threads : num_threads_;
  if (n < 1) n = 1;
  if (n == 1 || t_inside_job) {
    // Serial: same partition as the parallel run would use, executed in order.
    bool was_inside = t_inside_job;
    t_inside_job = true;
    for (int tid = 0; tid < n; ++tid) fn(arg, tid, n);
    t_inside_job = was_inside;
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_fn_ = fn;
    job_arg_ = arg;
    job_threads_ = n;
    pending_.store(n - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();

  t_inside_job = true;
  fn(arg, 0, n);
  t_inside_job = false;

  if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }
}

void ThreadPool::worker_main(int tid) {
  // Generation 0 is "no job yet": a job published before this thread got here
  // must still be run, so do not read the current generation as already seen.
  uint64_t seen = 0;
  for (;;) {
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    // Snapshot the job under the lock: the fields and the generation must belong
    // to the same job (the caller writes them together under mu_).
    JobFn fn;
    void* arg;
    int n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      seen = generation_.load(std::memory_order_relaxed);
      fn = job_fn_;
      arg = job_arg_;
      n = job_threads_;
    }
    if (tid >= n) continue;
    t_inside_job = true;
    fn(arg, tid, n);
    t_inside_job = false;
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace rn
