// bench/analyze_speed: milliseconds per checkpoint for the whole analyzer set
// at p=113 (median), against the shared forward pass alone as the reference,
// and the projected time for every checkpoint of the run.
//
//   build/bench/bench_analyze_speed [RUN_DIR] [--checkpoints N] [--threads T]
// RUN_DIR defaults to runs/modadd_1l/p113_seed999 (train it first).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "analyzers/pipeline.h"
#include "io/run_dir.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  fs::path run = "runs/modadd_1l/p113_seed999";
  int n = 8, threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--checkpoints") && i + 1 < argc) n = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else run = argv[i];
  }
  const std::vector<int> all = hs::io::ListCheckpointEpochs(run);
  if (all.empty()) {
    std::fprintf(stderr, "no checkpoints in %s; run `headscope train` first\n", run.c_str());
    return 1;
  }
  hs::train::ConfigureTorchForTraining(1);
  // A scratch run folder with links to n checkpoints spread over training.
  const fs::path tmp = fs::temp_directory_path() / ("hs_bench_an_" + std::to_string(::getpid())) / "modadd_1l" / "v";
  fs::create_directories(tmp / "checkpoints");
  fs::copy_file(run / "config.json", tmp / "config.json");
  std::vector<int> picked;
  for (int i = 0; i < n && i < int(all.size()); ++i) picked.push_back(all[size_t(i) * all.size() / std::min<size_t>(n, all.size())]);
  for (int e : picked) fs::create_symlink(fs::absolute(hs::io::RunPaths{run}.Checkpoint(e)), hs::io::RunPaths{tmp}.Checkpoint(e));

  // Reference: the forward pass alone (one analyzer that only reads the cache
  // it shares with the others is the cheapest: attention_freq).
  auto time_set = [&](const std::vector<std::string>& names) {
    fs::remove_all(tmp / "artifacts");
    std::vector<double> ms;
    auto last = Clock::now();
    hs::analyzers::AnalyzeOptions opt;
    opt.analyzers = names;
    opt.threads = threads;
    hs::analyzers::AnalyzeRun(tmp, opt, [&](const hs::analyzers::AnalyzeProgress&) {
      const auto now = Clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
      last = now;
    });
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0.0 : ms[ms.size() / 2];
  };
  const double fwd = time_set({"attention_freq"});
  const double full = time_set({});
  std::printf("checkpoints timed: %zu of %zu, threads %d\n", picked.size(), all.size(), threads);
  std::printf("forward + attention_freq only   %8.1f ms/checkpoint (reference)\n", fwd);
  std::printf("whole analyzer set (5)          %8.1f ms/checkpoint (median)\n", full);
  std::printf("ratio whole set / reference     %8.2fx\n", full / fwd);
  std::printf("projected full run (%zu ckpts)  %8.1f s at %d thread(s)\n", all.size(), full * all.size() / 1000.0, threads);
  fs::remove_all(tmp.parent_path().parent_path());
  return 0;
}
