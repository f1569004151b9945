// `headscope analyze RUN_DIR`: every analyzer of the family over every
// checkpoint, with a progress bar; resumable; --follow tracks a live run.
#include <memory>
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "analyzers/pipeline.h"
#include "commands.h"
#include "io/atomic_file.h"
#include "families/miscope_run.h"
#include "jobs/thread_policy.h"

namespace hs::app {
int RunAnalyze(const AnalyzeOptions& opt) {
  analyzers::AnalyzeOptions ao;
  ao.analyzers = opt.analyzers;
  ao.threads = opt.threads;
  ao.follow = opt.follow;
  jobs::ConfigureTorchForTraining(1);
  InstallStopSignals();
  const bool tty = ::isatty(STDERR_FILENO);
  auto last = std::chrono::steady_clock::now() - std::chrono::hours(1);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const std::filesystem::path run_dir = families::ResolveRunDir(opt.run_dir);  // a MIScope variant: its side folder
    if (run_dir != std::filesystem::path(opt.run_dir) && !opt.quiet)
      std::fprintf(stderr, "%s is a MIScope variant: headscope's analyses go to %s\n", opt.run_dir.c_str(),
                   run_dir.c_str());
    const auto report = analyzers::AnalyzeRun(
        run_dir, ao,
        [&](const analyzers::AnalyzeProgress& p) {
          if (opt.quiet) return;
          const auto now = std::chrono::steady_clock::now();
          if (p.done < p.total && now - last < (tty ? std::chrono::milliseconds(100) : std::chrono::seconds(10))) return;
          last = now;
          const int width = 24;
          std::string bar(width, '.');
          for (int i = 0; i < width * p.done / std::max(1, p.total); ++i) bar[i] = '#';
          const double eta = p.ms_per_checkpoint * (p.total - p.done) / 1000.0;
          std::fprintf(stderr, "%s[%s] %d/%d checkpoints%s%s  epoch %d  %.0f ms/checkpoint  ETA %.0f s%s",
                       tty ? "\r" : "", bar.c_str(), p.done, p.total, p.phase.empty() ? "" : ", ",
                       p.phase.c_str(), p.epoch, p.ms_per_checkpoint, eta,
                       tty ? "\x1b[K" : "\n");
        },
        [] { return StopRequested(); });
    if (tty && !opt.quiet) std::fprintf(stderr, "\n");
    for (const auto& w : report.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!opt.quiet)
      std::fprintf(stderr, "analysed %d checkpoints, %d already up to date, in %.1f s; artifacts in %s/artifacts\n",
                   report.analysed, report.skipped, s, run_dir.c_str());
    return StopRequested() ? 130 : 0;
  } catch (const io::IoError& e) {
    std::cerr << "headscope analyze: " << e.what() << "\n";
    return 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "headscope analyze: " << e.what() << "\n";
    return 2;
  }
}

namespace {
void AddAnalyze(CLI::App& cli) {
  auto an = std::make_shared<AnalyzeOptions>();
  auto* analyze = cli.add_subcommand("analyze", "Run the family's analyzers over every checkpoint of a run");
  analyze->add_option("run_dir", an->run_dir, "Run folder, e.g. runs/modadd_1l/p113_seed999")->required();
  analyze->add_option("--analyzers", an->analyzers, "Comma-separated subset (default: all of the family)")->delimiter(',');
  analyze->add_option("--threads", an->threads, "Checkpoints analysed in parallel")->capture_default_str();
  analyze->add_flag("--follow", an->follow, "Keep analysing new checkpoints of a run that is still training");
  analyze->add_flag("--quiet", an->quiet, "No progress bar");

  analyze->callback([an] { ExitWith(RunAnalyze(*an)); });
}
const bool kAnalyzeRegistered = RegisterCommand({"analyze", 20, AddAnalyze});
}  // namespace

}  // namespace hs::app
