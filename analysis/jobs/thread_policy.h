// Who gets the cores. Three pools compete on a small machine: torch's
// intra-op (OpenMP) pool, OpenBLAS's pthread pool, and headscope's own
// threads (the trainer's kernel, the job lanes). Their spinning workers take
// turns badly, so the choice is made here, in one place, per kind of work:
// training, language-model inference, and background jobs (niceness).
#pragma once

namespace hs::jobs {

// Sets torch's intra-op threads and flush-to-zero for denormals (weight decay
// drives many weights subnormal; without FTZ late epochs run ~2x slower).
void ConfigureTorchForTraining(int threads);
// The `threads` of the last ConfigureTorchForTraining (1 before any).
int TrainingThreads();
// The machine's cores, at most 2 (the kernel's split: one thread per key
// slot): what `headscope train` and the explorer use unless told.
int DefaultTrainingThreads();

// For language-model forwards (long sequences, big GEMMs): torch's own
// intra-op threads 1, OpenBLAS `blas_threads`. With both pools at 2 threads
// on 2 cores, libgomp's spinning workers and OpenBLAS's threads take turns
// and a GPT-2-small forward ran 3x slower (bench/lm_forward.cpp).
void ConfigureTorchForInference(int blas_threads);

// Raises the calling thread's nice value by `nice_increment` (Linux; at most
// 19): it then takes the cores only when others leave them.
void LowerThreadPriority(int nice_increment);

// The explorer's inference setting, switched only while nothing computes
// (OpenBLAS's thread count is process-wide): two OpenBLAS threads for
// language-model forwards when the trainer is idle, one while it trains.
class InferenceThreads {
 public:
  // Call once per frame. `lm_shown`: the language-model workspace is the
  // active one; `training`: the trainer runs; `idle`: no job computes.
  void Update(bool lm_shown, bool training, bool idle);

 private:
  int m_blas = 1;  // main() configures torch for training with one thread
};

}  // namespace hs::jobs
