// Thread policy (see thread_policy.h).
#include "jobs/thread_policy.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <thread>

namespace hs::jobs {

namespace {
std::atomic<int> g_training_threads{1};

void SetBlasThreads(int n) {
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(std::max(1, n));
}
}  // namespace

int TrainingThreads() { return g_training_threads.load(); }

int DefaultTrainingThreads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 2u));
}

namespace {
void KeepFreedMemory() {
  if (std::getenv("HS_NO_MALLOPT")) return;  // (measurement switch)
  // Keep freed tensor memory in the heap instead of returning it to the OS:
  // a training step, and each layer of a forward, allocates and frees
  // tensors of the same sizes, and on this VM faulting fresh pages back in
  // cost more than the arithmetic.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_MMAP_MAX, 0);  // tensors above the 32 MB mmap cap too (a p=113 activation cache has 80 MB ones)
  // Worker threads would get their own arenas, whose big blocks come and go
  // with the OS again (a forward pass on a job thread measured 5x slower).
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}
}  // namespace

void ConfigureTorchForTraining(int threads) {
  KeepFreedMemory();
  // The trainer's kernel (train/modadd_kernel.h) runs `threads` threads of
  // its own, each calling single-threaded GEMMs on its share. Torch's OpenMP
  // pool and OpenBLAS's pthread pool stay at one thread: their workers spin
  // (sched_yield) between calls and took the cores from the kernel's loops
  // (25% of the time in the scheduler on 2 cores).
  g_training_threads = std::max(1, threads);
  at::set_num_threads(1);
  SetBlasThreads(1);
  at::globalContext().setFlushDenormal(true);
}

void ConfigureTorchForInference(int blas_threads) {
  KeepFreedMemory();
  at::set_num_threads(1);
  SetBlasThreads(blas_threads);
}

void LowerThreadPriority(int nice_increment) {
  if (nice_increment <= 0) return;
  const pid_t tid = pid_t(::syscall(SYS_gettid));
  (void)::setpriority(PRIO_PROCESS, tid, std::min(19, ::getpriority(PRIO_PROCESS, tid) + nice_increment));
}

void InferenceThreads::Update(bool lm_shown, bool training, bool idle) {
  if (training) m_blas = 1;  // the trainer set OpenBLAS to one thread
  const int want = lm_shown && !training ? 2 : 1;
  if (want == m_blas || !idle || training) return;
  ConfigureTorchForInference(want);
  m_blas = want;
}

}  // namespace hs::jobs
