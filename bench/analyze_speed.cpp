// bench/analyze_speed: analysis timings on a p=113 run, each against a
// reference measured in the same process.
//
//   bench_analyze_speed [RUN_DIR] [--checkpoints N] [--threads T]   whole analyzer set vs forward alone
//   bench_analyze_speed RUN_DIR --on-demand [--checkpoints N]        slider change: head grid (and neuron grids)
//                                                                    from a checkpoint, fast path vs general forward
//   bench_analyze_speed RUN_DIR --disk [--checkpoints N]             artifact size, write and read time per option
//   bench_analyze_speed RUN_DIR --follow-pass                        AnalyzeRun over an analysed run: a pass that
//                                                                    re-validates every artifact vs the idle pass
//   bench_analyze_speed RUN_DIR --progress [--checkpoints N]         progress_measures per checkpoint vs checkpoint
//                                                                    load + general forward alone
// RUN_DIR defaults to runs/modadd_1l/p113_seed999 (train it first).
// --disk and --follow-pass write into RUN_DIR/artifacts: use a copy of a run.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "analyzers/pipeline.h"
#include "analyzers/progress_analyzer.h"
#include "families/modadd_forward.h"
#include "model/hooked_transformer.h"
#include "io/run_dir.h"
#include "model/tensor_io.h"
#include "jobs/thread_policy.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * (v.size() - 1) + 0.5))];
}

std::vector<int> Spread(const std::vector<int>& all, int n) {
  std::vector<int> picked;
  for (int i = 0; i < n && i < int(all.size()); ++i) picked.push_back(all[size_t(i) * all.size() / std::min<size_t>(n, all.size())]);
  return picked;
}

// Slider changes: every epoch is new to the cache, as when the user drags
// the slider (load checkpoint + forward + analyze).
int OnDemand(const fs::path& run_dir, const std::vector<int>& epochs) {
  const auto run = hs::families::LoadRunInfo(run_dir);
  for (const char* analyzer : {"attention_patterns", "attention_freq", "neuron_activations"}) {
    std::vector<double> fast, general;
    hs::analyzers::ModelCache f(2), g(2);
    g.set_fast_path(false);
    for (int rep = 0; rep < 2; ++rep)  // interleaved so that load on the machine hits both alike
      for (int e : epochs) {
        auto t0 = Clock::now();
        f.Compute(*run, analyzer, e);
        fast.push_back(Ms(t0));
        f.Clear();
        t0 = Clock::now();
        g.Compute(*run, analyzer, e);
        general.push_back(Ms(t0));
        g.Clear();
      }
    std::printf("%-19s general forward  median %7.1f ms  p95 %7.1f ms per checkpoint (reference)\n", analyzer,
                Pct(general, 0.5), Pct(general, 0.95));
    std::printf("%-19s fast path        median %7.1f ms  p95 %7.1f ms per checkpoint  (%.1fx faster at p95)\n", analyzer,
                Pct(fast, 0.5), Pct(fast, 0.95), Pct(general, 0.95) / Pct(fast, 0.95));
  }
  return 0;
}

// Size, write and read time of one checkpoint's big artifacts per option.
int Disk(const fs::path& run_dir, const std::vector<int>& epochs) {
  const auto run = hs::families::LoadRunInfo(run_dir);
  struct Option {
    const char* name;
    bool f16;
    hs::io::NpzWriteOptions w;
  };
  const Option options[] = {{"float32 stored", false, {false, 1}}, {"float32 deflate-1", false, {true, 1}},
                            {"float32 deflate-6", false, {true, 6}}, {"float16 stored", true, {false, 1}},
                            {"float16 deflate-1", true, {true, 1}}};
  const fs::path tmp = fs::temp_directory_path() / ("hs_bench_disk_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  hs::analyzers::ModelCache mc(1);
  for (const char* analyzer : {"neuron_activations", "attention_patterns"}) {
    std::vector<hs::io::NpzArchive> arts;
    for (int e : epochs) arts.push_back(mc.Compute(*run, analyzer, e));
    std::printf("%s (%zu checkpoints, per checkpoint):\n", analyzer, arts.size());
    for (const auto& o : options) {
      double bytes = 0, wms = 0, rms = 0;
      for (size_t i = 0; i < arts.size(); ++i) {
        hs::io::NpzArchive a = arts[i];
        if (o.f16)
          for (auto& [k, v] : a)
            if (v.dtype == hs::io::DType::F32) v = hs::model::ToArray(hs::model::FromArray(v).to(torch::kFloat16));
        const fs::path p = tmp / ("a" + std::to_string(i) + ".npz");
        auto t0 = Clock::now();
        hs::io::WriteNpz(p, a, o.w);
        wms += Ms(t0);
        bytes += double(fs::file_size(p));
        t0 = Clock::now();
        hs::io::ReadNpz(p);
        rms += Ms(t0);
      }
      const double n = double(arts.size());
      std::printf("  %-18s %8.2f MB  write %7.1f ms  read %7.1f ms  -> %7.0f MB for 141 checkpoints\n", o.name,
                  bytes / n / 1e6, wms / n, rms / n, bytes / n * 141 / 1e6);
    }
  }
  fs::remove_all(tmp);
  return 0;
}

int FollowPass(const fs::path& run_dir) {
  hs::analyzers::AnalyzeOptions opt;
  auto t0 = Clock::now();
  auto r = hs::analyzers::AnalyzeRun(run_dir, opt);
  std::printf("first pass: %d analysed, %d skipped, %d artifacts validated, %.0f ms\n", r.analysed, r.skipped,
              r.artifacts_validated, Ms(t0));
  fs::remove(run_dir / "artifacts" / "manifest.json");
  t0 = Clock::now();
  r = hs::analyzers::AnalyzeRun(run_dir, opt);
  const double full = Ms(t0);
  std::printf("pass without a manifest (reads and validates every artifact, as before): %d validated, %.0f ms (reference)\n",
              r.artifacts_validated, full);
  std::vector<double> idle;
  for (int i = 0; i < 5; ++i) {
    t0 = Clock::now();
    r = hs::analyzers::AnalyzeRun(run_dir, opt);
    idle.push_back(Ms(t0));
  }
  std::printf("idle pass with the manifest: %d validated, %d summaries written, median %.1f ms (%.0fx faster)\n",
              r.artifacts_validated, r.summaries_written, Pct(idle, 0.5), full / Pct(idle, 0.5));
  return 0;
}

}  // namespace

