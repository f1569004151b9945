// `headscope train`: the grokking trainer with a terminal progress bar.
#include <memory>
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "io/atomic_file.h"
#include "train/trainer.h"
#include "jobs/thread_policy.h"

namespace hs::app {
namespace {

std::string FormatDuration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}
}  // namespace

std::string DefaultRunDir(const std::string& runs) {
  train::TrainConfig d;
  return (std::filesystem::path(runs) / d.family / d.VariantName()).string();
}

int RunTrain(const TrainOptions& opt) {
  namespace fs = std::filesystem;
  const train::TrainConfig& cfg = opt.cfg;
  try {
    cfg.Validate();
  } catch (const std::invalid_argument& e) {
    std::cerr << "headscope train: " << e.what() << "\n";
    return 2;
  }
  if (opt.threads < 1) {
    std::cerr << "headscope train: --threads must be >= 1\n";
    return 2;
  }
  const fs::path run_dir = fs::path(opt.out) / cfg.family / cfg.VariantName();
  jobs::ConfigureTorchForTraining(opt.threads);
  try {
    train::Trainer trainer(cfg, run_dir);
    InstallStopSignals();
    const bool tty = ::isatty(STDERR_FILENO);
    if (trainer.start_epoch() > 0)
      std::fprintf(stderr, "resuming %s from epoch %d\n", run_dir.c_str(), trainer.start_epoch());
    else if (!opt.quiet)
      std::fprintf(stderr, "training %s for %d epochs\n", run_dir.c_str(), cfg.epochs);
    auto last_print = std::chrono::steady_clock::now() - std::chrono::hours(1);
    int grok90 = -1, grok99 = -1;  // first evaluated epochs past 0.9 / 0.99 test accuracy
    double grok90_s = 0, grok99_s = 0;  // wall seconds since this session started
    bool below90 = false, below99 = false;
    const auto t0 = std::chrono::steady_clock::now();
    train::TrainHooks hooks;
    hooks.should_stop = [] { return StopRequested(); };
    hooks.on_epoch = [&](const train::TrainProgress& p) {
      auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
      // Crossings this session saw happen (a resumed run may start past them).
      if (p.epoch == p.start_epoch) below90 = p.test_acc <= 0.9, below99 = p.test_acc <= 0.99;
      if (below90 && grok90 < 0 && p.test_acc > 0.9) grok90 = p.test_epoch, grok90_s = since();
      if (below99 && grok99 < 0 && p.test_acc > 0.99) grok99 = p.test_epoch, grok99_s = since();
      if (opt.quiet) return;
      const auto now = std::chrono::steady_clock::now();
      const bool last = p.epoch >= p.total_epochs;
      if (!last && now - last_print < (tty ? std::chrono::milliseconds(100) : std::chrono::seconds(10))) return;
      last_print = now;
      const int width = 24;
      const double frac = p.total_epochs ? double(p.epoch) / p.total_epochs : 1.0;
      std::string bar(width, '.');
      for (int i = 0; i < int(frac * width + 0.5) && i < width; ++i) bar[i] = '#';
      std::fprintf(stderr,
                   "%s[%s] epoch %d/%d  loss train %.3e test %.3e  acc train %.3f test %.3f  %.1f ms/epoch  ETA %s%s",
                   tty ? "\r" : "", bar.c_str(), p.epoch, p.total_epochs, p.train_loss, p.test_loss, p.train_acc,
                   p.test_acc, p.ms_per_epoch, FormatDuration(p.eta_seconds).c_str(), tty ? "\x1b[K" : "\n");
      std::fflush(stderr);
    };
    const int reached = trainer.Run(hooks);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty && !opt.quiet) std::fprintf(stderr, "\n");
    if (StopRequested()) {
      std::fprintf(stderr, "stopped at epoch %d; state saved. Run the same command again to resume.\n", reached);
      return 130;
    }
    if (!opt.quiet) {
      std::fprintf(stderr, "done: %s at epoch %d in %s", run_dir.c_str(), reached, FormatDuration(wall).c_str());
      if (grok90 >= 0) std::fprintf(stderr, "; test acc > 0.9 at epoch %d (%s)", grok90, FormatDuration(grok90_s).c_str());
      if (grok99 >= 0) std::fprintf(stderr, ", > 0.99 at epoch %d (%s)", grok99, FormatDuration(grok99_s).c_str());
      std::fprintf(stderr, "\n");
    }
    return 0;
  } catch (const io::IoError& e) {
    std::cerr << "headscope train: " << e.what() << "\n";
    return 1;
  } catch (const std::invalid_argument& e) {
    std::cerr << "headscope train: " << e.what() << "\n";
    return 2;
  }
}

namespace {
void AddTrain(CLI::App& cli) {
  auto tr = std::make_shared<TrainOptions>();
  auto* train = cli.add_subcommand("train", "Train the modular-addition transformer (resumes if the run exists)");
  auto& c = tr->cfg;
  train->add_option("--p", c.p, "Modulus (a prime >= 3)")->capture_default_str();
  train->add_option("--seed", c.model_seed, "Model initialisation seed")->capture_default_str();
  train->add_option("--data-seed", c.data_seed, "Train/test split seed")->capture_default_str();
  train->add_option("--train-frac", c.train_frac, "Fraction of the p*p pairs used for training, in (0, 1)")->capture_default_str();
  train->add_option("--weight-decay", c.weight_decay, "AdamW weight decay")->capture_default_str();
  train->add_option("--lr", c.lr, "AdamW learning rate")->capture_default_str();
  train->add_option("--epochs", c.epochs, "Full-batch training steps")->capture_default_str();
  train->add_flag("--grokfast", c.grokfast, "Grokfast-EMA gradient filter (groks in far fewer epochs)");
  train->add_option("--grokfast-alpha", c.grokfast_alpha, "Grokfast EMA decay")->capture_default_str();
  train->add_option("--grokfast-lambda", c.grokfast_lambda, "Grokfast amplification")->capture_default_str();
  train->add_option("--checkpoints", c.checkpoint_schedule,
                    "Checkpoint schedule FROM:EVERY,... (dense early, sparse late)")->capture_default_str();
  train->add_option("--eval-every", c.eval_every, "Evaluate the test set every N epochs")->capture_default_str();
  train->add_option("--d-model", c.d_model, "Residual width")->capture_default_str();
  train->add_option("--n-heads", c.n_heads, "Attention heads")->capture_default_str();
  train->add_option("--d-head", c.d_head, "Head width")->capture_default_str();
  train->add_option("--d-mlp", c.d_mlp, "MLP width")->capture_default_str();
  tr->threads = jobs::DefaultTrainingThreads();
  train->add_option("--threads", tr->threads, "Trainer threads (default: the machine's cores, at most 2)")->capture_default_str();
  train->add_option("--out", tr->out, "Runs folder; the run goes to OUT/modadd_1l/<variant>")->capture_default_str();
  train->add_flag("--quiet", tr->quiet, "No progress bar");

  train->callback([tr] { ExitWith(RunTrain(*tr)); });
}
const bool kTrainRegistered = RegisterCommand({"train", 10, AddTrain});
}  // namespace

}  // namespace hs::app
