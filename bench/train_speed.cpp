// bench/train_speed: headscope's trainer vs the Python PyTorch reference
// (../shared/bench/modadd_reference.py) on the same machine, in one run.
// Prints the median ms per epoch of both and their ratio.
//
//   build/bench/bench_train_speed [--epochs 50] [--reference PATH]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace fs = std::filesystem;

static double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Median ms per epoch of the headscope trainer over `epochs` timed epochs.
static double TimeHeadscope(int epochs, int warmup, int eval_every) {
  const fs::path dir = fs::temp_directory_path() / ("hs_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  hs::train::TrainConfig cfg;
  cfg.epochs = warmup + epochs;
  cfg.eval_every = eval_every;
  cfg.checkpoint_schedule = "0:1000000";  // only the first and last epochs write checkpoints
  std::vector<double> ms;
  auto last = std::chrono::steady_clock::now();
  hs::train::TrainHooks hooks;
  hooks.on_epoch = [&](const hs::train::TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.epoch > warmup && p.epoch < cfg.epochs) ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
  };
  hs::train::Trainer(cfg, dir).Run(hooks);
  fs::remove_all(dir);
  return Median(ms);
}

int main(int argc, char** argv) {
  int epochs = 50;
  std::string reference = std::string(HS_SOURCE_DIR) + "/../shared/bench/modadd_reference.py";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reference") && i + 1 < argc) reference = argv[++i];
  }
  hs::train::ConfigureTorchForTraining(2);
  const double hs_train2 = TimeHeadscope(epochs, 5, 1000000);
  hs::train::ConfigureTorchForTraining(1);
  const double hs_train = TimeHeadscope(epochs, 5, 1000000);
  const double hs_full = TimeHeadscope(epochs, 5, 1);
  std::printf("headscope  train step, 2 threads  %8.2f ms/epoch\n", hs_train2);
  std::printf("headscope  train step only        %8.2f ms/epoch\n", hs_train);
  std::printf("headscope  train + test eval      %8.2f ms/epoch (what `headscope train` does by default)\n", hs_full);

  // One BLAS thread on both sides: the reference's torch.set_num_threads(1)
  // does not reach OpenBLAS's own pool.
  const std::string cmd = "OPENBLAS_NUM_THREADS=1 /usr/bin/python3 " + reference + " --p 113 --epochs " + std::to_string(epochs) + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  double ref = 0;
  char line[512];
  while (pipe && std::fgets(line, sizeof line, pipe)) {
    if (std::sscanf(line, "ms_per_epoch %lf", &ref) != 1) std::fputs(line, stderr);
  }
  if (pipe) ::pclose(pipe);
  if (ref <= 0) {
    std::fprintf(stderr, "reference run failed (%s); is python3-torch installed?\n", cmd.c_str());
    return 1;
  }
  std::printf("reference  python (all positions) %8.2f ms/epoch\n", ref);
  std::printf("ratio      reference / headscope train step   %.2fx\n", ref / hs_train);
  std::printf("ratio      reference / headscope train + eval %.2fx\n", ref / hs_full);
  return 0;
}
