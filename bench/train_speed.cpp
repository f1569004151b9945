// bench/train_speed: headscope's trainer vs the Python PyTorch reference
// (../shared/bench/modadd_reference.py) on the same machine, in one run,
// with one thread per side and with two.
//
//   build/bench/bench_train_speed [--epochs 60] [--reference PATH] [--rounds 2]
//
// "train step": ms per epoch of the forward, backward and AdamW step alone
// (median; no test evaluation, no checkpoints). "headscope train": what the
// command does by default (test set every 10 epochs and at checkpoints,
// checkpoints and train state on the default schedule, metrics.csv), as the
// mean over every epoch of the window, writes included. Rounds alternate
// headscope and the reference so that the machine's drift hits both.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "train/trainer.h"
#include "jobs/thread_policy.h"

namespace fs = std::filesystem;

static double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Timing {
  double step_median = 0;   // ms per epoch, median
  double mean = 0;          // ms per epoch, mean over all timed epochs
};

// The headscope trainer over `epochs` timed epochs after `warmup`.
static Timing TimeHeadscope(int epochs, int warmup, bool defaults) {
  const fs::path dir = fs::temp_directory_path() / ("hs_bench_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  hs::train::TrainConfig cfg;
  cfg.epochs = warmup + epochs + 1;
  if (!defaults) {
    cfg.eval_every = 1000000;
    cfg.checkpoint_schedule = "0:1000000";  // only the first and last epochs write checkpoints
  }
  std::vector<double> ms;
  auto last = std::chrono::steady_clock::now();
  hs::train::TrainHooks hooks;
  hooks.on_epoch = [&](const hs::train::TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.epoch > warmup && p.epoch <= warmup + epochs) ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
  };
  hs::train::Trainer(cfg, dir).Run(hooks);
  fs::remove_all(dir);
  return {Median(ms), ms.empty() ? 0 : std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size()};
}

static double TimeReference(const std::string& reference, int epochs, int threads) {
  // OPENBLAS_NUM_THREADS too: the reference's torch.set_num_threads does not
  // reach OpenBLAS's own pool.
  const std::string cmd = "OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " /usr/bin/python3 " + reference +
                          " --p 113 --epochs " + std::to_string(epochs) + " --threads " + std::to_string(threads) +
                          " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  double ref = 0;
  char line[512];
  while (pipe && std::fgets(line, sizeof line, pipe)) {
    if (std::sscanf(line, "ms_per_epoch %lf", &ref) != 1) std::fputs(line, stderr);
  }
  if (pipe) ::pclose(pipe);
  if (ref <= 0) {
    std::fprintf(stderr, "reference run failed (%s); is python3-torch installed?\n", cmd.c_str());
    std::exit(1);
  }
  return ref;
}

int main(int argc, char** argv) {
  int epochs = 60, rounds = 2;
  std::string reference = std::string(HS_SOURCE_DIR) + "/../shared/bench/modadd_reference.py";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reference") && i + 1 < argc) reference = argv[++i];
  }
  for (int threads : {1, 2}) {
    std::vector<double> step, full, ref;
    for (int r = 0; r < rounds; ++r) {
      hs::jobs::ConfigureTorchForTraining(threads);
      step.push_back(TimeHeadscope(epochs, 5, false).step_median);
      full.push_back(TimeHeadscope(epochs, 5, true).mean);
      ref.push_back(TimeReference(reference, epochs, threads));
    }
    const double s = Median(step), f = Median(full), rf = Median(ref);
    std::printf("%d thread%s per side (median of %d rounds)\n", threads, threads > 1 ? "s" : "", rounds);
    std::printf("  headscope  train step            %8.2f ms/epoch\n", s);
    std::printf("  headscope  headscope train       %8.2f ms/epoch (defaults: test every 10 epochs and at checkpoints, writes)\n", f);
    std::printf("  reference  python, all positions %8.2f ms/epoch\n", rf);
    std::printf("  ratio      reference / train step      %6.2fx\n", rf / s);
    std::printf("  ratio      reference / headscope train %6.2fx\n", rf / f);
    std::fflush(stdout);
  }
  return 0;
}