// progress_measures over n checkpoints against what it cannot avoid: loading
// each checkpoint and the general forward over all p*p inputs.
int Progress(const fs::path& run_dir, const std::vector<int>& epochs) {
  const auto run = hs::families::LoadRunInfo(run_dir);
  const std::vector<int> keys = hs::analyzers::FinalKeyFrequencies(*run);
  hs::model::HookedTransformer model(run->model);
  model->eval();
  const torch::Tensor tokens = hs::families::ModAddInputs(*run);
  at::globalContext().setFlushDenormal(true);
  double ref = 0, pm = 0;
  for (int round = 0; round < 2; ++round) {  // alternate, keep the second
    auto t0 = Clock::now();
    {
      torch::NoGradGuard ng;
      for (int e : epochs) {
        hs::model::LoadCheckpoint(hs::io::RunPaths{run_dir}.Checkpoint(e), *model);
        (void)model->forward(tokens);
      }
    }
    ref = Ms(t0) / epochs.size();
    t0 = Clock::now();
    (void)hs::analyzers::ComputeProgressMeasures(*run, epochs, keys, 1);
    pm = Ms(t0) / epochs.size();
  }
  std::printf("checkpoints timed: %zu, 1 thread, key frequencies %zu\n", epochs.size(), keys.size());
  std::printf("load + general forward        %8.1f ms/checkpoint (reference)\n", ref);
  std::printf("progress_measures             %8.1f ms/checkpoint\n", pm);
  std::printf("ratio progress / reference    %8.2fx\n", pm / ref);
  return 0;
}

int main(int argc, char** argv) {
  fs::path run = "runs/modadd_1l/p113_seed999";
  int n = 8, threads = 1;
  std::string mode;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--checkpoints") && i + 1 < argc) n = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strncmp(argv[i], "--", 2)) mode = argv[i];
    else run = argv[i];
  }
  const std::vector<int> all = hs::io::ListCheckpointEpochs(run);
  if (all.empty()) {
    std::fprintf(stderr, "no checkpoints in %s; run `headscope train` first\n", run.c_str());
    return 1;
  }
  hs::jobs::ConfigureTorchForTraining(1);
  if (mode == "--on-demand") return OnDemand(run, Spread(all, std::max(n, 20)));
  if (mode == "--disk") return Disk(run, Spread(all, n));
  if (mode == "--follow-pass") return FollowPass(run);
  if (mode == "--progress") return Progress(run, Spread(all, n));

  // A scratch run folder with links to n checkpoints spread over training.
  const fs::path tmp = fs::temp_directory_path() / ("hs_bench_an_" + std::to_string(::getpid())) / "modadd_1l" / "v";
  fs::create_directories(tmp / "checkpoints");
  fs::copy_file(run / "config.json", tmp / "config.json");
  const std::vector<int> picked = Spread(all, n);
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
    return Pct(ms, 0.5);
  };
  const double fwd = time_set({"attention_freq"});
  const double full = time_set({});
  std::printf("checkpoints timed: %zu of %zu, threads %d\n", picked.size(), all.size(), threads);
  std::printf("forward + attention_freq only   %8.1f ms/checkpoint (reference)\n", fwd);
  std::printf("stored analyzer set             %8.1f ms/checkpoint (median)\n", full);
  std::printf("ratio stored set / reference    %8.2fx\n", full / fwd);
  std::printf("projected full run (%zu ckpts)  %8.1f s at %d thread(s)\n", all.size(), full * all.size() / 1000.0, threads);
  fs::remove_all(tmp.parent_path().parent_path());
  return 0;
}
